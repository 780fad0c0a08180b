"""Failed logins in the audit log: a request with an unknown or revoked API key is recorded as ``auth.failed``.

The token itself never reaches the log, only its public id part (``sl_<id>_...``) when it has one. So that
a flood of bad keys cannot flood the hash-chained log, one client gets at most one row per ``WINDOW_S``;
the next row says how many attempts were folded into it.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

TOKEN_ID = re.compile(r"^sl_([0-9a-f]{12})_")
WINDOW_S = 10.0
MAX_CLIENTS = 10_000  # remembered clients; the oldest are forgotten first


class FailedLogins:
    """Throttled recording of failed logins, per client address."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._last: dict[str, tuple[float, int]] = {}  # client -> (time of its last row, attempts folded since)

    def record(self, audit: Any, *, client: str, route: str, token: str, now: float | None = None) -> bool:
        """Append an ``auth.failed`` row unless this client had one within the window; True if written."""
        now = time.monotonic() if now is None else now
        with self._lock:
            last, folded = self._last.get(client, (float("-inf"), 0))
            if now - last < self.window_s:
                self._last[client] = (last, folded + 1)
                return False
            self._last.pop(client, None)
            self._last[client] = (now, 0)
            while len(self._last) > MAX_CLIENTS:
                self._last.pop(next(iter(self._last)))
        match = TOKEN_ID.match(token)
        details = {"route": route, "client": client, "key_id": match.group(1) if match else None,
                   "earlier_attempts_folded": folded}
        audit.record(actor="unauthenticated", action="auth.failed", outcome="denied", details=details)
        return True


_create = threading.Lock()


def failed_logins(app_state: Any) -> FailedLogins:
    """The app's recorder (one per application, made on first use)."""
    with _create:
        recorder = getattr(app_state, "failed_logins", None)
        if recorder is None:
            recorder = FailedLogins()
            app_state.failed_logins = recorder
        return recorder
