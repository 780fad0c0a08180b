"""Per-app state shared by the routes: settings, database, keys, audit log, face engine, gallery, metrics."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import anyio
from anyio import to_thread
from fastapi import Request

from sightline.api.audit_verifier import AuditVerifier
from sightline.api.errors import ApiError
from sightline.api.inference_pool import InferencePool, create_pool
from sightline.api.keys_store import ApiKey, KeyStore
from sightline.api.metrics import Metrics
from sightline.api.settings import ApiSettings
from sightline.engine import FaceEngine
from sightline.errors import ConfigError, SightlineError
from sightline.gallery.gallery import Gallery
from sightline.store.db import ping

log = logging.getLogger("sightline.api")
T = TypeVar("T")


class SlotLimiter:
    """At most ``total`` holders at once and at most ``per_key`` per API key; a request over either gets 429.

    Non-blocking on purpose: a client that is refused retries later instead of queueing work
    (and threads) inside the server.
    """

    def __init__(self, what: str, total: int, per_key: int) -> None:
        self.what, self.total, self.per_key = what, max(1, total), max(1, per_key)
        self._lock = threading.Lock()
        self._held: Counter[str] = Counter()

    @contextlib.contextmanager
    def slot(self, key_id: str) -> Iterator[None]:
        """Hold one slot for ``key_id`` for the duration of the block."""
        with self._lock:
            if self._held[key_id] >= self.per_key:
                raise ApiError(429, "too_many_requests", f"this key already runs {self._held[key_id]} {self.what} "
                                                         f"(at most {self.per_key} at once): retry when one ends")
            if sum(self._held.values()) >= self.total:
                raise ApiError(429, "too_many_requests", f"{self.total} {self.what} are already running "
                                                         "(the most at once): retry in a moment")
            self._held[key_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._held[key_id] -= 1
                if self._held[key_id] <= 0:
                    del self._held[key_id]


def _index_factory(settings: ApiSettings, engine: FaceEngine) -> Any:
    """``--index sharded``: the gallery's vectors in shard actors on the cluster (None: a local index)."""
    if settings.index_kind != "sharded":
        return None
    if not settings.cluster:
        raise ConfigError("--index sharded keeps the gallery in shard actors on a Ray cluster: give --cluster too",
                          code="bad_index")
    from sightline.cluster.gallery_index import sharded_index_factory
    from sightline.cluster.shard_actor import StoreSpec

    store = StoreSpec(home=str(settings.home), db_url=settings.db_url, models_dir=settings.models_dir,
                      backend=engine.backend)
    return sharded_index_factory(settings.cluster, store)


class AppState:
    """Everything one app instance owns. Built once by ``create_app``."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.engine = FaceEngine(settings.backend, models_dir=settings.models_dir)
        self.gallery = Gallery.open(settings.home, settings.db_url, self.engine, index_kind=settings.index_kind,
                                    actor="server", create_key=True,
                                    index_factory=_index_factory(settings, self.engine))
        self.db = self.gallery.db
        self.sessions = self.gallery.sessions
        self.audit = self.gallery.audit
        self.keys = KeyStore(self.sessions)
        self.verify_slots = SlotLimiter("audit verifications", _env_int("SIGHTLINE_AUDIT_VERIFY_MAX", 4),
                                        _env_int("SIGHTLINE_AUDIT_VERIFY_PER_KEY", 2))
        self.verifier = AuditVerifier(self.audit)
        self.metrics = Metrics()
        self.models_loaded = False
        self.pool: InferencePool | None = None  # face inference in worker processes / Ray actors (start_pool)
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """Bounds concurrent inference to ``inference_threads`` (created inside the event loop)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.settings.inference_threads)
        return self._limiter

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work (inference, gallery I/O) in the bounded thread pool, off the event loop."""
        return await to_thread.run_sync(fn, *args, limiter=self.limiter)

    def load_models(self) -> None:
        """Load and hash-check the face models and build the gallery index (start-up, in a thread)."""
        try:
            self.engine.load()
            self.models_loaded = True
            _ = self.gallery.index
            self.update_gallery_gauge()
        except SightlineError as exc:
            log.error("start-up failed: %s", exc.message)

    def start_pool(self) -> None:
        """Start the inference workers asked for by the settings and load their models (start-up, in a thread)."""
        settings = self.settings
        if settings.inference_workers <= 0 or self.pool is not None or not self.models_loaded:
            return  # no models: /ready says so, and workers would fail the same way
        pool = create_pool(settings.inference_workers, settings.cluster, self.engine.backend, settings.models_dir)
        if pool is None:
            return
        try:
            pool.warm()
        except BaseException:
            pool.close()
            raise
        self.pool = pool
        log.info("face inference in %d %s", pool.workers, "Ray actors" if settings.cluster else "worker processes")

    def update_gallery_gauge(self) -> None:
        index = self.gallery.index
        self.metrics.gallery_size.set(len(index) if index is not None else 0)

    def db_ok(self) -> bool:
        return ping(self.db)

    def audit_event(self, key: ApiKey, action: str, *, subject_id: str | None = None, outcome: str = "ok",
                    details: Mapping[str, Any] | None = None) -> None:
        """Append one audit row attributed to ``key``."""
        self.audit.record(actor=key.actor, action=action, subject_id=subject_id, outcome=outcome,
                          details=dict(details or {}))

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close()
        self.gallery.close()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else default


def get_state(request: Request) -> AppState:
    """FastAPI dependency: this app's :class:`AppState`."""
    return request.app.state.sightline
