"""Server-owned background jobs: one scheduler for retention, index refresh, audit checkpoints and the cameras.

- :class:`Scheduler` (``scheduler.py``): named jobs on an interval, run-at-start/at-stop, errors isolated and logged,
  long-running services (the camera workers) started and stopped with it.
- ``server.py``: which jobs ``sightline serve`` runs (with or without cameras).
- ``retention.py``: the retention run (expired subjects, old events and snapshots), audited.
"""

from sightline.jobs.scheduler import Job, JobStatus, Scheduler, Service

__all__ = ["Job", "JobStatus", "Scheduler", "Service"]
