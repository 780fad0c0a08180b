"""MQTT output (paho-mqtt 2.x) with a topic scheme modelled on Frigate's.

Topics, under ``topic_prefix`` (default ``sightline``):

- ``sightline/available``: ``online`` / ``offline``, retained; ``offline`` is
  also the Last Will, so the broker announces a crash or a lost connection.
- ``sightline/events``: every event as JSON (:meth:`Event.to_dict`), QoS 1.
- ``sightline/<camera>/<label>``: how many ``label`` objects the camera sees
  now, retained (``person``, ``car``... spaces become ``_``).
- ``sightline/<camera>/person_seen``: the subject's name when an enrolled
  person is recognised (never for unknown people).
- ``sightline/<camera>/plate``: per ``vehicle_passage``, JSON ``{"plate", "plate_hash", "list_hit", "list",
  "confidence", "direction"}``; ``plate`` is None for plates on no list (unless the camera stores plain text).

Publishing never blocks the caller and never raises on network trouble:
messages go into a bounded in-memory queue (the oldest is dropped when it is
full, and counted) that a background thread hands to paho once connected;
paho reconnects with exponential backoff and resends unacknowledged QoS 1
messages. The latest count per topic is re-published on every reconnect.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from sightline.errors import ConfigError
from sightline.events.models import Event, EventType

log = logging.getLogger(__name__)

QOS = 1
MAX_UNACKED = 100  # messages handed to paho but not yet acknowledged by the broker
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def topic_part(text: str) -> str:
    """``text`` made safe as one topic level (no ``/``, ``+``, ``#`` or spaces)."""
    return _UNSAFE.sub("_", text.strip()).strip("_") or "_"


@dataclass(frozen=True)
class _Message:
    topic: str
    payload: bytes
    retain: bool


class MqttPublisher:
    """Publishes events to one broker from a background thread; see the module docstring for topics."""

    def __init__(self, host: str, port: int = 1883, *, topic_prefix: str = "sightline", client_id: str | None = None,
                 username: str | None = None, password: str | None = None, tls: bool = False,
                 ca_certs: str | None = None, keepalive: int = 60, queue_size: int = 1000,
                 reconnect_min_s: float = 1.0, reconnect_max_s: float = 30.0) -> None:
        if queue_size < 1:
            raise ConfigError("mqtt queue_size must be >= 1")
        self.host, self.port, self.keepalive = host, port, keepalive
        self.prefix = topic_prefix.strip("/")
        self.availability_topic = f"{self.prefix}/available"
        self._queue: deque[_Message] = deque()
        self._queue_size = queue_size
        self._cond = threading.Condition()
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._retained: dict[str, bytes] = {}  # latest payload of each count topic
        self._counters = {"dropped": 0, "handed": 0, "delivered": 0, "connects": 0}
        self._unacked: set[int] = set()  # mids handed to paho by the worker, not yet acknowledged
        self._early_acks: set[int] = set()  # acknowledged before the worker recorded them (fast broker)
        self._control_mids: set[int] = set()  # availability and retained re-sends made on connect
        self._worker: threading.Thread | None = None

        self.client = paho.Client(CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"sightline-{uuid.uuid4().hex[:8]}",
                                  protocol=paho.MQTTv311, clean_session=True)
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls:
            try:
                self.client.tls_set(ca_certs=ca_certs)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"mqtt tls: cannot load CA certificates {ca_certs!r}: {exc}") from None
        self.client.will_set(self.availability_topic, b"offline", qos=QOS, retain=True)
        self.client.reconnect_delay_set(reconnect_min_s, reconnect_max_s)  # type: ignore[arg-type]
        self.client.max_inflight_messages_set(20)
        # paho's own store stays unbounded so the availability and retained messages sent on (re)connect are
        # never refused; the worker bounds it instead by handing over at most MAX_UNACKED unacknowledged messages.
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish

    @classmethod
    def from_config(cls, config, **overrides: Any) -> MqttPublisher:
        """From a :class:`sightline.video.config.MqttConfig`; ``overrides`` win (e.g. reconnect timings)."""
        options: dict[str, Any] = {
            "topic_prefix": config.topic_prefix, "client_id": config.client_id, "username": config.username,
            "password": config.password, "tls": config.tls, "ca_certs": config.ca_certs,
            "keepalive": config.keepalive, "queue_size": config.queue_size,
        }
        options.update(overrides)
        return cls(config.host, config.port, **options)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> MqttPublisher:
        """Start connecting in the background (returns at once, even if the broker is down)."""
        if self._worker is not None:
            return self
        self.client.connect_async(self.host, self.port, keepalive=self.keepalive)
        self.client.loop_start()
        self._worker = threading.Thread(target=self._run, name="sightline-mqtt", daemon=True)
        self._worker.start()
        return self

    def close(self, timeout: float = 2.0) -> None:
        """Flush for up to ``timeout`` seconds, announce ``offline``, disconnect cleanly."""
        if self._worker is None:
            return
        self.flush(timeout)
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        self._worker.join(timeout=1.0)
        if self._connected.is_set():
            info = self.client.publish(self.availability_topic, b"offline", qos=QOS, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):  # raised when the connection just dropped
                info.wait_for_publish(timeout=max(timeout, 0.1))
        self.client.disconnect()
        self.client.loop_stop()
        self._worker = None

    def __enter__(self) -> MqttPublisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_until_connected(self, timeout: float) -> bool:
        """True once connected (at most ``timeout`` seconds)."""
        return self._connected.wait(timeout)

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued has been acknowledged by the broker (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                idle = not self._queue and not self._unacked
            if idle:
                return True
            time.sleep(0.01)
        return False

    def stats(self) -> dict[str, int | bool]:
        """Counters: queued, dropped (queue full), handed to paho, delivered (acknowledged), connects."""
        with self._cond:
            return {"connected": self.connected, "queued": len(self._queue), **self._counters}

    # ------------------------------------------------------------ publishing

    def publish(self, subtopic: str, payload: str | bytes, *, retain: bool = False) -> None:
        """Queue ``payload`` for ``<prefix>/<subtopic>``; never blocks."""
        topic = f"{self.prefix}/{subtopic}"
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        with self._cond:
            if retain:
                self._retained[topic] = data
            if len(self._queue) >= self._queue_size:
                self._queue.popleft()
                self._counters["dropped"] += 1
            self._queue.append(_Message(topic, data, retain))
            self._cond.notify()

    def publish_event(self, event: Event) -> None:
        """``<prefix>/events`` (JSON), plus ``<prefix>/<camera>/person_seen`` for a recognition."""
        self.publish("events", json.dumps(event.to_dict(), ensure_ascii=False, separators=(",", ":")))
        if event.type is EventType.PERSON_SEEN:
            self.publish(f"{topic_part(event.camera)}/person_seen", event.subject_name or event.subject_id or "")
        elif event.type is EventType.VEHICLE_PASSAGE:
            data, hit = event.data, event.data.get("list_hit") or {}
            payload = {"plate": data.get("plate"), "plate_hash": data.get("plate_hash"), "list_hit": hit.get("match"),
                       "list": hit.get("list"), "confidence": data.get("plate_confidence"),
                       "direction": data.get("direction")}
            self.publish(f"{topic_part(event.camera)}/plate", json.dumps(payload, separators=(",", ":")))

    def publish_count(self, camera: str, label: str, count: int) -> None:
        """Retained ``<prefix>/<camera>/<label>`` = current count (sent only when it changes)."""
        topic = f"{topic_part(camera)}/{topic_part(label)}"
        payload = str(int(count)).encode()
        with self._cond:
            if self._retained.get(f"{self.prefix}/{topic}") == payload:
                return
        self.publish(topic, payload, retain=True)

    # ------------------------------------------------------------ background side

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping.is_set():
                    self._cond.wait(0.5)
                if self._stopping.is_set():
                    return
                message = self._queue[0]
            if not self._connected.wait(0.2):
                continue
            with self._cond:
                backlog = len(self._unacked)
            if backlog >= MAX_UNACKED:  # the broker is slow or the link just died: let paho catch up
                time.sleep(0.02)
                continue
            info = self.client.publish(message.topic, message.payload, qos=QOS, retain=message.retain)
            # NO_CONN with QoS 1: paho keeps the message and sends it after reconnecting.
            if info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                with self._cond:
                    if self._queue and self._queue[0] is message:
                        self._queue.popleft()
                    self._counters["handed"] += 1
                    if info.mid in self._early_acks:
                        self._early_acks.discard(info.mid)
                        self._counters["delivered"] += 1
                    else:
                        self._unacked.add(info.mid)
            else:
                log.warning("mqtt publish to %s failed: %s", message.topic, info.rc)
                time.sleep(0.05)

    def _on_connect(self, client: paho.Client, _userdata: Any, _flags: Any, reason_code: Any,
                    _properties: Any) -> None:
        if reason_code.is_failure:
            log.warning("mqtt broker %s:%s refused the connection: %s", self.host, self.port, reason_code)
            return
        with self._cond:
            retained = [(self.availability_topic, b"online"), *self._retained.items()]
            self._counters["connects"] += 1
        mids = [client.publish(topic, payload, qos=QOS, retain=True).mid for topic, payload in retained]
        with self._cond:  # acknowledgements arrive on this thread, after this callback returns
            self._control_mids.update(mids)
        log.info("mqtt connected to %s:%s", self.host, self.port)
        self._connected.set()

    def _on_disconnect(self, _client: paho.Client, _userdata: Any, _flags: Any, reason_code: Any,
                       _properties: Any) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("mqtt connection to %s:%s lost (%s); reconnecting", self.host, self.port, reason_code)

    def _on_publish(self, _client: paho.Client, _userdata: Any, mid: int, _reason_code: Any,
                    _properties: Any) -> None:
        with self._cond:
            if mid in self._control_mids:
                self._control_mids.discard(mid)
            elif mid in self._unacked:
                self._unacked.discard(mid)
                self._counters["delivered"] += 1
            else:
                self._early_acks.add(mid)
