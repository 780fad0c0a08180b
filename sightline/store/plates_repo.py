"""SQL about licence plates: plate-list entries and keyed-hash sightings (the plate services' only way in).

List entries hold the plate in plain text: they are added on purpose, each with a legal basis, a purpose and
a retention date, like enrolled subjects. Sightings of plates on no list hold only a keyed hash (HMAC-SHA256
with a key kept outside the database), so they can be counted within their retention window but not read
back. Every function takes an open :class:`Session`; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import DateTime, Float, String, Text, UniqueConstraint, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from sightline.store.tables import Base, BigId


class PlateListEntryRow(Base):
    """One plate on the watch list or the allow list, and the legal basis for keeping it there."""

    __tablename__ = "plate_list_entries"
    __table_args__ = (UniqueConstraint("list_kind", "plate", name="uq_plate_list_entries_list_plate"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    list_kind: Mapped[str] = mapped_column(String(16), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    plate_hash: Mapped[str] = mapped_column(String(64), index=True)
    note: Mapped[str | None] = mapped_column(String(500))
    legal_basis: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(String(500))
    added_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retain_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class PlateSightingRow(Base):
    """A plate on no list seen once: its keyed hash only, never the text."""

    __tablename__ = "plate_sightings"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plate_hash: Mapped[str] = mapped_column(String(64), index=True)
    key_id: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(100))
    confidence: Mapped[float] = mapped_column(Float)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def add_entry(session: Session, row: PlateListEntryRow) -> PlateListEntryRow:
    """Insert one list entry (flushed, so a duplicate fails here)."""
    session.add(row)
    session.flush()
    return row


def get_entry(session: Session, entry_id: str) -> PlateListEntryRow | None:
    return session.get(PlateListEntryRow, entry_id)


def find_entry(session: Session, list_kind: str, plate: str) -> PlateListEntryRow | None:
    """The entry for ``plate`` on ``list_kind``, if any."""
    query = select(PlateListEntryRow).where(PlateListEntryRow.list_kind == list_kind,
                                            PlateListEntryRow.plate == plate)
    return session.scalars(query).first()


def list_entries(session: Session, list_kind: str | None = None) -> Sequence[PlateListEntryRow]:
    """Every entry (of one list, or of all), oldest first."""
    query = select(PlateListEntryRow).order_by(PlateListEntryRow.created_at, PlateListEntryRow.id)
    if list_kind is not None:
        query = query.where(PlateListEntryRow.list_kind == list_kind)
    return session.scalars(query).all()


def delete_entry(session: Session, entry_id: str) -> int:
    """Delete one entry; returns rows deleted (0 or 1)."""
    return int(session.execute(delete(PlateListEntryRow).where(PlateListEntryRow.id == entry_id)).rowcount or 0)


def expired_entries(session: Session, now: datetime) -> list[str]:
    """Ids of entries whose retention date is before ``now``."""
    query = select(PlateListEntryRow.id).where(PlateListEntryRow.retain_until < now).order_by(PlateListEntryRow.id)
    return list(session.scalars(query))


def add_sighting(session: Session, row: PlateSightingRow) -> PlateSightingRow:
    session.add(row)
    session.flush()
    return row


def count_sightings(session: Session, plate_hash: str, since: datetime | None = None) -> int:
    """How often the plate with ``plate_hash`` was seen (since ``since``)."""
    query = select(func.count()).select_from(PlateSightingRow).where(PlateSightingRow.plate_hash == plate_hash)
    if since is not None:
        query = query.where(PlateSightingRow.seen_at >= since)
    return int(session.scalar(query) or 0)


def delete_sightings(session: Session, plate_hashes: Sequence[str]) -> int:
    """Delete the sightings of these hashes (erasure of a plate)."""
    if not plate_hashes:
        return 0
    query = delete(PlateSightingRow).where(PlateSightingRow.plate_hash.in_(list(plate_hashes)))
    return int(session.execute(query).rowcount or 0)


def purge_sightings(session: Session, before: datetime) -> int:
    """Delete sightings older than ``before`` (retention)."""
    return int(session.execute(delete(PlateSightingRow).where(PlateSightingRow.seen_at < before)).rowcount or 0)


def count_all(session: Session) -> dict[str, int]:
    """Row counts (for status output; no personal data)."""
    entries = int(session.scalar(select(func.count()).select_from(PlateListEntryRow)) or 0)
    sightings = int(session.scalar(select(func.count()).select_from(PlateSightingRow)) or 0)
    return {"list_entries": entries, "sightings": sightings}


__all__ = ["PlateListEntryRow", "PlateSightingRow", "add_entry", "add_sighting", "count_all",
           "count_sightings", "delete_entry", "delete_sightings", "expired_entries", "find_entry", "get_entry",
           "list_entries", "purge_sightings"]
