"""Run the configured cameras inside the server: one :class:`~sightline.video.worker.CameraWorker` thread each.

:class:`CameraService` takes a validated :class:`~sightline.video.config.SightlineConfig` and the server's
gallery (anything that is a :class:`~sightline.video.ports.VideoGallery`). Every enabled camera gets a worker;
all send their events to one shared :class:`~sightline.events.sink.EventSink` (database, MQTT, webhooks). A
camera that raises is restarted with backoff while the others keep running. The service schedules nothing
else: retention is one of the server's jobs (:mod:`sightline.jobs`), which hands the service its retention job
so the cameras API can show its last run.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from sightline.errors import ConfigError
from sightline.events.sink import EventPublisher, EventSender, EventSink
from sightline.video.config import CameraConfig, SightlineConfig
from sightline.video.ports import VideoGallery
from sightline.video.worker import CameraStatus, CameraWorker, ServiceOptions

__all__ = ["CameraService", "CameraStatus", "CameraWorker", "RetentionTask", "ServiceOptions", "event_outputs",
           "snapshot_dir_for"]

log = logging.getLogger(__name__)


class WorkerFactory(Protocol):
    """Makes one camera's worker: anything with CameraWorker's start/stop/status/live-view methods."""

    def __call__(self, name: str, camera: CameraConfig, service: Any, *,
                 stop: threading.Event | None = None) -> Any: ...


class RetentionTask(Protocol):
    """The server's retention job, as the camera service shows and triggers it."""

    def run(self) -> Any:
        """Run once now and return the report."""
        ...

    def describe(self) -> dict[str, Any]:
        """Runs so far, the last run's time, result and error."""
        ...


class CameraService:
    """All cameras of one config and their shared event sink."""

    def __init__(self, config: SightlineConfig, gallery: VideoGallery, *, options: ServiceOptions | None = None,
                 mqtt: EventPublisher | None = None, webhooks: EventSender | None = None,
                 retention: RetentionTask | None = None, worker_factory: WorkerFactory | None = None) -> None:
        """``worker_factory``: makes each camera's worker (default: a :class:`CameraWorker` thread here;
        ``serve --cluster`` passes :func:`sightline.cluster.cameras.ray_worker_factory`, an actor per camera)."""
        self.config = config
        self.worker_factory: WorkerFactory = worker_factory or CameraWorker
        self.gallery = gallery
        self.options = options or ServiceOptions()
        self.stopping = threading.Event()
        self.snapshot_dir = snapshot_dir_for(config, Path(gallery.home))
        if config.storage.db_url:
            log.warning("storage.db_url in the camera config is ignored by the server: events go to the "
                        "server's own database")
        self._mqtt, self._webhooks = mqtt, webhooks
        self.sink: EventSink = EventSink(gallery.sessions)
        self.workers: dict[str, Any] = {}  # CameraWorker, or RayCameraWorker with --cluster
        self._retention = retention
        self._started = False
        self.viewers = 0  # live-view streams open now
        self._viewers_lock = threading.Lock()

    def start(self) -> CameraService:
        """Start the outputs and one thread per enabled camera; returns at once."""
        if self._started:
            return self
        self._started = True
        mqtt, webhooks = event_outputs(self.config, mqtt=self._mqtt, webhooks=self._webhooks)
        self.sink = EventSink(self.gallery.sessions, mqtt=mqtt, webhooks=webhooks)
        for name, camera in self.config.enabled_cameras().items():
            worker = self.new_worker(name, camera)
            self.workers[name] = worker
            worker.start()
        log.info("camera service: %d camera(s) started", len(self.workers))
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every camera and close the outputs; returns within about ``timeout`` seconds."""
        self.stopping.set()
        for worker in self.workers.values():
            worker.request_stop()
        deadline = time.monotonic() + timeout
        threads = [w.thread for w in self.workers.values()]
        for thread in threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            log.warning("still running after %.0f s: %s", timeout, ", ".join(stuck))
        self.sink.close(timeout=2.0)

    # -- cameras ------------------------------------------------------------------------------
    def new_worker(self, name: str, camera: CameraConfig, stop: threading.Event | None = None) -> Any:
        """A (not started) worker for ``camera``: a thread here, or an actor's supervisor on a cluster."""
        return self.worker_factory(name, camera, self, stop=stop)

    def camera(self, name: str) -> CameraWorker:
        """The worker of camera ``name`` (:class:`ConfigError` ``camera_not_found`` if there is none)."""
        worker = self.workers.get(name)
        if worker is None:
            raise ConfigError(f"no running camera named {name!r}", code="camera_not_found")
        return worker

    def status(self) -> dict[str, Any]:
        """Every camera's status, the sink's counters and the retention job's last run."""
        return {"cameras": [w.to_dict() for w in self.workers.values()], "events": self.sink.stats(),
                "retention": dict(self.retention), "viewers": self.viewers,
                "disabled": sorted(set(self.config.cameras) - set(self.workers))}

    def viewer_opened(self) -> None:
        with self._viewers_lock:
            self.viewers += 1

    def viewer_closed(self) -> None:
        with self._viewers_lock:
            self.viewers -= 1

    # -- retention (a server job; shown here) -----------------------------------------------------
    @property
    def retention(self) -> dict[str, Any]:
        """The retention job's schedule and last run (``runs`` 0 when the server schedules none)."""
        if self._retention is None:
            return {"every_s": 0.0, "last_run": None, "last_report": None, "last_error": None, "runs": 0}
        job = self._retention.describe()
        return {"every_s": job["every_s"], "last_run": job["last_run"], "last_report": job["last_result"],
                "last_error": job["last_error"], "runs": job["runs"]}

    def retention_tick(self) -> Any:
        """Run the server's retention job now (expired subjects, old events and snapshots) and return its report."""
        if self._retention is None:
            raise ConfigError("no retention job: the cameras run outside the server's jobs",
                              code="retention_not_scheduled")
        return self._retention.run()


def event_outputs(config: SightlineConfig, *, mqtt: EventPublisher | None = None,
                  webhooks: EventSender | None = None) -> tuple[EventPublisher | None, EventSender | None]:
    """The MQTT publisher (started) and webhook sender the config asks for, unless given already."""
    if mqtt is None and config.mqtt is not None and config.mqtt.enabled:
        from sightline.events.mqtt import MqttPublisher

        mqtt = MqttPublisher.from_config(config.mqtt).start()
    if webhooks is None and config.webhooks is not None:
        from sightline.events.webhooks import WebhookSender

        webhooks = WebhookSender.from_config(config.webhooks)
    return mqtt, webhooks


def snapshot_dir_for(config: SightlineConfig, home: Path) -> Path:
    """``storage.snapshots`` if set, else ``storage.root/snapshots`` if ``root`` is set, else ``home/snapshots``."""
    storage = config.storage
    if storage.snapshots is not None or "root" in storage.model_fields_set:
        return storage.snapshot_dir
    return home / "snapshots"
