"""MQTT output against a real Mosquitto broker started on loopback by the tests."""

from __future__ import annotations

import getpass
import json
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sightline.events.models import Event, EventType
from sightline.events.mqtt import MqttPublisher
from sightline.events.sink import EventSink

pytestmark = pytest.mark.usefixtures("mosquitto_installed")  # conftest.require_service: fails in CI, else skips

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Broker:
    """A mosquitto process on 127.0.0.1:port that can be killed and restarted on the same port."""

    def __init__(self, tmp: Path, port: int | None = None, *, persistent: bool = False) -> None:
        self.port = port or free_port()
        self.conf = tmp / f"mosquitto-{self.port}.conf"
        # ``user``: when started as root, mosquitto would otherwise switch to a user that cannot write tmp.
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", f"user {getpass.getuser()}",
                 f"persistence {str(persistent).lower()}"]
        if persistent:
            lines.append(f"persistence_location {tmp}/")
        self.conf.write_text("\n".join(lines) + "\n")
        self.log = tmp / f"mosquitto-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Broker:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start: {self.log.read_text()}")
            time.sleep(0.02)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path).start()
    yield b
    b.stop()


class Subscriber:
    """A real MQTT client collecting everything under ``topic``."""

    def __init__(self, port: int, topic: str = "sightline/#", *, client_id: str | None = None,
                 clean: bool = True) -> None:
        self.messages: list[paho.MQTTMessage] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id or "", clean_session=clean)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self.subscribed.wait(5), "subscriber could not subscribe"

    def _on_message(self, _c, _u, message) -> None:
        with self.lock:
            self.messages.append(message)

    def on(self, topic: str) -> list[paho.MQTTMessage]:
        with self.lock:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, topic: str, count: int = 1, timeout: float = 10.0) -> list[paho.MQTTMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.on(topic)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{topic}: got {len(self.on(topic))} message(s), wanted {count}; "
                             f"all topics: {sorted({m.topic for m in self.messages})}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained(port: int, topic: str, timeout: float = 5.0) -> paho.MQTTMessage:
    """The retained message a brand-new subscriber gets on ``topic`` (retried briefly, since the
    publisher's message may still be on its way; a non-retained one never comes back flagged retained)."""
    deadline = time.monotonic() + timeout
    while True:
        sub = Subscriber(port, topic)
        try:
            messages = sub.wait_for(topic, timeout=max(deadline - time.monotonic(), 0.3))
        finally:
            sub.close()
        if messages[0].retain:
            return messages[0]
        assert time.monotonic() < deadline, f"{topic} was not retained"


def make_event(n: int = 0, **extra) -> Event:
    fields = {"type": EventType.TRACK_START, "camera": "gate", "label": "person", "track_id": n, "score": 0.9}
    fields.update(extra)
    return Event(**fields)


def test_events_counts_and_recognitions_arrive_with_topics_and_payloads(broker):
    sub = Subscriber(broker.port)
    publisher = MqttPublisher("127.0.0.1", broker.port, reconnect_min_s=0.2, reconnect_max_s=1).start()
    try:
        assert publisher.wait_until_connected(5)
        start = make_event(1, data={"box": [1.0, 2.0, 30.0, 40.0]})
        seen = Event(EventType.PERSON_SEEN, "gate", "person", track_id=1, score=0.71, subject_id="s1",
                     subject_name="Lin-Manuel Miranda")
        unknown = Event(EventType.UNKNOWN_PERSON, "gate", "person", track_id=2)
        for event in (start, seen, unknown):
            publisher.publish_event(event)
        publisher.publish_count("gate", "person", 2)
        publisher.publish_count("gate", "person", 2)  # unchanged: not resent
        publisher.publish_count("gate", "traffic light", 1)
        assert publisher.flush(5)

        events = sub.wait_for("sightline/events", 3)
        payloads = [json.loads(m.payload) for m in events]
        assert payloads == [start.to_dict(), seen.to_dict(), unknown.to_dict()]
        assert Event.from_dict(payloads[1]).subject_name == "Lin-Manuel Miranda"
        assert payloads[2]["subject_id"] is None and payloads[2]["subject_name"] is None
        names = sub.wait_for("sightline/gate/person_seen")
        assert [m.payload.decode() for m in names] == ["Lin-Manuel Miranda"]  # none for the unknown person
        assert [m.payload for m in sub.wait_for("sightline/gate/person")] == [b"2"]
        assert sub.wait_for("sightline/gate/traffic_light")[0].payload == b"1"
        assert retained(broker.port, "sightline/gate/person").payload == b"2"
        assert retained(broker.port, "sightline/available").payload == b"online"
        assert publisher.stats()["dropped"] == 0
    finally:
        publisher.close()
        sub.close()
    # A clean stop announces itself (the Last Will is only for unclean ones).
    assert retained(broker.port, "sightline/available").payload == b"offline"


def test_last_will_marks_offline_when_the_process_dies(broker):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from sightline.events.mqtt import MqttPublisher
        p = MqttPublisher("127.0.0.1", {broker.port}).start()
        assert p.wait_until_connected(10)
        print("ready", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert retained(broker.port, "sightline/available").payload == b"online"
        sub = Subscriber(broker.port, "sightline/available")
        sub.wait_for("sightline/available")  # the retained "online"
        proc.kill()  # no DISCONNECT packet: the broker must publish the Last Will
        proc.wait(10)
        offline = sub.wait_for("sightline/available", 2, timeout=10)[-1]
        sub.close()
        assert offline.payload == b"offline"
        assert retained(broker.port, "sightline/available").payload == b"offline"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_events_queued_while_broker_is_down_are_delivered_when_it_comes_up(tmp_path):
    broker = Broker(tmp_path, persistent=True).start()
    # A persistent subscriber session, so it receives what is published while it is away.
    sub = Subscriber(broker.port, "sightline/events", client_id="collector", clean=False)
    sub.close()
    broker.stop()  # SIGTERM: mosquitto saves the session
    publisher = MqttPublisher("127.0.0.1", broker.port, reconnect_min_s=0.2, reconnect_max_s=1).start()
    try:
        events = [make_event(n) for n in range(5)]
        for event in events:
            t0 = time.perf_counter()
            publisher.publish_event(event)
            assert time.perf_counter() - t0 < 0.1
        time.sleep(0.5)
        assert not publisher.connected and publisher.stats()["queued"] == 5
        broker.start()
        assert publisher.wait_until_connected(10)
        assert publisher.flush(10), publisher.stats()
        sub = Subscriber(broker.port, "sightline/events", client_id="collector", clean=False)
        got = [json.loads(m.payload)["id"] for m in sub.wait_for("sightline/events", 5)]
        sub.close()
        assert got == [e.id for e in events]
    finally:
        publisher.close(timeout=0.5)
        broker.stop()


def test_broker_killed_midway_never_blocks_and_recovers(tmp_path):
    broker = Broker(tmp_path).start()
    publisher = MqttPublisher("127.0.0.1", broker.port, queue_size=100, reconnect_min_s=0.2,
                              reconnect_max_s=1).start()
    sink = EventSink(mqtt=publisher)
    try:
        assert publisher.wait_until_connected(5)
        sub = Subscriber(broker.port, "sightline/events")
        sink.emit(make_event(0))
        sub.wait_for("sightline/events")
        sub.close()

        broker.stop(signal.SIGKILL)
        worst = 0.0
        for n in range(1, 501):
            t0 = time.perf_counter()
            sink.emit(make_event(n))
            sink.publish_counts("gate", {"person": n % 7})
            worst = max(worst, time.perf_counter() - t0)
            if n % 50 == 0:
                time.sleep(0.02)  # let the network thread notice the dead broker
        assert worst < 0.1, f"a pipeline call blocked for {worst * 1000:.0f} ms"
        stats = publisher.stats()
        assert not stats["connected"]
        assert stats["queued"] <= 100 and stats["dropped"] > 0  # bounded: the oldest were dropped
        assert sink.stats()["output_failed"] == 0

        broker.start()  # same port
        assert publisher.wait_until_connected(10)
        assert publisher.flush(10), publisher.stats()
        assert publisher.stats()["connects"] == 2
        # The restarted broker lost its retained messages; the publisher re-sent the latest count.
        assert retained(broker.port, "sightline/gate/person").payload == str(500 % 7).encode()
        assert retained(broker.port, "sightline/available").payload == b"online"
    finally:
        sink.close(timeout=0.5)
        broker.stop()
