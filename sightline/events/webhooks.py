"""Webhooks: every event POSTed as JSON to configured URLs, from background threads.

Each URL has its own thread and bounded queue, so a dead or slow endpoint
delays nobody else; :meth:`WebhookSender.send` never blocks (when a queue is
full its oldest event is dropped and counted). A failed POST (connection error,
timeout, HTTP 429 or 5xx) is retried ``retries`` times with exponential
backoff; other 4xx answers are not retried.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

import httpx

from sightline import __version__
from sightline.errors import ConfigError
from sightline.events.models import Event

log = logging.getLogger(__name__)


class _Endpoint:
    """One URL: queue, worker thread and counters."""

    def __init__(self, url: str, *, timeout: float, retries: int, backoff_s: float, max_backoff_s: float,
                 queue_size: int) -> None:
        self.url, self.retries, self.backoff_s, self.max_backoff_s = url, retries, backoff_s, max_backoff_s
        self.queue_size = queue_size
        self.queue: deque[bytes] = deque()
        self.cond = threading.Condition()
        self.stopping = False
        self.busy = False
        self.stats = {"sent": 0, "failed": 0, "retried": 0, "dropped": 0}
        self.last_error: str | None = None
        self.http = httpx.Client(timeout=timeout, follow_redirects=False,
                                 headers={"content-type": "application/json",
                                          "user-agent": f"sightline/{__version__}"})
        self.thread = threading.Thread(target=self._run, name=f"sightline-webhook {url}", daemon=True)
        self.thread.start()

    def put(self, body: bytes) -> None:
        with self.cond:
            if len(self.queue) >= self.queue_size:
                self.queue.popleft()
                self.stats["dropped"] += 1
            self.queue.append(body)
            self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.queue and not self.stopping:
                    self.cond.wait(0.5)
                if self.stopping:
                    return
                body = self.queue.popleft()
                self.busy = True
            ok = self._deliver(body)
            with self.cond:
                self.busy = False
                self.stats["sent" if ok else "failed"] += 1
                self.cond.notify_all()

    def _deliver(self, body: bytes) -> bool:
        for attempt in range(self.retries + 1):
            if attempt:
                with self.cond:
                    self.stats["retried"] += 1
                    # Wake early only to stop; a retry is never faster than its backoff.
                    self.cond.wait_for(lambda: self.stopping,
                                       timeout=min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s))
                    if self.stopping:
                        return False
            try:
                response = self.http.post(self.url, content=body)
            except httpx.HTTPError as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                continue
            if response.is_success:
                return True
            self.last_error = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                break
        log.warning("webhook %s failed: %s", self.url, self.last_error)
        return False

    def idle(self) -> bool:
        with self.cond:
            return not self.queue and not self.busy

    def close(self, timeout: float) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.thread.join(timeout)
        self.http.close()


class WebhookSender:
    """POSTs each event's JSON to every URL in ``urls``."""

    def __init__(self, urls: Iterable[str], *, timeout: float = 5.0, retries: int = 3, backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0, queue_size: int = 1000) -> None:
        urls = [str(u) for u in urls]
        if not urls:
            raise ConfigError("webhooks need at least one URL")
        bad = [u for u in urls if not u.startswith(("http://", "https://"))]
        if bad:
            raise ConfigError(f"webhook URLs must be http:// or https://: {', '.join(bad)}")
        if timeout <= 0 or retries < 0 or queue_size < 1:
            raise ConfigError("webhooks: timeout must be > 0, retries >= 0 and queue_size >= 1")
        self.endpoints = [_Endpoint(u, timeout=timeout, retries=retries, backoff_s=backoff_s,
                                    max_backoff_s=max_backoff_s, queue_size=queue_size) for u in urls]

    @classmethod
    def from_config(cls, config, **overrides: Any) -> WebhookSender:
        """From a :class:`sightline.video.config.WebhooksConfig`; ``overrides`` win."""
        options: dict[str, Any] = {"timeout": config.timeout, "retries": config.retries,
                                   "queue_size": config.queue_size}
        options.update(overrides)
        return cls([str(u) for u in config.urls], **options)

    def send(self, event: Event) -> None:
        """Queue ``event`` for every URL; returns at once."""
        body = json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        for endpoint in self.endpoints:
            endpoint.put(body)

    def flush(self, timeout: float) -> bool:
        """Wait until every queue is empty and no POST is in flight (True), or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(e.idle() for e in self.endpoints):
                return True
            time.sleep(0.01)
        return False

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per URL: sent, failed (after retries), retried, dropped (queue full), queued, last_error."""
        out = {}
        for e in self.endpoints:
            with e.cond:
                out[e.url] = {**e.stats, "queued": len(e.queue), "last_error": e.last_error}
        return out

    def close(self, timeout: float = 2.0) -> None:
        """Give queued events up to ``timeout`` seconds, then stop the threads."""
        self.flush(timeout)
        for endpoint in self.endpoints:
            endpoint.close(timeout=1.0)

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
