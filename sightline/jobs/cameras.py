"""The server's cameras: those of ``serve --cameras cameras.yaml`` and those added from the web UI, run together.

:class:`CameraManager` is the service the scheduler starts and stops. It owns the
:class:`~sightline.video.service.CameraService` (the workers and their shared event sink) and reconciles it with
what is configured: the YAML file's cameras (read-only here: edit the file) plus the ``cameras`` table
(:mod:`sightline.jobs.camera_store`). A camera added, changed or disabled through the API is applied at once by
:meth:`CameraManager.sync` (its worker is started, restarted with the new settings, or stopped: no server
restart), and again by the ``camera-sync`` job every few seconds, so a change made through another server
process of the same data home is picked up too. Only the process holding the jobs lock runs cameras.

Names are unique across both: a UI camera cannot take a YAML camera's name, and if the file later declares a
name the database also holds, the file's camera runs and the stored one is reported as shadowed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sightline.errors import ConfigError
from sightline.jobs import camera_store
from sightline.jobs.camera_store import CameraSecrets, mask_url, unmask_url
from sightline.jobs.leader import LeaderLock
from sightline.jobs.retention import EventRetention
from sightline.store import cameras_repo
from sightline.video.config import CameraConfig, RetentionConfig, SightlineConfig

if TYPE_CHECKING:
    from sightline.gallery.gallery import Gallery
    from sightline.video.service import CameraService

log = logging.getLogger(__name__)

SYNC_EVERY_S = 3.0
STOP_WAIT_S = 10.0
SLOW_RATIO = 0.9  # a camera whose achieved rate is under 90 % of its target gets a warning
SLOW_MIN_FRAMES = 10


@dataclass(frozen=True)
class Configured:
    """One configured camera and where it comes from (``yaml`` or ``ui``)."""

    name: str
    source: str
    config: CameraConfig
    stored: camera_store.StoredCamera | None = None


def fps_warning(status: dict[str, Any]) -> str | None:
    """A warning when a camera processes fewer frames per second than its target (None when it keeps up)."""
    if status["status"] not in ("running", "finished") or status["frames"] < SLOW_MIN_FRAMES:
        return None
    rate, target = status["fps_average"], status["fps_target"]
    if rate >= SLOW_RATIO * target:
        return None
    why = "the file is read slower than real time" if status.get("kind") == "file" else "frames are dropped"
    return (f"runs at {rate:.1f} fps, below its target of {target:g} fps ({why}): lower its fps or its classes, "
            "turn off face recognition, or give the server more CPU")


class CameraManager:
    """YAML and UI cameras, reconciled with the running camera workers."""

    def __init__(self, gallery: Gallery, service: CameraService, leader: LeaderLock,
                 yaml_config: SightlineConfig | None) -> None:
        self.gallery, self.service, self.leader, self.yaml = gallery, service, leader, yaml_config
        self.secrets = CameraSecrets(Path(gallery.home))
        self._stops: dict[str, threading.Event] = {}
        self._lock = threading.RLock()
        self._started = False

    # -- what is configured ---------------------------------------------------------------------
    def stored(self) -> dict[str, camera_store.StoredCamera]:
        """The cameras of the database (decrypted, validated)."""
        with self.gallery.sessions() as session:
            return camera_store.load(session, self.secrets)

    def configured(self) -> dict[str, Configured]:
        """Every configured camera by name: the YAML file's first, then the database's (a name both use: YAML)."""
        out = {name: Configured(name, "yaml", cam) for name, cam in (self.yaml.cameras if self.yaml else {}).items()}
        for name, stored in self.stored().items():
            if name not in out:
                out[name] = Configured(name, "ui", stored.config, stored)
        return out

    def shadowed(self) -> list[str]:
        """Stored camera names the YAML file also declares (the file's camera runs)."""
        yaml_names = set(self.yaml.cameras) if self.yaml else set()
        return sorted(yaml_names & set(self.stored()))

    def event_retention(self) -> EventRetention | None:
        """How long camera events are kept: the YAML file's ``retention``, else the defaults once any camera
        exists (None when the server has no cameras at all)."""
        if self.yaml is not None:
            return EventRetention(self.yaml.retention.event_days, self.yaml.retention.snapshot_days,
                                  self.service.snapshot_dir)
        with self.gallery.sessions() as session:
            if not cameras_repo.list_cameras(session):
                return None
        defaults = RetentionConfig()
        return EventRetention(defaults.event_days, defaults.snapshot_days, self.service.snapshot_dir)

    # -- changes from the API (admin; audited in the same transaction) ---------------------------
    def create(self, name: str, body: dict[str, Any], *, actor: str) -> Configured:
        """Add a camera (validated like ``config validate``), then start it if it is enabled."""
        if self.yaml is not None and name in self.yaml.cameras:
            raise ConfigError(f"camera {name!r} is defined in the server's cameras.yaml: edit the file",
                              code="camera_exists")
        config = camera_store.validate(name, body)
        with self.gallery.sessions.begin() as session:
            if cameras_repo.get_camera(session, name) is not None:
                raise ConfigError(f"a camera named {name!r} already exists", code="camera_exists")
            camera_store.save(session, self.secrets, name, config, body, actor=actor, new=True)
            self.gallery.audit.append(session, actor=actor, action="cameras.create",
                                      details=_audit_details(name, config))
        self.sync()
        return self.configured()[name]

    def replace(self, name: str, body: dict[str, Any], *, actor: str) -> Configured:
        """Change a UI camera's settings: keys sent replace the stored ones, the others stay (a ``***`` password
        sent back keeps the stored one); its worker restarts with the new settings."""
        current = self._ui_camera(name)
        assert current.stored is not None
        if "url" in body:
            body = {**body, "url": unmask_url(body["url"], current.config.url)}
        # keys not sent keep their stored value (a form that shows some settings loses none of the others)
        body = {**current.stored.settings, "url": current.config.url, "enabled": current.config.enabled, **body}
        config = camera_store.validate(name, body)
        with self.gallery.sessions.begin() as session:
            camera_store.save(session, self.secrets, name, config, body, actor=actor, new=False)
            self.gallery.audit.append(session, actor=actor, action="cameras.update",
                                      details={**_audit_details(name, config),
                                               "changed": _changed(current.config, config)})
        self.sync()
        return self.configured()[name]

    def delete(self, name: str, *, actor: str) -> None:
        """Forget a UI camera (its events stay, under the usual retention); its worker stops. A stored camera
        that no longer loads (its URL cannot be decrypted) can be removed too."""
        if self.yaml is not None and name in self.yaml.cameras:
            self._ui_camera(name)  # raises: the file's camera is read-only here
        with self.gallery.sessions.begin() as session:
            if not cameras_repo.delete_camera(session, name):
                raise ConfigError(f"no camera named {name!r}", code="camera_not_found")
            self.gallery.audit.append(session, actor=actor, action="cameras.delete", details={"camera": name})
        self.sync()

    def _ui_camera(self, name: str) -> Configured:
        camera = self.configured().get(name)
        if camera is None:
            raise ConfigError(f"no camera named {name!r}", code="camera_not_found")
        if camera.source != "ui":
            raise ConfigError(f"camera {name!r} comes from the server's cameras.yaml: edit the file and restart",
                              code="camera_read_only")
        return camera

    # -- running ------------------------------------------------------------------------------------
    def start(self) -> CameraManager:
        """Start the camera service (the YAML file's cameras), then the UI's."""
        with self._lock:
            self.service.start()
            self._started = True
        self.sync()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._started = False
        self.service.stop(timeout)

    def sync(self) -> dict[str, list[str]]:
        """Start, restart (settings changed) or stop workers until they match what is configured."""
        done: dict[str, list[str]] = {"started": [], "restarted": [], "stopped": []}
        with self._lock:
            if not self._started or self.service.stopping.is_set():
                return done
            if not self.leader.held():
                return done
            wanted = {n: c.config for n, c in self.configured().items() if c.config.enabled}
            for name, worker in list(self.service.workers.items()):
                if name not in wanted:
                    self._stop_worker(name, worker)
                    done["stopped"].append(name)
                elif worker.config != wanted[name]:
                    self._stop_worker(name, worker)
                    done["restarted"].append(name)
            for name, config in wanted.items():
                if name not in self.service.workers:
                    stop = threading.Event()
                    worker = self.service.new_worker(name, config, stop=stop)
                    self._stops[name] = stop
                    self.service.workers[name] = worker
                    worker.start()
                    if name not in done["restarted"]:
                        done["started"].append(name)
        if any(done.values()):
            log.info("cameras: %s", ", ".join(f"{k} {', '.join(v)}" for k, v in done.items() if v))
        return done

    def _stop_worker(self, name: str, worker: Any) -> None:
        if self._stops.pop(name, None) is None:
            return  # a YAML camera (the service's own stop signal): the file does not change while serving
        worker.request_stop()  # sets the camera's own stop signal and closes a live source
        worker.thread.join(STOP_WAIT_S)
        if worker.thread.is_alive():
            log.warning("camera %s did not stop within %.0f s", name, STOP_WAIT_S)
        del self.service.workers[name]

    # -- reporting ------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The service's status with each camera's origin, a slow-camera warning, and the configured list."""
        out = self.service.status()
        configured = self.configured()
        for camera in out["cameras"]:
            entry = configured.get(camera["name"])
            camera["source"] = entry.source if entry else "removed"
            camera["warning"] = fps_warning(camera)
        out["configured"] = [describe(c, running=c.name in self.service.workers) for c in configured.values()]
        out["disabled"] = sorted(n for n, c in configured.items() if not c.config.enabled)
        out["shadowed"] = self.shadowed()
        out["leader"] = self.leader.held()
        return out


def describe(camera: Configured, *, running: bool) -> dict[str, Any]:
    """A configured camera for the API and UI: its settings with the URL's password masked."""
    config = camera.config
    out: dict[str, Any] = {
        "name": camera.name, "source": camera.source, "enabled": config.enabled, "running": running,
        "url": mask_url(config.url), "kind": config.source_kind, "fps": config.fps, "classes": list(config.classes),
        "min_score": config.min_score,
        "zones": {name: {"points": [list(p) for p in zone.points], "units": zone.units, "classes": zone.classes}
                  for name, zone in config.zones.items()},
        "face_recognition": config.face_recognition.enabled, "motion": config.motion.enabled,
    }
    if camera.stored is not None:
        out.update(created_at=camera.stored.created_at, created_by=camera.stored.created_by,
                   updated_at=camera.stored.updated_at, updated_by=camera.stored.updated_by)
    return out


def _audit_details(name: str, config: CameraConfig) -> dict[str, Any]:
    return {"camera": name, "url": mask_url(config.url), "enabled": config.enabled, "fps": config.fps,
            "classes": list(config.classes), "zones": sorted(config.zones),
            "face_recognition": config.face_recognition.enabled}


def _changed(before: CameraConfig, after: CameraConfig) -> list[str]:
    """Names of the settings that differ (the URL counts as one setting; its value is never written here)."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
