"""Per-app state shared by the routes: settings, database, keys, audit log, face engine, gallery, metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import anyio
from anyio import to_thread
from fastapi import Request
from sqlalchemy import text

from sightline.api.keys_store import ApiKey, KeyStore
from sightline.api.metrics import Metrics
from sightline.api.settings import ApiSettings
from sightline.engine import FaceEngine
from sightline.errors import SightlineError
from sightline.gallery.gallery import Gallery

log = logging.getLogger("sightline.api")
T = TypeVar("T")


class AppState:
    """Everything one app instance owns. Built once by ``create_app``."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.engine = FaceEngine(settings.backend, models_dir=settings.models_dir)
        self.gallery = Gallery.open(settings.home, settings.db_url, self.engine, index_kind=settings.index_kind,
                                    actor="server", create_key=True)
        self.db = self.gallery.db
        self.sessions = self.gallery.sessions
        self.audit = self.gallery.audit
        self.keys = KeyStore(self.sessions)
        self.metrics = Metrics()
        self.models_loaded = False
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

    def update_gallery_gauge(self) -> None:
        index = self.gallery.index
        self.metrics.gallery_size.set(len(index) if index is not None else 0)

    def db_ok(self) -> bool:
        try:
            with self.db.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:  # any driver error means "not reachable"
            return False

    def audit_event(self, key: ApiKey, action: str, *, subject_id: str | None = None, outcome: str = "ok",
                    details: Mapping[str, Any] | None = None) -> None:
        """Append one audit row attributed to ``key``."""
        self.audit.record(actor=key.actor, action=action, subject_id=subject_id, outcome=outcome,
                          details=dict(details or {}))

    def close(self) -> None:
        self.gallery.close()


def get_state(request: Request) -> AppState:
    """FastAPI dependency: this app's :class:`AppState`."""
    return request.app.state.sightline
