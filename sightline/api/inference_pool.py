"""Face inference for API requests in worker processes or Ray actors: pixels in, faces with embeddings out.

``sightline serve --inference-workers N`` (``SIGHTLINE_INFERENCE_WORKERS``) moves detection, quality and
embedding out of the server process, so that several cores work on requests without sharing one
interpreter. Each worker builds one :class:`~sightline.engine.FaceEngine` (same backend and model files
as the server) when it starts and keeps it. A worker receives decoded pixels only and returns the
faces it found (box, landmarks, quality, embedding); it keeps nothing and writes nothing to disk. The
decode (with its size and decompression-bomb checks), the gallery search, the decision and the audit
row stay in the server process.

With ``--cluster`` (``SIGHTLINE_CLUSTER``) the workers are Ray actors on the cluster instead of local
processes. A worker that dies is replaced and the request is retried once; if that fails too the
request gets ``503 inference_unavailable``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing import get_context
from typing import Any, Protocol

import numpy as np

from sightline.api.errors import ApiError
from sightline.errors import SightlineError
from sightline.vision.faces.quality import assess_quality
from sightline.vision.faces.types import Face

log = logging.getLogger("sightline.api")
MODES = ("detect", "embed", "main")  # all faces; all faces embedded; the largest face embedded
Timings = dict[str, float]  # seconds per stage, measured in the worker: "detect", "embed"
WARM_TIMEOUT_S = 180.0


def infer(engine: Any, pixels: np.ndarray, mode: str) -> tuple[list[Face], Timings]:
    """The work of one request in a worker, timed per stage.

    ``embed`` gives the same faces as ``FaceEngine.detect_array(pixels, embed=True)``; ``main`` the largest
    face only, quality-assessed and embedded (as ``sightline.api.inference.main_face``), or none.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    started = time.perf_counter()
    faces = engine.detector.detect(pixels)
    if mode == "main" and faces:
        faces = [max(faces, key=lambda f: f.width * f.height)]
    for face in faces:
        face.quality = assess_quality(pixels, face)
    detected = time.perf_counter()
    timings = {"detect": detected - started}
    if mode != "detect" and faces:
        for face, vector in zip(faces, engine.embedder.embed(pixels, faces), strict=True):
            face.embedding = vector
        timings["embed"] = time.perf_counter() - detected
    return faces, timings


class InferencePool(Protocol):
    """What the routes need from a pool (processes or Ray actors)."""

    workers: int
    restarts: int
    completed: int

    def warm(self) -> None:
        """Start every worker and load its models now (blocking; call it from a thread)."""

    async def faces(self, pixels: np.ndarray, mode: str) -> tuple[list[Face], Timings]:
        """Run :func:`infer` on a worker; a dead worker is replaced and the call retried once."""

    def close(self) -> None:
        """Stop the workers."""


def unavailable(reason: str) -> ApiError:
    """The error a request gets when no worker could run it, even after a retry."""
    return ApiError(503, "inference_unavailable", f"face inference worker failed ({reason}); retry in a moment")


# -- worker processes --------------------------------------------------------------------------------------------

_ENGINE: Any = None  # the worker process's FaceEngine, built once by _start_worker


def build_engine(backend: str, models_dir: str | None, threads: int | None) -> Any:
    """A loaded FaceEngine for a worker; ``threads`` caps onnxruntime's, OpenCV's and BLAS's threads in this
    process (None: their own choice)."""
    from sightline.engine import FaceEngine

    if threads is not None:
        limit_threads(threads)
    engine = FaceEngine(backend, models_dir=models_dir)
    if threads is not None:
        engine.runtime = replace(engine.runtime, threads=threads)
    return engine.load()


def limit_threads(threads: int) -> None:
    """Cap this worker process's thread pools: N workers on N cores must not each start a pool per core
    (idle BLAS/OpenMP threads spin, which oversubscribes a small, shared machine)."""
    import cv2

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)  # libraries loaded from now on
    cv2.setNumThreads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: only the already-loaded BLAS keeps its default
        return
    threadpool_limits(threads)


def _start_worker(backend: str, models_dir: str | None, threads: int | None, parent: int) -> None:
    """Process-pool initializer: ignore Ctrl-C (the server shuts the pool down), exit with the server, load once."""
    global _ENGINE
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="parent-watch").start()
    _ENGINE = build_engine(backend, models_dir, threads)


def _exit_with_parent(parent: int) -> None:
    """A worker whose server died (even by SIGKILL) exits instead of lingering."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _run(pixels: np.ndarray, mode: str) -> tuple[list[Face], Timings] | tuple[str, str, str]:
    """Task body in a worker. An expected error comes back as (class name, code, message): codes survive."""
    try:
        return infer(_ENGINE, pixels, mode)
    except SightlineError as exc:
        return type(exc).__name__, exc.code, exc.message


def _pid() -> int:
    time.sleep(0.2)  # long enough that another idle worker takes the next warm-up task
    return os.getpid()


def _unpack(result: Any) -> tuple[list[Face], Timings]:
    """A worker's answer, or the SightlineError it reported raised again here with the same class and code."""
    if isinstance(result, tuple) and len(result) == 3 and isinstance(result[0], str):
        import sightline.errors as errors

        kind = getattr(errors, result[0], None)
        if not (isinstance(kind, type) and issubclass(kind, SightlineError)):
            kind = SightlineError
        raise kind(result[2], code=result[1])
    return result


class ProcessInferencePool:
    """``workers`` local processes (spawned, not forked: the server has threads), one FaceEngine each."""

    def __init__(self, workers: int, backend: str, models_dir: str | None, *, threads: int | None = 1) -> None:
        if workers < 1:
            raise ValueError("a process pool needs at least one worker")
        self.workers, self.restarts, self.completed = workers, 0, 0
        self._args = (backend, models_dir, threads, os.getpid())
        self._lock = threading.Lock()
        self._closed = False
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"), initializer=_start_worker,
                                   initargs=self._args)

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers (for operators and tests)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(processes)

    def warm(self) -> None:
        """Start all workers and wait until each has loaded its models."""
        seen: set[int] = set()
        deadline = time.monotonic() + WARM_TIMEOUT_S
        while len(seen) < self.workers and time.monotonic() < deadline:
            futures = [self._executor.submit(_pid) for _ in range(self.workers)]
            seen.update(future.result(timeout=WARM_TIMEOUT_S) for future in futures)

    async def faces(self, pixels: np.ndarray, mode: str) -> tuple[list[Face], Timings]:
        """Faces in ``pixels`` from a worker; a broken pool (a worker died) is replaced and the call retried once."""
        reason = "worker process died"
        for _ in range(2):
            if self._closed:
                raise unavailable("the server is shutting down")
            executor = self._executor
            try:
                result = await asyncio.wrap_future(executor.submit(_run, pixels, mode))
            except BrokenProcessPool:
                self._replace(executor)
                continue
            except RuntimeError as exc:  # submit after shutdown (closing, or replaced under our feet)
                reason = str(exc)
                continue
            self.completed += 1
            return _unpack(result)
        raise unavailable(reason)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Swap in a fresh pool once, however many requests saw the same broken one."""
        with self._lock:
            if self._executor is not broken or self._closed:
                return
            log.warning("an inference worker died: starting a new pool of %d", self.workers)
            self._executor = self._new_executor()
            self.restarts += 1
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (running tasks are abandoned; the server is going away)."""
        with self._lock:
            self._closed = True
            executor = self._executor
        executor.shutdown(wait=True, cancel_futures=True)


# -- Ray actors --------------------------------------------------------------------------------------------------

class FaceWorker:
    """A Ray actor holding one FaceEngine (wrapped with ``ray.remote`` by :class:`RayInferencePool`)."""

    def __init__(self, backend: str, models_dir: str | None, threads: int | None) -> None:
        self.engine = build_engine(backend, models_dir, threads)

    def ping(self) -> int:
        return os.getpid()

    def infer(self, pixels: np.ndarray, mode: str) -> tuple[list[Face], Timings] | tuple[str, str, str]:
        try:
            return infer(self.engine, pixels, mode)
        except SightlineError as exc:
            return type(exc).__name__, exc.code, exc.message


class RayInferencePool:
    """``workers`` FaceWorker actors on the Ray cluster at ``address`` (one CPU each; Ray restarts dead ones)."""

    def __init__(self, address: str, workers: int, backend: str, models_dir: str | None, *,
                 threads: int | None = 1) -> None:
        from sightline.cluster.runtime import connect

        self._ray = connect(address)
        self.workers, self.restarts, self.completed = max(1, workers), 0, 0
        actor = self._ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=0)(FaceWorker)
        self._actors = [actor.remote(backend, models_dir, threads) for _ in range(self.workers)]
        self._busy = [0] * self.workers
        self._turn = itertools.count()

    def warm(self) -> None:
        """Wait until every actor has loaded its models."""
        self._ray.get([a.ping.remote() for a in self._actors], timeout=WARM_TIMEOUT_S)

    def _pick(self) -> int:
        """The least busy actor (ties in turn)."""
        start = next(self._turn) % self.workers
        order = [(start + i) % self.workers for i in range(self.workers)]
        return min(order, key=lambda i: self._busy[i])

    async def faces(self, pixels: np.ndarray, mode: str) -> tuple[list[Face], Timings]:
        """Faces from an actor; an actor that died is restarted by Ray and the call retried once (elsewhere)."""
        from ray.exceptions import RayActorError, WorkerCrashedError

        reason = "actor died"
        for _ in range(2):
            index = self._pick()
            self._busy[index] += 1
            try:
                result = await self._actors[index].infer.remote(pixels, mode)
            except (RayActorError, WorkerCrashedError) as exc:
                self.restarts += 1
                reason = type(exc).__name__
                await self._until_ready(index)
                continue
            finally:
                self._busy[index] -= 1
            self.completed += 1
            return _unpack(result)
        raise unavailable(reason)

    async def _until_ready(self, index: int, timeout: float = 60.0) -> None:
        """Wait (bounded) for a restarting actor to answer again: Ray refuses calls while it reloads its models."""
        from ray.exceptions import RayActorError

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                await self._actors[index].ping.remote()
                return
            except RayActorError:
                await asyncio.sleep(0.5)

    def close(self) -> None:
        """Kill the actors (the cluster keeps running)."""
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []


def create_pool(workers: int, cluster: str | None, backend: str, models_dir: str | None) -> InferencePool | None:
    """The pool the settings ask for: None for ``workers == 0`` (inference in the server's threads, as before)."""
    if workers <= 0:
        return None
    if cluster:
        return RayInferencePool(cluster, workers, backend, models_dir)
    return ProcessInferencePool(workers, backend, models_dir)
