"""Events in the SQL store: the ``events`` table, filtered queries, retention and erasure.

Times are bound as aware UTC datetimes (SQLite keeps them as UTC text,
PostgreSQL as timestamptz). ``subject_id`` is set only on ``person_seen`` rows
and references ``subjects.id`` with ``ON DELETE CASCADE``, so deleting a
subject deletes its recognitions; the gallery's erase should still call
:func:`unlink_subject` first, which also removes the snapshot files that show
the person's face unblurred.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, Select, String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from sightline.errors import NotFoundError
from sightline.events.models import Event, EventError, EventType, as_utc, utcnow
from sightline.store.tables import Base

log = logging.getLogger(__name__)

MAX_PAGE = 1000


class EventRow(Base):
    """One stored event (see :class:`sightline.events.models.Event`)."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    camera: Mapped[str] = mapped_column(String(100), index=True)
    label: Mapped[str] = mapped_column(String(50), index=True)
    track_id: Mapped[int | None] = mapped_column(Integer)
    zone: Mapped[str | None] = mapped_column(String(100))
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    end_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    score: Mapped[float | None] = mapped_column(Float)
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), index=True)
    subject_name: Mapped[str | None] = mapped_column(String(200))
    snapshot: Mapped[str | None] = mapped_column(String(1000))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    @classmethod
    def from_event(cls, event: Event) -> EventRow:
        return cls(id=event.id, type=event.type.value, camera=event.camera, label=event.label,
                   track_id=event.track_id, zone=event.zone, start_time=as_utc(event.start_time),
                   end_time=as_utc(event.end_time) if event.end_time else None, score=event.score,
                   subject_id=event.subject_id, subject_name=event.subject_name, snapshot=event.snapshot,
                   data=dict(event.data))

    def to_event(self) -> Event:
        return Event(EventType(self.type), self.camera, self.label, start_time=as_utc(self.start_time),
                     end_time=as_utc(self.end_time) if self.end_time else None, track_id=self.track_id,
                     zone=self.zone, score=self.score, subject_id=self.subject_id, subject_name=self.subject_name,
                     snapshot=self.snapshot, data=dict(self.data or {}), id=self.id)


def save_event(session: Session, event: Event) -> None:
    """Add ``event`` to the session's transaction."""
    session.add(EventRow.from_event(event))


def get_event(session: Session, event_id: str) -> Event:
    """One event by id (:class:`NotFoundError` if absent or purged)."""
    row = session.get(EventRow, event_id)
    if row is None:
        raise NotFoundError(f"no event {event_id!r}")
    return row.to_event()


@dataclass(frozen=True)
class EventFilter:
    """Which events to return; every given field must match. Times select on ``start_time`` in [since, until)."""

    camera: str | None = None
    label: str | None = None
    subject_id: str | None = None
    types: tuple[str, ...] = ()
    zone: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for kind in self.types:
            try:
                EventType(kind)
            except ValueError:
                raise EventError(f"unknown event type {kind!r}: use one of "
                                 f"{', '.join(t.value for t in EventType)}", code="bad_query") from None
        if self.since and self.until and as_utc(self.since) > as_utc(self.until):
            raise EventError("'since' is after 'until'", code="bad_query")

    def apply(self, query: Select) -> Select:
        for column, value in ((EventRow.camera, self.camera), (EventRow.label, self.label),
                              (EventRow.subject_id, self.subject_id), (EventRow.zone, self.zone)):
            if value is not None:
                query = query.where(column == value)
        if self.types:
            query = query.where(EventRow.type.in_(self.types))
        if self.since is not None:
            query = query.where(EventRow.start_time >= as_utc(self.since))
        if self.until is not None:
            query = query.where(EventRow.start_time < as_utc(self.until))
        return query


def make_filter(*, camera: str | None = None, label: str | None = None, subject_id: str | None = None,
                type: str | Iterable[str] | None = None, zone: str | None = None,  # noqa: A002
                since: datetime | None = None, until: datetime | None = None) -> EventFilter:
    """An :class:`EventFilter`; ``type`` is one type or several."""
    types = (type,) if isinstance(type, str) else tuple(type or ())
    return EventFilter(camera, label, subject_id, types, zone, since, until)


def query_events(session: Session, *, limit: int = 100, offset: int = 0, newest_first: bool = True,
                 **filters: Any) -> list[Event]:
    """Events matching ``filters`` (see :func:`make_filter`), one page at a time."""
    if not 1 <= limit <= MAX_PAGE:
        raise EventError(f"limit must be between 1 and {MAX_PAGE}", code="bad_query")
    if offset < 0:
        raise EventError("offset must be >= 0", code="bad_query")
    order = (EventRow.start_time.desc(), EventRow.id.desc()) if newest_first else (EventRow.start_time,
                                                                                    EventRow.id)
    query = make_filter(**filters).apply(select(EventRow)).order_by(*order).limit(limit).offset(offset)
    return [row.to_event() for row in session.execute(query).scalars()]


def count_events(session: Session, **filters: Any) -> int:
    """How many events match ``filters``."""
    query = make_filter(**filters).apply(select(func.count()).select_from(EventRow))
    return int(session.execute(query).scalar_one())


@dataclass
class RemovalResult:
    """What a purge or an erasure removed."""

    events_deleted: int = 0
    events_unlinked: int = 0
    snapshots_deleted: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"events_deleted": self.events_deleted, "events_unlinked": self.events_unlinked,
                "snapshots_deleted": len(self.snapshots_deleted)}


def _remove_files(paths: Iterable[str]) -> list[str]:
    removed = []
    for path in sorted(set(paths)):
        try:
            Path(path).unlink()
            removed.append(path)
        except FileNotFoundError:
            removed.append(path)
        except OSError as exc:  # keep going: one unreadable file must not stop retention
            log.warning("cannot delete snapshot %s: %s", path, exc)
    return removed


def _unreferenced(session: Session, paths: set[str]) -> set[str]:
    if not paths:
        return set()
    still = session.execute(select(EventRow.snapshot).where(EventRow.snapshot.in_(paths))).scalars()
    return paths - set(still)


def purge_events(session: Session, older_than_days: float, *, now: datetime | None = None) -> RemovalResult:
    """Delete events that started more than ``older_than_days`` ago, and snapshots no other event uses."""
    if older_than_days <= 0:
        raise EventError("retention must be more than 0 days", code="bad_query")
    cutoff = as_utc((now or utcnow()) - timedelta(days=older_than_days))
    old = EventRow.start_time < cutoff
    paths = set(session.execute(select(EventRow.snapshot).where(old, EventRow.snapshot.is_not(None))).scalars())
    deleted = session.execute(delete(EventRow).where(old)).rowcount
    session.flush()
    return RemovalResult(events_deleted=deleted, snapshots_deleted=_remove_files(_unreferenced(session, paths)))


def purge_snapshots(session: Session, older_than_days: float, *, now: datetime | None = None) -> RemovalResult:
    """Delete snapshot files of events older than ``older_than_days``; the events stay, without snapshot."""
    if older_than_days <= 0:
        raise EventError("retention must be more than 0 days", code="bad_query")
    cutoff = as_utc((now or utcnow()) - timedelta(days=older_than_days))
    paths = set(session.execute(select(EventRow.snapshot).where(EventRow.start_time < cutoff,
                                                                EventRow.snapshot.is_not(None))).scalars())
    if not paths:
        return RemovalResult()
    changed = session.execute(update(EventRow).where(EventRow.snapshot.in_(paths)).values(snapshot=None)).rowcount
    return RemovalResult(events_unlinked=changed, snapshots_deleted=_remove_files(paths))


def apply_retention(session: Session, event_days: float, snapshot_days: float, *,
                    now: datetime | None = None) -> RemovalResult:
    """Both retention rules (e.g. from ``config.retention``) in one call."""
    snaps = purge_snapshots(session, snapshot_days, now=now)
    events = purge_events(session, event_days, now=now)
    return RemovalResult(events.events_deleted, snaps.events_unlinked,
                         snaps.snapshots_deleted + events.snapshots_deleted)


def unlink_subject(session: Session, subject_id: str) -> RemovalResult:
    """Erase a subject from the event history (call from the gallery's erase, in its transaction).

    Deletes the subject's ``person_seen`` events and the snapshot files they
    reference (those show the person unblurred), clears those snapshot paths
    on other events of the same tracks, and clears any other reference to the
    subject's id or name.
    """
    named = EventRow.subject_id == subject_id
    paths = set(session.execute(select(EventRow.snapshot).where(named, EventRow.snapshot.is_not(None))).scalars())
    deleted = session.execute(delete(EventRow).where(named, EventRow.type == EventType.PERSON_SEEN.value)).rowcount
    unlinked = session.execute(update(EventRow).where(named).values(subject_id=None, subject_name=None)).rowcount
    if paths:
        unlinked += session.execute(update(EventRow).where(EventRow.snapshot.in_(paths))
                                    .values(snapshot=None)).rowcount
    session.flush()
    return RemovalResult(events_deleted=deleted, events_unlinked=unlinked, snapshots_deleted=_remove_files(paths))
