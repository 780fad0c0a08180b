"""Keep a live stream flowing: reconnect with capped exponential backoff.

:class:`ReconnectingSource` wraps :class:`~sightline.video.sources.FrameSource`
for cameras. Network failures and the end of a live stream never escape the
iteration; they show up as status changes (``status`` attribute and an optional
callback) while the source waits and retries. ``stop()`` may be called from any
thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from sightline.errors import ConfigError, VideoError
from sightline.video.sources import Frame, FrameSource, is_live

log = logging.getLogger(__name__)

MAX_EVENTS = 100


class StreamStatus(StrEnum):
    """Life cycle of a live source."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """One status change: the new status, the error that caused it and when the next try is due."""

    status: StreamStatus
    error: str | None = None
    attempt: int = 0
    retry_in_s: float | None = None
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Retry delays: ``initial_s * factor**n`` capped at ``max_s``; ``max_attempts`` None retries forever."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.factor < 1 or self.max_s < self.initial_s:
            raise ConfigError("backoff needs initial_s > 0, factor >= 1 and max_s >= initial_s")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ConfigError("backoff max_attempts must be at least 1")

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure in a row (1-based)."""
        return min(self.max_s, self.initial_s * self.factor ** max(0, failures - 1))


class ReconnectingSource:
    """Iterate frames from a live source forever, reconnecting after failures.

    Ends only when :meth:`stop` is called or ``backoff.max_attempts`` failures in a
    row have happened (status ``failed``). Frame indices keep counting across
    reconnections.
    """

    def __init__(
        self,
        source: str | int | Path,
        *,
        fps: float | None = None,
        timeout_s: float = 5.0,
        backoff: Backoff | None = None,
        on_status: Callable[[StatusEvent], None] | None = None,
    ) -> None:
        self.source = source
        self.fps = fps
        self.timeout_s = timeout_s
        self.backoff = backoff or Backoff()
        self.on_status = on_status
        self.status = StreamStatus.IDLE
        self.last_error: str | None = None
        self.events: deque[StatusEvent] = deque(maxlen=MAX_EVENTS)  # the latest status changes
        self.connections = 0
        self._stop = threading.Event()
        self._decoded_before = 0
        self.name = FrameSource(source, fps=fps, timeout_s=timeout_s).name  # validates source, fps, timeout
        if not is_live(source):
            raise ConfigError(f"{self.name} is not a live stream or webcam; read files with FrameSource")

    def stop(self) -> None:
        """Ask the iteration to end; it returns within about one read timeout at worst."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _set(self, status: StreamStatus, error: str | None = None, attempt: int = 0, retry_in: float | None = None):
        self.status = status
        if error is not None:
            self.last_error = error
        event = StatusEvent(status, error, attempt, retry_in, time.time())
        self.events.append(event)
        log.info("%s: %s%s", self.name, status, f" ({error})" if error else "")
        if self.on_status is not None:
            try:
                self.on_status(event)
            except Exception:  # a broken callback must not kill the stream
                log.exception("status callback failed")

    def __iter__(self) -> Iterator[Frame]:
        failures = 0
        self._set(StreamStatus.CONNECTING)
        while not self._stop.is_set():
            error = "stream ended"
            inner = FrameSource(self.source, fps=self.fps, timeout_s=self.timeout_s, live=True, stop_event=self._stop)
            try:
                inner.open()
                for frame in inner:
                    if self.status is not StreamStatus.CONNECTED:
                        self.connections += 1
                        failures = 0
                        self._set(StreamStatus.CONNECTED)
                    yield replace(frame, index=frame.index + self._decoded_before)
            except VideoError as exc:
                error = str(exc)
            except Exception as exc:  # never let a network hiccup escape
                error = f"{type(exc).__name__}: {exc}"
            finally:
                self._decoded_before += inner.frames_decoded
                inner.close()
            if self._stop.is_set():
                break
            failures += 1
            if self.backoff.max_attempts is not None and failures >= self.backoff.max_attempts:
                self._set(StreamStatus.FAILED, error, failures)
                return
            delay = self.backoff.delay(failures)
            self._set(StreamStatus.RECONNECTING, error, failures, delay)
            self._stop.wait(delay)
        self._set(StreamStatus.STOPPED)
