"""Review items: a camera's events grouped per track (one person or object passing), Frigate-style.

An item is every event of one track on one camera (``track_start``, ``person_seen``, zone events,
``track_end``...); events without a track stand alone. The reviewed mark lives in each event row's
``data`` (``reviewed_at``, ``reviewed_by``), so retention and erasure remove it with the rows, and no
new table holds anything about anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sightline.store.events_repo import EventQuery, EventRow

MAX_EVENTS = 5000  # events read per listing (newest first); older items need a narrower time filter
TRACK_GAP = timedelta(minutes=10)  # the same track id after a longer silence is a new item (a restarted tracker)
_SNAPSHOT_RANK = {"person_seen": 0, "vehicle_passage": 1, "unknown_person": 2, "plate_read": 3, "zone_enter": 4,
                  "track_start": 5}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class ReviewItem:
    """The events of one track, with what a reviewer needs at a glance."""

    rows: list[EventRow] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return min(_utc(r.start_time) for r in self.rows)

    @property
    def end(self) -> datetime:
        return max(_utc(r.end_time or r.start_time) for r in self.rows)

    @property
    def reviewed(self) -> bool:
        return all((r.data or {}).get("reviewed_at") for r in self.rows)

    def people(self) -> list[dict[str, Any]]:
        """Enrolled people named in the item, best score first."""
        best: dict[str, EventRow] = {}
        for row in self.rows:
            if row.subject_id and (row.subject_id not in best or (row.score or 0) > (best[row.subject_id].score or 0)):
                best[row.subject_id] = row
        return [{"subject_id": r.subject_id, "name": r.subject_name, "score": r.score, "event_id": r.id}
                for r in sorted(best.values(), key=lambda r: -(r.score or 0))]

    def best_snapshot(self) -> EventRow | None:
        """The event whose snapshot shows the item best: a recognition, then an unknown face, then the rest."""
        shots = [r for r in self.rows if r.snapshot]
        if not shots:
            return None
        return min(shots, key=lambda r: (_SNAPSHOT_RANK.get(r.type, 9), -(r.score or 0), _utc(r.start_time)))

    def to_dict(self) -> dict[str, Any]:
        first = min(self.rows, key=lambda r: (_utc(r.start_time), r.id))
        shot = self.best_snapshot()
        marks = [(r.data or {}).get("reviewed_at") for r in self.rows]
        return {
            "id": first.id, "camera": first.camera, "label": first.label, "track_id": first.track_id,
            "start": _iso(self.start), "end": _iso(self.end),
            "duration_s": round((self.end - self.start).total_seconds(), 1),
            "types": sorted({r.type for r in self.rows}), "events": len(self.rows),
            "event_ids": [r.id for r in sorted(self.rows, key=lambda r: (_utc(r.start_time), r.id))],
            "zones": sorted({r.zone for r in self.rows if r.zone}),
            "people": self.people(), "unknown_face": any(r.type == "unknown_person" for r in self.rows),
            "snapshot_event_id": shot.id if shot else None,
            "reviewed": self.reviewed, "reviewed_at": max((m for m in marks if m), default=None),
        }


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def group_rows(rows: Sequence[EventRow]) -> list[ReviewItem]:
    """Rows grouped per (camera, track); a gap over TRACK_GAP starts a new item. Newest item first."""
    open_items: dict[tuple[str, int], ReviewItem] = {}
    items: list[ReviewItem] = []
    for row in sorted(rows, key=lambda r: (_utc(r.start_time), r.id)):
        if row.track_id is None:
            items.append(ReviewItem([row]))
            continue
        key = (row.camera, row.track_id)
        item = open_items.get(key)
        if item is None or _utc(row.start_time) - item.end > TRACK_GAP:
            item = ReviewItem()
            open_items[key] = item
            items.append(item)
        item.rows.append(row)
    return sorted(items, key=lambda i: (i.start, i.rows[0].id), reverse=True)


def review_items(session: Session, query: EventQuery, *, subject_id: str | None = None, zone: str | None = None,
                 reviewed: bool | None = None) -> tuple[list[ReviewItem], bool]:
    """Items of the events matching ``query`` (camera, time); an item is kept when one of its events names
    ``subject_id`` / is in ``zone``, and when its reviewed state is ``reviewed``. Returns (items, truncated)."""
    statement = query.apply(select(EventRow)).order_by(EventRow.start_time.desc(), EventRow.id.desc())
    rows = session.execute(statement.limit(MAX_EVENTS + 1)).scalars().all()
    truncated = len(rows) > MAX_EVENTS
    items = group_rows(rows[:MAX_EVENTS])
    if subject_id is not None:
        items = [i for i in items if any(r.subject_id == subject_id for r in i.rows)]
    if zone is not None:
        items = [i for i in items if any(r.zone == zone for r in i.rows)]
    if reviewed is not None:
        items = [i for i in items if i.reviewed == reviewed]
    return items, truncated


def mark_reviewed(session: Session, event_ids: Sequence[str], *, reviewed: bool, by: str,
                  now: datetime | None = None) -> list[EventRow]:
    """Set (or clear) the reviewed mark on these events; returns the rows changed (unknown ids are skipped)."""
    rows = session.execute(select(EventRow).where(EventRow.id.in_(list(event_ids)))).scalars().all()
    stamp = _iso(_utc(now or datetime.now(UTC)))
    for row in rows:
        data = {k: v for k, v in (row.data or {}).items() if k not in ("reviewed_at", "reviewed_by")}
        if reviewed:
            data.update(reviewed_at=stamp, reviewed_by=by)
        row.data = data  # a new dict, so the JSON column is written
    session.flush()
    return list(rows)


def zones_seen(session: Session) -> list[str]:
    """Distinct zones named by events (for the filter)."""
    return sorted(z for z in session.scalars(select(EventRow.zone).distinct()) if z)
