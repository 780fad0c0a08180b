"""The event record every output (database, MQTT, webhooks, API) shares.

Only ``person_seen`` events (and ``vehicle_passage``, for its enrolled driver) may name someone, and only
an enrolled subject:
unknown people are never given an identifier that outlives their track on
one camera.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sightline.errors import SightlineError


class EventType(StrEnum):
    """What happened."""

    TRACK_START = "track_start"
    TRACK_END = "track_end"
    PERSON_SEEN = "person_seen"  # an enrolled subject was recognised (subject, score)
    UNKNOWN_PERSON = "unknown_person"  # a person track with a face that matched nobody enrolled
    ZONE_ENTER = "zone_enter"
    ZONE_EXIT = "zone_exit"
    PLATE_READ = "plate_read"
    VEHICLE_PASSAGE = "vehicle_passage"  # one vehicle track: voted plate, list hit, driver (enrolled or unknown)


class EventError(SightlineError):
    """An event is malformed (bad type, naming someone in a non-recognition event...)."""

    code = "bad_event"


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive values are taken to be UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Event:
    """One event. ``track_id`` is local to one camera's tracker; ``data`` holds type-specific extras
    (e.g. ``{"plate": "AB12CDE"}`` or ``{"box": [x1, y1, x2, y2]}``) and must stay JSON-serialisable."""

    type: EventType
    camera: str
    label: str
    start_time: datetime = field(default_factory=utcnow)
    end_time: datetime | None = None
    track_id: int | None = None
    zone: str | None = None
    score: float | None = None
    subject_id: str | None = None
    subject_name: str | None = None
    snapshot: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        try:
            self.type = EventType(self.type)
        except ValueError:
            raise EventError(f"unknown event type {self.type!r}: use one of "
                             f"{', '.join(t.value for t in EventType)}") from None
        if not self.camera or not self.label:
            raise EventError("an event needs a camera and a label")
        self.start_time = as_utc(self.start_time)
        if self.end_time is not None:
            self.end_time = as_utc(self.end_time)
            if self.end_time < self.start_time:
                raise EventError("event end_time is before its start_time")
        if self.type is EventType.PERSON_SEEN:
            if not self.subject_id:
                raise EventError("a person_seen event needs the enrolled subject's id")
        elif self.type is not EventType.VEHICLE_PASSAGE and (self.subject_id is not None
                                                             or self.subject_name is not None):
            raise EventError(f"only person_seen and vehicle_passage events may name an enrolled subject, "
                             f"not {self.type.value}")
        if self.type in (EventType.ZONE_ENTER, EventType.ZONE_EXIT) and not self.zone:
            raise EventError(f"a {self.type.value} event needs its zone")
        if self.score is not None:
            self.score = float(self.score)

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON shape (MQTT, webhooks, API): times are ISO 8601 UTC."""
        return {
            "id": self.id,
            "type": self.type.value,
            "camera": self.camera,
            "label": self.label,
            "track_id": self.track_id,
            "zone": self.zone,
            "start_time": _iso(self.start_time),
            "end_time": _iso(self.end_time),
            "score": None if self.score is None else round(self.score, 4),
            "subject_id": self.subject_id,
            "subject_name": self.subject_name,
            "snapshot": self.snapshot,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Event:
        """Inverse of :meth:`to_dict`."""
        fields = dict(payload)
        for key in ("start_time", "end_time"):
            if isinstance(fields.get(key), str):
                fields[key] = datetime.fromisoformat(fields[key].replace("Z", "+00:00"))
        if fields.get("data") is None:
            fields["data"] = {}
        try:
            return cls(**fields)
        except TypeError as exc:
            raise EventError(f"not an event: {exc}") from None
