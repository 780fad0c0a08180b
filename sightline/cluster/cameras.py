"""Camera workers as Ray actors: ``sightline serve --cluster ADDRESS``.

The server keeps one :class:`RayCameraWorker` per camera. It is the camera's supervisor on the server side and
looks like a local :class:`~sightline.video.worker.CameraWorker` to the rest of the server (status, live view,
stop), but the camera itself runs in a :class:`CameraActor` placed on the cluster (spread over the nodes, one
CPU each by default). The actor opens the same store (PostgreSQL, the system of record) and data home, follows
the gallery's change feed (an erasure reaches its in-memory index too), runs the ordinary camera worker and
writes its events straight to the store.

When the actor's node dies, the supervisor starts a new actor after the service's restart backoff; Ray places
it on a node that is alive. The run keeps its key and, for a file camera, its video start time, so the new
actor makes the same events with the same ids (:mod:`sightline.events.ids`): a file camera is read again from
its start and every event already stored is skipped, so nothing is lost or stored twice. A live stream
continues from the moment the new actor connects.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sightline.cluster.runtime import connect, require_ray
from sightline.errors import ConfigError
from sightline.video.config import CameraConfig, SightlineConfig, redact_url
from sightline.video.worker import CameraStatus, ServiceOptions

if TYPE_CHECKING:
    from sightline.video.service import CameraService

log = logging.getLogger(__name__)

POLL_S = 0.5  # how often the supervisor checks its actor
STATUS_TIMEOUT_S = 5.0
STOP_WAIT_S = 10.0
ACTOR_CONCURRENCY = 4  # run() blocks one thread; status and live-view calls use the others
DEFAULT_CAMERA_CPUS = 1.0


@dataclass(frozen=True)
class CameraRun:
    """One run of one camera, as its actor needs it (sent to the cluster; the same for every restart)."""

    name: str
    config: CameraConfig
    service_config: SightlineConfig
    home: str
    db_url: str | None
    backend: str
    models_dir: str | None
    index_kind: str
    snapshot_dir: str
    options: ServiceOptions
    run_key: str
    video_start: datetime | None  # a file camera's events are timed on the video (replayable); None: wall clock


class CameraActor:
    """Runs one camera on a cluster node (made a Ray actor by :func:`actor_class`)."""

    def __init__(self, run: CameraRun) -> None:
        from sightline.cluster.runtime import node_of_current_worker
        from sightline.engine import FaceEngine
        from sightline.events.sink import EventSink
        from sightline.gallery.change_feed import ChangeFeed, ChangeFollower
        from sightline.gallery.gallery import Gallery
        from sightline.video.service import event_outputs
        from sightline.video.worker import CameraWorker

        threads = _threads_for_this_actor()
        engine = FaceEngine(run.backend, models_dir=run.models_dir, threads=threads)
        self.gallery = Gallery.open(run.home, run.db_url, engine, index_kind=run.index_kind, create_key=False)
        self.follower = ChangeFollower(ChangeFeed(self.gallery.ctx, self.gallery.search)).start()
        mqtt, webhooks = event_outputs(run.service_config)
        self.config = run.service_config
        self.options = replace(run.options, inference_threads=threads)
        self.sink = EventSink(self.gallery.sessions, mqtt=mqtt, webhooks=webhooks, run_key=run.run_key)
        self.snapshot_dir = Path(run.snapshot_dir)
        self.stopping = threading.Event()
        self.worker = CameraWorker(run.name, run.config, self, stop=threading.Event(), video_start=run.video_start)
        self.node = node_of_current_worker()

    def run(self) -> dict[str, Any]:
        """Run the camera until its file ends, it fails for good or it is stopped; returns its last status."""
        try:
            self.worker.start()
            self.worker.thread.join()
        finally:
            self.sink.close(timeout=2.0)
            self.follower.stop()
        return self.status()

    def stop(self) -> None:
        """Ask the camera to stop (``run`` then returns)."""
        self.stopping.set()
        self.worker.request_stop()

    def status(self) -> dict[str, Any]:
        """The worker's status with the node it runs on and the sink's counters."""
        return {**self.worker.to_dict(), **self.node, "frame_seq": self.worker.frame_seq,
                "sink": self.sink.stats()}

    def latest_jpeg(self) -> tuple[int, bytes] | None:
        """The live view's latest frame (unknown faces blurred), as for a local camera."""
        return self.worker.latest_jpeg()


def _threads_for_this_actor() -> int:
    """Threads for this actor's libraries: the whole CPUs Ray gave it (at least one), applied to OpenCV and FAISS
    now and to onnxruntime through the engine; more threads than CPUs would only fight over them."""
    import cv2

    from sightline.gallery.index import set_threads

    assigned = require_ray().get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    threads = max(1, int(assigned))
    cv2.setNumThreads(threads)
    set_threads(threads)
    return threads


_actor_class: Any = None


def actor_class() -> Any:
    """:class:`CameraActor` as a Ray actor class (made once per process)."""
    global _actor_class
    if _actor_class is None:
        _actor_class = require_ray().remote(CameraActor)
    return _actor_class


def camera_run(name: str, config: CameraConfig, service: CameraService) -> CameraRun:
    """A new run of camera ``name`` of ``service`` (a fresh key; a file camera's video starts now)."""
    gallery: Any = service.gallery
    db_url = gallery.db.url.render_as_string(hide_password=False)
    models = gallery.faces.store.models_dir
    return CameraRun(name=name, config=config, service_config=service.config, home=str(gallery.home),
                     db_url=db_url, backend=gallery.faces.backend, models_dir=str(models) if models else None,
                     index_kind=gallery.index_kind, snapshot_dir=str(service.snapshot_dir), options=service.options,
                     run_key=uuid.uuid4().hex,
                     video_start=datetime.now(UTC) if config.source_kind == "file" else None)


def camera_cpus() -> float:
    """CPUs each camera actor asks of the cluster (``$SIGHTLINE_CAMERA_CPUS``, default 1; 0.5 fits two per CPU)."""
    try:
        value = float(os.environ.get("SIGHTLINE_CAMERA_CPUS") or DEFAULT_CAMERA_CPUS)
    except ValueError:
        raise ConfigError("SIGHTLINE_CAMERA_CPUS must be a number of CPUs, e.g. 1 or 0.5") from None
    if not 0 < value <= 64:
        raise ConfigError("SIGHTLINE_CAMERA_CPUS must be above 0 and at most 64")
    return value


def ray_worker_factory(address: str) -> Callable[..., RayCameraWorker]:
    """The camera service's worker factory for the cluster at ``address`` (joined on the first camera)."""
    cpus = camera_cpus()

    def make(name: str, camera: CameraConfig, service: CameraService, *,
             stop: threading.Event | None = None) -> RayCameraWorker:
        connect(address)
        return RayCameraWorker(name, camera, service, stop=stop, cpus=cpus)

    return make


class RayCameraWorker:
    """The server side of one camera on the cluster: starts its actor, watches it, restarts it elsewhere."""

    def __init__(self, name: str, config: CameraConfig, service: CameraService, stop: threading.Event | None = None,
                 *, cpus: float = DEFAULT_CAMERA_CPUS) -> None:
        self.name, self.config, self.service, self.cpus = name, config, service, cpus
        self.run = camera_run(name, config, service)
        self.status = CameraStatus.STARTING
        self.last_error: str | None = None
        self.restarts = 0
        self.nodes: list[str] = []  # every node the camera ran on, in order
        self._stop = stop if stop is not None else service.stopping
        self._actor: Any = None
        self._last: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._supervise, name=f"sightline-ray-camera-{name}", daemon=True)

    # -- supervision ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def request_stop(self) -> None:
        if self._stop is not self.service.stopping:
            self._stop.set()
        actor = self._actor
        if actor is not None:
            try:
                actor.stop.remote()
            except Exception:  # the actor is gone already
                log.debug("camera %s: stop call failed", self.name, exc_info=True)

    def _supervise(self) -> None:
        ray = require_ray()
        while not self._stop.is_set():
            try:
                final = self._run_actor(ray)
            except Exception as exc:  # the actor or its node died (or could not start): start it again elsewhere
                self.restarts += 1
                self.last_error = f"{type(exc).__name__}: {_first_line(exc)}"
                log.warning("camera %s: its actor failed (%s); restart %d", self.name, self.last_error, self.restarts)
                self._actor = None
                with self._lock:  # the dead actor's figures are not the new one's; the nodes list keeps its node
                    self._last = {"events": self._last.get("events", {})}
                self.status = CameraStatus.RESTARTING
                self._stop.wait(self.service.options.restart_backoff.delay(self.restarts))
                continue
            with self._lock:
                self._last = final
            status = _status(final.get("status"), CameraStatus.STOPPED)
            ended = (CameraStatus.FINISHED, CameraStatus.FAILED, CameraStatus.STOPPED)
            self.status = status if status in ended else CameraStatus.STOPPED
            return
        self.status = CameraStatus.STOPPED

    def _run_actor(self, ray: Any) -> dict[str, Any]:
        actor = actor_class().options(num_cpus=self.cpus, max_concurrency=ACTOR_CONCURRENCY, max_restarts=0,
                                      scheduling_strategy="SPREAD").remote(self.run)
        self._actor = actor
        done = actor.run.remote()
        self.status = CameraStatus.CONNECTING
        try:
            while True:
                if self._stop.is_set():
                    return self._stop_actor(ray, actor, done)
                ready, _ = ray.wait([done], timeout=POLL_S)
                if ready:
                    final = ray.get(done)
                    _kill(ray, actor)  # its CPU goes back to the cluster
                    self._actor = None
                    return final
                self._poll(ray, actor)
        finally:
            if self._stop.is_set() or self._actor is not actor:
                _kill(ray, actor)

    def _poll(self, ray: Any, actor: Any) -> None:
        try:
            status = ray.get(actor.status.remote(), timeout=STATUS_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            return  # still loading its models
        with self._lock:
            self._last = status
        if status.get("node_id") and (not self.nodes or self.nodes[-1] != status["node_id"]):
            self.nodes.append(status["node_id"])
        self.status = _status(status.get("status"), self.status)

    def _stop_actor(self, ray: Any, actor: Any, done: Any) -> dict[str, Any]:
        try:
            actor.stop.remote()
            ready, _ = ray.wait([done], timeout=STOP_WAIT_S)
            final = ray.get(ready[0]) if ready else dict(self._last)
        except Exception:
            final = dict(self._last)
        _kill(ray, actor)
        self._actor = None
        return {**final, "status": CameraStatus.STOPPED.value}

    # -- reporting --------------------------------------------------------------------------------------
    @property
    def frame_seq(self) -> int:
        with self._lock:
            return int(self._last.get("frame_seq", 0))

    @property
    def frame_size(self) -> tuple[int, int] | None:
        with self._lock:
            size = self._last.get("frame_size")
        return (int(size[0]), int(size[1])) if size else None

    def to_dict(self) -> dict[str, Any]:
        """The actor's last status (as a local camera's), with the supervisor's state, node and restarts."""
        with self._lock:
            last = dict(self._last)
        out: dict[str, Any] = {
            "name": self.name, "kind": self.config.source_kind, "url": redact_url(self.config.url), "frames": 0,
            "fps_target": self.config.fps, "fps": 0.0, "fps_average": 0.0, "skipped_fraction": 0.0,
            "stage_ms_per_frame": {}, "events": {}, "frame_size": None,
            "face_recognition": self.config.face_recognition.enabled, "started_at": None, "last_frame_at": None,
            "finished_at": None, "has_frame": False, "node_id": None, "node_address": None,
        }
        out.update({k: v for k, v in last.items() if k not in ("frame_seq", "sink")})
        out.update(status=self.status.value, restarts=self.restarts, runner="ray", nodes=list(self.nodes),
                   run_key=self.run.run_key,
                   last_error=self.last_error if self.status is CameraStatus.RESTARTING else
                   (last.get("last_error") or self.last_error),
                   duplicates_skipped=int(last.get("sink", {}).get("duplicates", 0)))
        return out

    def latest_jpeg(self) -> tuple[int, bytes] | None:
        """The actor's latest frame for the live view (None while it starts or restarts)."""
        actor = self._actor
        if actor is None:
            return None
        ray = require_ray()
        try:
            return ray.get(actor.latest_jpeg.remote(), timeout=STATUS_TIMEOUT_S)
        except Exception:
            return None


def _kill(ray: Any, actor: Any) -> None:
    try:
        ray.kill(actor, no_restart=True)
    except Exception:
        log.debug("killing a camera actor failed", exc_info=True)


def _status(value: Any, default: CameraStatus) -> CameraStatus:
    try:
        return CameraStatus(value)
    except ValueError:
        return default


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""

