"""SQL about camera events: the ``events`` table and every query on it (the event store's only way in).

Every function takes an open :class:`Session`; the caller owns the transaction.
Times are aware UTC datetimes (SQLite keeps them as UTC text, PostgreSQL as timestamptz).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, Select, String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from sightline.store.tables import Base


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


@dataclass(frozen=True)
class EventQuery:
    """Already-validated filter values; every given field must match, ``start_time`` in [since, until)."""

    camera: str | None = None
    label: str | None = None
    subject_id: str | None = None
    types: tuple[str, ...] = ()
    zone: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select) -> Select:
        """``query`` narrowed to the matching rows."""
        for column, value in ((EventRow.camera, self.camera), (EventRow.label, self.label),
                              (EventRow.subject_id, self.subject_id), (EventRow.zone, self.zone)):
            if value is not None:
                query = query.where(column == value)
        if self.types:
            query = query.where(EventRow.type.in_(self.types))
        if self.since is not None:
            query = query.where(EventRow.start_time >= self.since)
        if self.until is not None:
            query = query.where(EventRow.start_time < self.until)
        return query


def add_event_row(session: Session, row: EventRow) -> None:
    """Add ``row`` to the session's transaction."""
    session.add(row)


def get_event_row(session: Session, event_id: str) -> EventRow | None:
    """The row with this id, or None."""
    return session.get(EventRow, event_id)


def select_event_rows(session: Session, query: EventQuery, *, limit: int, offset: int,
                      newest_first: bool) -> Sequence[EventRow]:
    """One page of matching rows (newest or oldest first, ties broken by id)."""
    order = (EventRow.start_time.desc(), EventRow.id.desc()) if newest_first else (EventRow.start_time, EventRow.id)
    statement = query.apply(select(EventRow)).order_by(*order).limit(limit).offset(offset)
    return session.execute(statement).scalars().all()


def count_event_rows(session: Session, query: EventQuery) -> int:
    """How many rows match."""
    return int(session.execute(query.apply(select(func.count()).select_from(EventRow))).scalar_one())


def snapshots_in_use(session: Session, paths: set[str]) -> set[str]:
    """Which of ``paths`` some event still references."""
    if not paths:
        return set()
    return set(session.execute(select(EventRow.snapshot).where(EventRow.snapshot.in_(paths))).scalars())


def delete_started_before(session: Session, cutoff: datetime) -> tuple[int, set[str]]:
    """Delete events that started before ``cutoff``; (rows deleted, snapshot paths they referenced)."""
    old = EventRow.start_time < cutoff
    paths = set(session.execute(select(EventRow.snapshot).where(old, EventRow.snapshot.is_not(None))).scalars())
    deleted = session.execute(delete(EventRow).where(old)).rowcount
    session.flush()
    return deleted, paths


def snapshots_started_before(session: Session, cutoff: datetime) -> set[str]:
    """Snapshot paths of events that started before ``cutoff``."""
    return set(session.execute(select(EventRow.snapshot).where(EventRow.start_time < cutoff,
                                                               EventRow.snapshot.is_not(None))).scalars())


def clear_snapshots(session: Session, paths: Iterable[str]) -> int:
    """Set ``snapshot`` to NULL on every event referencing one of ``paths``; rows changed."""
    paths = set(paths)
    if not paths:
        return 0
    return session.execute(update(EventRow).where(EventRow.snapshot.in_(paths)).values(snapshot=None)).rowcount


def remove_subject_rows(session: Session, subject_id: str, recognition_type: str) -> tuple[int, int, set[str]]:
    """Delete the subject's ``recognition_type`` rows and clear its id and name elsewhere.

    Returns (rows deleted, rows unlinked, snapshot paths those rows referenced); the caller
    decides what to do with the files (see :func:`clear_snapshots`).
    """
    named = EventRow.subject_id == subject_id
    paths = set(session.execute(select(EventRow.snapshot).where(named, EventRow.snapshot.is_not(None))).scalars())
    deleted = session.execute(delete(EventRow).where(named, EventRow.type == recognition_type)).rowcount
    unlinked = session.execute(update(EventRow).where(named).values(subject_id=None, subject_name=None)).rowcount
    return deleted, unlinked, paths


def event_facets(session: Session) -> dict[str, Any]:
    """Distinct cameras, labels, types, and (subject id, name) pairs of the people seen."""
    cameras = sorted(session.scalars(select(EventRow.camera).distinct()))
    labels = sorted(session.scalars(select(EventRow.label).distinct()))
    types = sorted(session.scalars(select(EventRow.type).distinct()))
    people = session.execute(select(EventRow.subject_id, EventRow.subject_name).distinct()
                             .where(EventRow.subject_id.is_not(None))).all()
    return {"cameras": cameras, "labels": labels, "types": types,
            "people": [(subject_id, name) for subject_id, name in people]}
