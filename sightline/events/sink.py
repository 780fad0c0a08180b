"""One call fans an event out to every output: database, audit log, MQTT and webhooks.

The database write happens on the caller's thread (a local insert); MQTT and
webhooks only queue. A failing output is logged and counted, never raised, so
one broken output cannot stop a camera.

With a ``run_key`` the sink is idempotent: each event gets a stable id
(:func:`sightline.events.ids.stable_event_id`), and an event whose id is already
stored (a camera run replayed after its worker was restarted on another node) is
counted as a duplicate and sent nowhere.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from sightline.errors import SightlineError
from sightline.events.ids import stable_event_id
from sightline.events.models import Event, EventType
from sightline.events.store import save_event
from sightline.store import events_repo

log = logging.getLogger(__name__)


class EventPublisher(Protocol):
    """The MQTT output (:class:`sightline.events.mqtt.MqttPublisher`): queues, never blocks the camera."""

    def publish_event(self, event: Event) -> None: ...

    def publish_count(self, camera: str, label: str, count: int) -> None: ...

    def stats(self) -> Mapping[str, Any]: ...

    def close(self, timeout: float = ...) -> None: ...


class EventSender(Protocol):
    """The webhook output (:class:`sightline.events.webhooks.WebhookSender`)."""

    def send(self, event: Event) -> None: ...

    def stats(self) -> Mapping[str, Any]: ...

    def close(self, timeout: float = ...) -> None: ...


class AuditAppender(Protocol):
    """Appends an audit row inside an open transaction (:class:`sightline.privacy.audit.AuditLog`)."""

    def append(self, session: Session, *, actor: str, action: str, subject_id: str | None = ...,
               outcome: str = ..., details: Mapping[str, Any] | None = ...) -> Any: ...


class EventSink:
    """Fans events out; every output is optional.

    ``audit`` (a :class:`sightline.privacy.audit.AuditLog`) records each
    recognition outcome (``person_seen`` = match, ``unknown_person`` = no match)
    in the same transaction as the event; leave it None when identification is
    already audited upstream.
    """

    def __init__(self, sessions: sessionmaker[Session] | None = None, *, mqtt: EventPublisher | None = None,
                 webhooks: EventSender | None = None, audit: AuditAppender | None = None,
                 actor: str = "pipeline", run_key: str | None = None) -> None:
        """``run_key``: the camera run's key, for idempotent event ids (None: each event keeps its random id)."""
        self.sessions, self.mqtt, self.webhooks, self.audit, self.actor = sessions, mqtt, webhooks, audit, actor
        self.run_key = run_key
        self._lock = threading.Lock()
        self.counters = {"emitted": 0, "stored": 0, "store_failed": 0, "output_failed": 0, "duplicates": 0}

    def emit(self, event: Event) -> bool:
        """Send ``event`` everywhere; True when it was stored (or there is no store, or it was stored before)."""
        if self.run_key is not None:
            event.id = stable_event_id(self.run_key, event)
        try:
            stored = self._store(event)
        except _AlreadyStored:
            self._count("duplicates")
            return True
        if self.mqtt is not None:
            self._output("mqtt", self.mqtt.publish_event, event)
        if self.webhooks is not None:
            self._output("webhooks", self.webhooks.send, event)
        self._count("emitted")
        return stored

    def _output(self, name: str, deliver: Callable[[Event], None], event: Event) -> None:
        try:
            deliver(event)
        except Exception:  # an output bug must not stop the camera
            log.exception("event output %s failed", name)
            self._count("output_failed")

    def publish_counts(self, camera: str, counts: Mapping[str, int]) -> None:
        """Current object counts of one camera (MQTT retained topics; unchanged counts are not resent)."""
        if self.mqtt is None:
            return
        for label, count in counts.items():
            self.mqtt.publish_count(camera, label, count)

    def _store(self, event: Event) -> bool:
        if self.sessions is None:
            return True
        try:
            with self.sessions.begin() as session:
                if self.run_key is not None and events_repo.get_event_row(session, event.id) is not None:
                    raise _AlreadyStored
                save_event(session, event)
                if self.audit is not None and event.type in (EventType.PERSON_SEEN, EventType.UNKNOWN_PERSON):
                    matched = event.type is EventType.PERSON_SEEN
                    self.audit.append(session, actor=self.actor, action="identify", subject_id=event.subject_id,
                                      outcome="match" if matched else "no_match",
                                      details={"camera": event.camera, "event_id": event.id,
                                               "track_id": event.track_id,
                                               "score": None if event.score is None else round(event.score, 4)})
        except (SQLAlchemyError, SightlineError) as exc:
            if isinstance(exc, IntegrityError) and self.run_key is not None and self._already_stored(event.id):
                raise _AlreadyStored from None  # another worker of the same run stored it between check and insert
            log.error("could not store event %s (%s on %s): %s", event.id, event.type.value, event.camera, exc)
            self._count("store_failed")
            return False
        self._count("stored")
        return True

    def _already_stored(self, event_id: str) -> bool:
        assert self.sessions is not None
        with self.sessions() as session:
            return events_repo.get_event_row(session, event_id) is not None

    def _count(self, key: str) -> None:
        with self._lock:
            self.counters[key] += 1

    def stats(self) -> dict[str, Any]:
        """Counters of this sink plus those of its MQTT and webhook outputs."""
        with self._lock:
            out: dict[str, Any] = dict(self.counters)
        if self.mqtt is not None:
            out["mqtt"] = self.mqtt.stats()
        if self.webhooks is not None:
            out["webhooks"] = self.webhooks.stats()
        return out

    def close(self, timeout: float = 2.0) -> None:
        """Flush and stop the background outputs."""
        if self.mqtt is not None:
            self.mqtt.close(timeout)
        if self.webhooks is not None:
            self.webhooks.close(timeout)


class _AlreadyStored(Exception):
    """The event's stable id is already in the store (a replayed event)."""
