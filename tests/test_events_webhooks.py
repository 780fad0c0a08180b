"""Webhooks against real HTTP servers on loopback (http.server), including dead, failing and slow ones."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sightline.errors import ConfigError
from sightline.events.models import Event, EventType
from sightline.events.sink import EventSink
from sightline.events.webhooks import WebhookSender


class Hook:
    """A real HTTP server recording POST bodies; ``statuses`` are answered in turn (then 200)."""

    def __init__(self, statuses: list[int] | None = None, delay_s: float = 0.0) -> None:
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.statuses = list(statuses or [])
        self.delay_s = delay_s
        self.hits = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                hook.hits += 1
                time.sleep(hook.delay_s)
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status == 200:
                    hook.bodies.append(json.loads(body))
                    hook.headers.append(dict(self.headers))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/nobody-listens"


def event(n: int) -> Event:
    return Event(EventType.ZONE_ENTER, "gate", "person", track_id=n, zone="porch")


def test_every_event_is_posted_as_json(hook):
    sender = WebhookSender([hook.url], timeout=2, retries=0)
    events = [event(n) for n in range(5)]
    for e in events:
        sender.send(e)
    assert sender.flush(5)
    sender.close()
    assert hook.bodies == [e.to_dict() for e in events]
    assert hook.headers[0]["content-type"] == "application/json"
    assert sender.stats()[hook.url]["sent"] == 5


def test_a_dead_endpoint_is_retried_then_given_up_without_delaying_a_live_one(hook):
    dead = dead_url()
    sender = WebhookSender([dead, hook.url], timeout=1, retries=2, backoff_s=0.05)
    t0 = time.perf_counter()
    for n in range(3):
        sender.send(event(n))
    assert time.perf_counter() - t0 < 0.1  # sending only queues
    deadline = time.monotonic() + 5
    while len(hook.bodies) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(hook.bodies) == 3
    assert sender.flush(10)
    stats = sender.stats()
    sender.close()
    assert stats[dead]["failed"] == 3 and stats[dead]["retried"] == 6 and stats[dead]["sent"] == 0
    assert "ConnectError" in stats[dead]["last_error"]
    assert stats[hook.url] | {"last_error": None} == {"sent": 3, "failed": 0, "retried": 0, "dropped": 0,
                                                       "queued": 0, "last_error": None}


def test_server_errors_are_retried_with_backoff_and_client_errors_are_not():
    flaky = Hook(statuses=[503, 500])
    refusing = Hook(statuses=[400])
    try:
        sender = WebhookSender([flaky.url, refusing.url], timeout=2, retries=3, backoff_s=0.1)
        t0 = time.monotonic()
        sender.send(event(1))
        assert sender.flush(5)
        elapsed = time.monotonic() - t0
        stats = sender.stats()
        sender.close()
    finally:
        flaky.close()
        refusing.close()
    assert flaky.hits == 3 and len(flaky.bodies) == 1 and stats[flaky.url]["retried"] == 2
    assert elapsed >= 0.1 + 0.2  # backoff 0.1 s, then 0.2 s
    assert refusing.hits == 1 and stats[refusing.url]["failed"] == 1 and stats[refusing.url]["last_error"] == "HTTP 400"


def test_a_slow_endpoint_times_out_and_a_full_queue_drops_the_oldest():
    slow = Hook(delay_s=1.0)
    try:
        sender = WebhookSender([slow.url], timeout=0.2, retries=0, queue_size=2)
        t0 = time.perf_counter()
        for n in range(6):
            sender.send(event(n))
        assert time.perf_counter() - t0 < 0.1
        assert sender.flush(10)
        stats = sender.stats()[slow.url]
        sender.close(timeout=0.1)
    finally:
        slow.close()
    assert stats["failed"] + stats["sent"] + stats["dropped"] == 6
    assert stats["dropped"] >= 3 and stats["failed"] >= 1
    assert "Timeout" in stats["last_error"]


def test_sink_fans_out_to_webhooks(hook):
    sink = EventSink(webhooks=WebhookSender([hook.url], timeout=2))
    sink.emit(event(7))
    sink.close(timeout=5)
    assert [b["track_id"] for b in hook.bodies] == [7]
    assert sink.stats()["emitted"] == 1


@pytest.mark.parametrize("urls", [[], ["ftp://example.org/x"], ["127.0.0.1:80"]])
def test_bad_urls_are_refused(urls):
    with pytest.raises(ConfigError):
        WebhookSender(urls)
