"""Events in the SQL store: saving, filtered queries, retention and erasure (the SQL is in ``store.events_repo``).

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
from typing import TYPE_CHECKING, Any

from sightline.errors import NotFoundError
from sightline.events.models import Event, EventError, EventType, as_utc, utcnow
from sightline.store import events_repo
from sightline.store.events_repo import EventQuery, EventRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["EventFilter", "EventRow", "RemovalResult", "apply_retention", "count_events", "event_facets", "get_event",
           "make_filter",
           "purge_events", "purge_snapshots", "query_events", "save_event", "unlink_subject"]

log = logging.getLogger(__name__)

MAX_PAGE = 1000


def row_from_event(event: Event) -> EventRow:
    """The table row of ``event``."""
    return EventRow(id=event.id, type=event.type.value, camera=event.camera, label=event.label,
                    track_id=event.track_id, zone=event.zone, start_time=as_utc(event.start_time),
                    end_time=as_utc(event.end_time) if event.end_time else None, score=event.score,
                    subject_id=event.subject_id, subject_name=event.subject_name, snapshot=event.snapshot,
                    data=dict(event.data))


def event_from_row(row: EventRow) -> Event:
    """The :class:`Event` a table row stores."""
    return Event(EventType(row.type), row.camera, row.label, start_time=as_utc(row.start_time),
                 end_time=as_utc(row.end_time) if row.end_time else None, track_id=row.track_id,
                 zone=row.zone, score=row.score, subject_id=row.subject_id, subject_name=row.subject_name,
                 snapshot=row.snapshot, data=dict(row.data or {}), id=row.id)


def save_event(session: Session, event: Event) -> None:
    """Add ``event`` to the session's transaction."""
    events_repo.add_event_row(session, row_from_event(event))


def get_event(session: Session, event_id: str) -> Event:
    """One event by id (:class:`NotFoundError` if absent or purged)."""
    row = events_repo.get_event_row(session, event_id)
    if row is None:
        raise NotFoundError(f"no event {event_id!r}")
    return event_from_row(row)


@dataclass(frozen=True)
class EventFilter(EventQuery):
    """Which events to return (the store's fields, checked): every given field must match, times select on
    ``start_time`` in [since, until)."""

    def __post_init__(self) -> None:
        for kind in self.types:
            try:
                EventType(kind)
            except ValueError:
                raise EventError(f"unknown event type {kind!r}: use one of "
                                 f"{', '.join(t.value for t in EventType)}", code="bad_query") from None
        if self.since and self.until and as_utc(self.since) > as_utc(self.until):
            raise EventError("'since' is after 'until'", code="bad_query")

    def to_query(self) -> EventQuery:
        """The store's query for this filter (times as aware UTC)."""
        return EventQuery(self.camera, self.label, self.subject_id, self.types, self.zone,
                          as_utc(self.since) if self.since is not None else None,
                          as_utc(self.until) if self.until is not None else None)


def event_facets(session: Session) -> dict[str, Any]:
    """The values the filters can take: cameras, labels, types, and the people seen so far (id and name)."""
    found = events_repo.event_facets(session)
    subjects = sorted(({"id": sid, "name": name} for sid, name in found["people"]), key=lambda s: s["name"] or "")
    return {"cameras": found["cameras"], "labels": found["labels"], "types": found["types"], "subjects": subjects}


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
    rows = events_repo.select_event_rows(session, make_filter(**filters).to_query(), limit=limit, offset=offset,
                                         newest_first=newest_first)
    return [event_from_row(row) for row in rows]


def count_events(session: Session, **filters: Any) -> int:
    """How many events match ``filters``."""
    return events_repo.count_event_rows(session, make_filter(**filters).to_query())


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
    return paths - events_repo.snapshots_in_use(session, paths)


def purge_events(session: Session, older_than_days: float, *, now: datetime | None = None) -> RemovalResult:
    """Delete events that started more than ``older_than_days`` ago, and snapshots no other event uses."""
    if older_than_days <= 0:
        raise EventError("retention must be more than 0 days", code="bad_query")
    cutoff = as_utc((now or utcnow()) - timedelta(days=older_than_days))
    deleted, paths = events_repo.delete_started_before(session, cutoff)
    return RemovalResult(events_deleted=deleted, snapshots_deleted=_remove_files(_unreferenced(session, paths)))


def purge_snapshots(session: Session, older_than_days: float, *, now: datetime | None = None) -> RemovalResult:
    """Delete snapshot files of events older than ``older_than_days``; the events stay, without snapshot."""
    if older_than_days <= 0:
        raise EventError("retention must be more than 0 days", code="bad_query")
    cutoff = as_utc((now or utcnow()) - timedelta(days=older_than_days))
    paths = events_repo.snapshots_started_before(session, cutoff)
    if not paths:
        return RemovalResult()
    changed = events_repo.clear_snapshots(session, paths)
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
    deleted, unlinked, paths = events_repo.remove_subject_rows(session, subject_id, EventType.PERSON_SEEN.value)
    unlinked += events_repo.clear_snapshots(session, paths)
    session.flush()
    return RemovalResult(events_deleted=deleted, events_unlinked=unlinked, snapshots_deleted=_remove_files(paths))
