"""Which process of a data home runs the jobs that must not run twice at once (retention, audit checkpoints).

``sightline serve --workers N`` starts N processes with the same jobs. A :class:`LeaderLock` is an exclusive,
non-blocking ``flock`` on ``<home>/jobs.lock``: the first process to take it keeps it while it lives; the
others skip those jobs, and take over at their next run if the holder dies. (One machine: with several hosts on
one PostgreSQL database, run the jobs on one of them.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # not POSIX: every process runs the jobs
    fcntl = None  # type: ignore[assignment]


class LeaderLock:
    """An exclusive lock file, taken on demand and held until :meth:`release` (or the process ends)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: IO[str] | None = None
        self._mutex = threading.Lock()

    def held(self) -> bool:
        """True when this process holds the lock (taking it now if it is free)."""
        with self._mutex:
            if self._file is not None or fcntl is None:
                return True
            handle = self.path.open("a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            self._file = handle
            return True

    def release(self) -> None:
        """Let another process take the jobs over."""
        with self._mutex:
            if self._file is not None:
                self._file.close()  # closing the descriptor releases the flock
                self._file = None


def leader_only(lock: LeaderLock, fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` when this process holds ``lock``; otherwise a no-op that says why it skipped."""

    def run() -> Any:
        if not lock.held():
            return {"skipped": "another server process of this data home runs this job"}
        return fn()

    return run
