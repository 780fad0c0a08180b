"""A small in-process scheduler: named jobs on an interval, and long-running services, started and stopped together.

A :class:`Job` is a function run every ``every_s`` seconds on its own daemon thread (optionally once at start and
once at stop). A job that raises is logged and its error recorded in its status; the schedule carries on, and the
other jobs never notice. A *service* is anything with ``start()`` and ``stop(timeout)`` (the camera workers): started
after the jobs' threads, stopped before the jobs' last runs. :meth:`Scheduler.stop` returns within about its timeout.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Service(Protocol):
    """A long-running part of the server the scheduler starts and stops (e.g. the camera service)."""

    def start(self) -> Any: ...

    def stop(self, timeout: float = ...) -> None: ...


@dataclass
class JobStatus:
    """What a job has done so far (times are ISO 8601 UTC)."""

    every_s: float
    runs: int = 0
    failures: int = 0
    running: bool = False
    last_run: str | None = None
    last_duration_s: float | None = None
    last_error: str | None = None
    last_result: Any = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Job:
    """A named function run every ``every_s`` seconds (0: never on a schedule), at start and/or at stop."""

    name: str
    fn: Callable[[], Any]
    every_s: float
    at_start: bool = True
    at_stop: bool = False
    status: JobStatus = field(init=False)
    lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.every_s < 0:
            raise ValueError(f"job {self.name}: every_s must be >= 0")
        self.status = JobStatus(every_s=self.every_s)

    def run(self) -> Any:
        """Run once now (never two runs of one job at a time); records the outcome and re-raises an error."""
        with self.lock:
            self.status.running = True
            started = time.monotonic()
            try:
                result = self.fn()
            except Exception as exc:
                self.status.failures += 1
                self.status.last_error = f"{type(exc).__name__}: {exc}"
                raise
            else:
                self.status.last_error = None
                self.status.last_result = _jsonable(result)
                return result
            finally:
                self.status.runs += 1
                self.status.running = False
                self.status.last_run = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                self.status.last_duration_s = round(time.monotonic() - started, 3)

    def describe(self) -> dict[str, Any]:
        """This job's status as plain data."""
        return self.status.to_dict()

    def run_logged(self) -> None:
        """Run once, logging (not raising) an error: a failing job must not stop the schedule or the server.

        The traceback is logged when a job starts failing; the same error again is one line, not a flood.
        """
        previous = self.status.last_error
        try:
            self.run()
        except Exception:
            if self.status.last_error == previous:
                log.warning("job %s failed again: %s", self.name, previous)
            else:
                log.exception("job %s failed", self.name)


class Scheduler:
    """Named jobs and services of one server; :meth:`start` returns at once, :meth:`stop` ends everything."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.services: dict[str, Service] = {}
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = False

    def add(self, name: str, fn: Callable[[], Any], *, every_s: float, at_start: bool = True,
            at_stop: bool = False) -> Job:
        """Schedule ``fn`` as job ``name`` (names are unique; add before :meth:`start`)."""
        if name in self.jobs or name in self.services:
            raise ValueError(f"a job or service named {name!r} is already scheduled")
        job = Job(name, fn, every_s, at_start=at_start, at_stop=at_stop)
        self.jobs[name] = job
        return job

    def add_service(self, name: str, service: Service) -> Service:
        """Start ``service`` with the scheduler and stop it first when the scheduler stops."""
        if name in self.jobs or name in self.services:
            raise ValueError(f"a job or service named {name!r} is already scheduled")
        self.services[name] = service
        return service

    def start(self) -> Scheduler:
        """One thread per job that runs at start or on an interval, then start the services; returns at once."""
        if self._started:
            return self
        self._started = True
        for job in self.jobs.values():
            if job.every_s > 0 or job.at_start:
                thread = threading.Thread(target=self._loop, args=(job,), name=f"sightline-job-{job.name}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
        for name, service in self.services.items():
            try:
                service.start()
            except Exception:  # one service failing to start must not take the jobs (or the server) down
                log.exception("service %s failed to start", name)
        log.info("jobs started: %s", ", ".join([*self.jobs, *self.services]) or "none")
        return self

    def _loop(self, job: Job) -> None:
        if job.at_start and not self.stopping.is_set():
            job.run_logged()
        if job.every_s <= 0:
            return
        while not self.stopping.wait(job.every_s):
            job.run_logged()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the services and the job threads, then run the jobs marked ``at_stop`` once."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for name, service in reversed(self.services.items()):
            try:
                service.stop(max(0.5, deadline - time.monotonic()))
            except Exception:
                log.exception("service %s failed to stop", name)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            log.warning("jobs still running after %.0f s: %s", timeout, ", ".join(stuck))
        if self._started:
            for job in self.jobs.values():
                if job.at_stop:
                    job.run_logged()

    def run_now(self, name: str) -> Any:
        """Run job ``name`` at once on this thread and return its result (errors are recorded and raised)."""
        return self.job(name).run()

    def job(self, name: str) -> Job:
        """The job called ``name`` (KeyError if none)."""
        try:
            return self.jobs[name]
        except KeyError:
            raise KeyError(f"no job named {name!r}") from None

    def status(self) -> dict[str, dict[str, Any]]:
        """Every job's status, by name."""
        return {name: job.describe() for name, job in self.jobs.items()}


def _jsonable(result: Any) -> Any:
    """A job's result as plain data for the status (``to_dict()`` or dataclass fields; other objects dropped)."""
    if result is None or isinstance(result, bool | int | float | str | list | dict):
        return result
    if hasattr(result, "to_dict"):
        return result.to_dict()
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    return None
