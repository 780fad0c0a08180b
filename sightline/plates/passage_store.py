"""Stored ``vehicle_passage`` events of one plate: found by list entry or keyed hash, erased with the entry.

Used by :meth:`sightline.plates.lists.PlateLists.erase`, by retention of expired entries and by export.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from sightline.events.models import EventType
from sightline.store import events_repo

log = logging.getLogger(__name__)
PAGE = 500


def passages_of(session: Session, *, entry_id: str | None = None, plate_hash: str | None = None) -> list[Any]:
    """Stored passage rows that hit list entry ``entry_id`` or carry ``plate_hash``."""
    query = events_repo.EventQuery(types=(EventType.VEHICLE_PASSAGE.value,))
    found, offset = [], 0
    while True:
        rows = events_repo.select_event_rows(session, query, limit=PAGE, offset=offset, newest_first=False)
        for row in rows:
            data = row.data or {}
            hit = data.get("list_hit") or {}
            if (entry_id is not None and hit.get("entry_id") == entry_id) or \
                    (plate_hash is not None and data.get("plate_hash") == plate_hash):
                found.append(row)
        if len(rows) < PAGE:
            return found
        offset += PAGE


def erase_passages(session: Session, *, entry_id: str, plate_hash: str) -> int:
    """Delete the passages of a plate-list entry (by its id or its plate's keyed hash) and their snapshot
    files no other event uses; returns passages deleted (same transaction as the entry's erasure)."""
    rows = passages_of(session, entry_id=entry_id, plate_hash=plate_hash)
    paths = {row.snapshot for row in rows if row.snapshot}
    for row in rows:
        session.delete(row)
    session.flush()
    for path in paths - events_repo.snapshots_in_use(session, paths):
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as exc:  # one unreadable file must not stop an erasure
            log.warning("cannot delete snapshot %s: %s", path, exc)
    return len(rows)
