"""A process-wide bound on image decoding: bytes being decoded at once, and how many decodes run at once.

Every decode of encoded bytes reserves its estimated peak memory (worked out from the header, before a
pixel is decoded) and one slot. When the budget or the slots are taken, the decode waits up to
``wait_s`` and then fails with ``server_busy`` (the API answers 503 with ``Retry-After``), so a burst
of large uploads queues briefly instead of multiplying the server's memory.

Settings (environment): ``SIGHTLINE_MAX_DECODE_BYTES`` (the in-flight budget, also the largest single
decode; default 512 MiB), ``SIGHTLINE_MAX_CONCURRENT_DECODES`` (default 2), ``SIGHTLINE_DECODE_WAIT_S``
(default 15).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sightline.config import DEFAULT_MAX_DECODE_BYTES
from sightline.errors import ImageError

DEFAULT_MAX_CONCURRENT_DECODES = 2
DEFAULT_DECODE_WAIT_S = 15.0


class DecodeGate:
    """Reserve (bytes, one slot) for the duration of a decode; wait briefly, then refuse."""

    def __init__(self, budget_bytes: int, slots: int, wait_s: float) -> None:
        if budget_bytes <= 0 or slots <= 0 or wait_s < 0:
            raise ValueError("decode budget and slots must be positive, the wait not negative")
        self.budget_bytes, self.slots, self.wait_s = budget_bytes, slots, wait_s
        self._in_use = 0
        self._active = 0
        self._changed = threading.Condition()

    @classmethod
    def from_env(cls) -> DecodeGate:
        """A gate sized by the ``SIGHTLINE_*`` settings above."""
        return cls(int(os.environ.get("SIGHTLINE_MAX_DECODE_BYTES") or DEFAULT_MAX_DECODE_BYTES),
                   int(os.environ.get("SIGHTLINE_MAX_CONCURRENT_DECODES") or DEFAULT_MAX_CONCURRENT_DECODES),
                   float(os.environ.get("SIGHTLINE_DECODE_WAIT_S") or DEFAULT_DECODE_WAIT_S))

    @property
    def in_use(self) -> tuple[int, int]:
        """(bytes reserved, decodes running) right now."""
        with self._changed:
            return self._in_use, self._active

    @contextmanager
    def reserve(self, nbytes: int, name: str = "image") -> Iterator[None]:
        """Hold ``nbytes`` of the budget and one slot while the body runs.

        A request larger than the whole budget never fits (callers refuse it as too large first);
        it is clamped here so that it waits for an idle gate rather than forever.
        """
        nbytes = min(max(0, nbytes), self.budget_bytes)
        deadline = time.monotonic() + self.wait_s
        with self._changed:
            while self._active >= self.slots or self._in_use + nbytes > self.budget_bytes:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ImageError(
                        f"{name}: the server is busy decoding other large images; retry shortly "
                        f"({self._active} decodes hold {self._in_use >> 20} of {self.budget_bytes >> 20} MiB; "
                        "SIGHTLINE_MAX_DECODE_BYTES, SIGHTLINE_MAX_CONCURRENT_DECODES)", code="server_busy")
                self._changed.wait(left)
            self._in_use += nbytes
            self._active += 1
        try:
            yield
        finally:
            with self._changed:
                self._in_use -= nbytes
                self._active -= 1
                self._changed.notify_all()


_gate: DecodeGate | None = None
_gate_lock = threading.Lock()


def decode_gate() -> DecodeGate:
    """The process's gate (built from the environment on first use)."""
    global _gate
    with _gate_lock:
        if _gate is None:
            _gate = DecodeGate.from_env()
        return _gate


def set_decode_gate(gate: DecodeGate) -> None:
    """Replace the process's gate (a server applying its settings; tests)."""
    global _gate
    with _gate_lock:
        _gate = gate
