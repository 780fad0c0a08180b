"""The jobs ``sightline serve`` runs, with or without cameras: retention, index refresh, audit checkpoints, cameras.

:func:`build_server_jobs` returns them ready to :meth:`ServerJobs.start`; the API's lifespan starts them after the
models are loaded and stops them before the database closes. Retention and audit checkpoints run in one process
per data home (:mod:`sightline.jobs.leader`); the change-feed follower (and the optional full index refresh) runs
in every worker process and replica.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sightline.gallery.change_feed import POLL_S, ChangeFeed, ChangeFollower
from sightline.jobs.leader import LeaderLock, leader_only
from sightline.jobs.retention import run_retention
from sightline.jobs.scheduler import Scheduler
from sightline.privacy.audit import write_checkpoint

if TYPE_CHECKING:
    from sightline.gallery.gallery import Gallery
    from sightline.jobs.cameras import CameraManager
    from sightline.video.service import CameraService, ServiceOptions

RETENTION_ACTOR = "server-retention"
CHECKPOINT_EVERY_S = 600.0


@dataclass
class ServerJobs:
    """The server's scheduler, its camera service and the manager that keeps it in step with the YAML file and
    the cameras added from the UI."""

    scheduler: Scheduler
    leader: LeaderLock
    cameras: CameraService | None = None
    manager: CameraManager | None = None

    def start(self) -> ServerJobs:
        self.scheduler.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the cameras and the jobs (the at-stop jobs run once more), then let another process lead."""
        self.scheduler.stop(timeout)
        self.leader.release()

    def status(self) -> dict[str, dict[str, Any]]:
        return self.scheduler.status()


def build_server_jobs(gallery: Gallery, *, retention_every_s: float, index_refresh_s: float = 0.0,
                      after_refresh: Callable[[], None] | None = None, cameras_config: str | Path | None = None,
                      camera_options: ServiceOptions | None = None,
                      checkpoint_every_s: float = CHECKPOINT_EVERY_S,
                      change_poll_s: float = POLL_S, cluster: str | None = None) -> ServerJobs:
    """Every job of one server process (not started). ``retention_every_s`` 0 turns the retention schedule off;
    with ``cameras_config`` the cameras run too and retention also purges their old events and snapshots.
    Audit checkpoints are signed every ``checkpoint_every_s`` and once more at stop. The change feed is followed
    (PostgreSQL: woken by NOTIFY; SQLite: polled every ``change_poll_s``; 0 turns it off). With ``cluster``
    (default: ``$SIGHTLINE_CLUSTER``, set by ``serve --cluster``) the cameras run as actors on that Ray cluster."""
    from sightline.jobs.cameras import SYNC_EVERY_S, CameraManager
    from sightline.video.config import SightlineConfig, load_config
    from sightline.video.service import CameraService

    scheduler = Scheduler()
    leader = LeaderLock(Path(gallery.home) / "jobs.lock")
    config = load_config(cameras_config) if cameras_config is not None else None
    # without a YAML file the service still runs (no camera yet): cameras can be added from the UI
    service_config = config if config is not None else SightlineConfig.model_construct(cameras={})
    manager_ref: list[CameraManager] = []

    def retention() -> Any:
        events = manager_ref[0].event_retention() if manager_ref else None
        return run_retention(gallery, actor=RETENTION_ACTOR, events=events)

    retention_job = scheduler.add("retention", leader_only(leader, retention), every_s=retention_every_s,
                                  at_start=retention_every_s > 0)
    if index_refresh_s > 0:
        scheduler.add("index-refresh", functools.partial(_refresh_index, gallery, after_refresh),
                      every_s=index_refresh_s, at_start=False)
    scheduler.add("audit-checkpoint", leader_only(leader, _audit_checkpoint(gallery)), every_s=checkpoint_every_s,
                  at_start=False, at_stop=True)
    if change_poll_s > 0:  # other processes' and replicas' enrolments and erasures, within a second
        scheduler.add_service("change-feed", ChangeFollower(ChangeFeed(gallery.ctx, gallery.search),
                                                            poll_s=change_poll_s, after=after_refresh))
    if cluster is None:
        cluster = os.environ.get("SIGHTLINE_CLUSTER") or None
    factory = None
    if cluster:
        from sightline.cluster.cameras import ray_worker_factory

        factory = ray_worker_factory(cluster)
    cameras = CameraService(service_config, gallery, options=camera_options, retention=retention_job,
                            worker_factory=factory)
    manager = CameraManager(gallery, cameras, leader, config)
    manager_ref.append(manager)
    scheduler.add_service("cameras", manager)
    scheduler.add("camera-sync", manager.sync, every_s=SYNC_EVERY_S, at_start=False)
    return ServerJobs(scheduler, leader, cameras, manager)


def _refresh_index(gallery: Gallery, after: Callable[[], None] | None) -> dict[str, int]:
    """With several worker processes, pick up enrolments and erasures made by the others."""
    added, removed = gallery.refresh()
    if after is not None:
        after()
    return {"added": added, "removed": removed}


def _audit_checkpoint(gallery: Gallery) -> Callable[[], Any]:
    """The audit checkpoint job: sign the chain's head into ``home/audit/checkpoints.jsonl`` (and its hooks)."""
    return functools.partial(write_checkpoint, gallery.audit)
