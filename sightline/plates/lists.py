"""Plate lists (watch, allow) with the accountability of enrolled subjects.

Every entry has a legal basis (GDPR art. 6), a purpose, who added it and a retention date; consent needs
evidence. Adding, looking up, hitting, exporting and erasing are audited. Audit rows name the entry's id
(``pl_...``), never the plate. Erasure removes the entry, every keyed-hash sighting of that plate and its
``vehicle_passage`` events.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sightline.errors import LegalBasisError, NotFoundError, SightlineError
from sightline.plates.fuzzy import Match, match
from sightline.plates.hashing import PlateHasher
from sightline.plates.passage_store import erase_passages, passages_of
from sightline.privacy.audit import AuditLog, entry_to_dict
from sightline.privacy.legal_basis import LegalBasis, check_consent_evidence, check_retention
from sightline.store import plates_repo as repo
from sightline.store.db import sqlite_checkpoint
from sightline.vision.plates.formats import normalise

MIN_PLATE, MAX_PLATE = 2, 10


class PlateListKind(StrEnum):
    WATCH = "watch"
    ALLOW = "allow"


class PlateListError(SightlineError):
    """A plate-list request that cannot be done (unknown entry, duplicate, bad plate)."""


class EntryCreate(BaseModel):
    """What must be known before a plate goes on a list."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    list_kind: PlateListKind
    plate: str = Field(min_length=MIN_PLATE, max_length=MAX_PLATE)
    legal_basis: LegalBasis
    purpose: str = Field(min_length=3, max_length=2000)
    evidence: str | None = Field(default=None, max_length=500)
    note: str | None = Field(default=None, max_length=500)
    added_by: str = Field(min_length=1, max_length=200)
    retain_until: datetime

    @field_validator("plate", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        return normalise(value) if isinstance(value, str) else value

    @field_validator("retain_until")
    @classmethod
    def _future(cls, value: datetime) -> datetime:
        return check_retention(value)

    @model_validator(mode="after")
    def _consent_needs_evidence(self) -> EntryCreate:
        check_consent_evidence(self.legal_basis, self.evidence)
        return self


@dataclass(frozen=True)
class ListHit:
    """A read plate that matched a list entry."""

    entry_id: str
    list_kind: str
    plate: str  # the entry's plate (may differ from the read when fuzzy)
    match: Match

    def to_dict(self) -> dict[str, object]:
        return {"entry_id": self.entry_id, "list": self.list_kind, "plate": self.plate, "match": self.match.kind,
                "reason": self.match.reason}


def entry_dict(row: repo.PlateListEntryRow) -> dict[str, object]:
    """JSON form of an entry (the plate hash is internal and left out)."""
    return {"id": row.id, "list": row.list_kind, "plate": row.plate, "note": row.note,
            "legal_basis": row.legal_basis, "purpose": row.purpose, "evidence": row.evidence,
            "added_by": row.added_by, "created_at": row.created_at.isoformat(),
            "retain_until": row.retain_until.isoformat()}


class PlateLists:
    """The watch and allow lists of one database."""

    def __init__(self, sessions: sessionmaker[Session], audit: AuditLog, hasher: PlateHasher) -> None:
        self.sessions, self.audit, self.hasher = sessions, audit, hasher

    def add(self, *, list_kind: str, plate: str, legal_basis: str | None, purpose: str | None, actor: str,
            retention_days: int | None = None, retain_until: datetime | None = None, evidence: str | None = None,
            note: str | None = None) -> dict[str, object]:
        """Put ``plate`` on a list; refused without a legal basis, purpose and retention (audited either way)."""
        if retain_until is None and retention_days is not None:
            if retention_days < 1:
                raise LegalBasisError("retention days must be at least 1")
            retain_until = datetime.now(UTC) + timedelta(days=retention_days)
        fields = {"list_kind": list_kind, "plate": plate, "legal_basis": legal_basis, "purpose": purpose,
                  "evidence": evidence, "note": note, "added_by": actor, "retain_until": retain_until}
        try:
            spec = EntryCreate.model_validate({k: v for k, v in fields.items() if v is not None})
        except ValidationError as exc:
            reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: "
                                f"{str(e['msg']).removeprefix('Value error, ')}" for e in exc.errors())
            self.audit.record(actor=actor, action="plate_list_add", outcome="refused",
                              details={"list": str(list_kind), "reason": reasons[:300]})
            raise LegalBasisError(f"plate list entry refused: {reasons}") from None
        row = repo.PlateListEntryRow(
            id="pl_" + secrets.token_hex(12), list_kind=spec.list_kind.value, plate=spec.plate,
            plate_hash=self.hasher.hash(spec.plate), note=spec.note, legal_basis=spec.legal_basis.value,
            purpose=spec.purpose, evidence=spec.evidence, added_by=actor, created_at=datetime.now(UTC),
            retain_until=spec.retain_until)
        try:
            with self.sessions.begin() as session:
                repo.add_entry(session, row)
                self.audit.append(session, actor=actor, action="plate_list_add", subject_id=row.id,
                                  details={"list": row.list_kind, "legal_basis": row.legal_basis,
                                           "retain_until": row.retain_until.isoformat()})
        except IntegrityError:
            raise PlateListError(f"that plate is already on the {spec.list_kind.value} list",
                                 code="plate_list_duplicate") from None
        return entry_dict(row)

    def entries(self, list_kind: str | None = None) -> list[dict[str, object]]:
        """Every entry (of one list, or all)."""
        if list_kind is not None and list_kind not in PlateListKind.__members__.values():
            raise PlateListError(f"unknown plate list {list_kind!r}; choose watch or allow", code="bad_plate_list")
        with self.sessions() as session:
            return [entry_dict(row) for row in repo.list_entries(session, list_kind)]

    def get(self, entry_id: str) -> dict[str, object]:
        with self.sessions() as session:
            return entry_dict(self._row(session, entry_id))

    def match(self, plate: str) -> list[ListHit]:
        """Entries that ``plate`` matches, exact ones first (not audited: callers audit what they report)."""
        read = normalise(plate)
        if not read:
            return []
        with self.sessions() as session:
            rows = repo.list_entries(session)
        hits = [ListHit(row.id, row.list_kind, row.plate, m) for row in rows if (m := match(read, row.plate))]
        return sorted(hits, key=lambda h: (not h.match.exact, h.list_kind, h.entry_id))

    def audit_hits(self, session: Session, hits: list[ListHit], *, actor: str, source: str,
                   confidence: float | None = None) -> None:
        """One audit row per hit, in the caller's transaction."""
        for hit in hits:
            details = {"list": hit.list_kind, "match": hit.match.kind, "reason": hit.match.reason, "source": source}
            if confidence is not None:
                details["confidence"] = round(float(confidence), 4)
            self.audit.append(session, actor=actor, action="plate_list_hit", subject_id=hit.entry_id,
                              outcome=hit.match.kind, details=details)

    def lookup(self, plate: str, *, actor: str, source: str = "lookup") -> list[ListHit]:
        """An operator's query: is ``plate`` on a list? Audited whether or not it is."""
        hits = self.match(plate)
        with self.sessions.begin() as session:
            if hits:
                self.audit_hits(session, hits, actor=actor, source=source)
            else:
                self.audit.append(session, actor=actor, action="plate_lookup", outcome="no_match",
                                  details={"source": source})
        return hits

    def export(self, entry_id: str, *, actor: str) -> dict[str, object]:
        """Everything held about one entry: the record and its audit rows (audited)."""
        with self.sessions.begin() as session:
            row = self._row(session, entry_id)
            data = {"entry": entry_dict(row),
                    "sightings": repo.count_sightings(session, row.plate_hash),
                    "passages": [{"event_id": p.id, "camera": p.camera, "start_time": p.start_time.isoformat()}
                                 for p in passages_of(session, entry_id=entry_id, plate_hash=row.plate_hash)]}
            self.audit.append(session, actor=actor, action="plate_list_export", subject_id=entry_id)
        data["audit"] = [entry_to_dict(e) for e in self.audit.for_subject(entry_id)]
        return data

    def erase(self, entry_id: str, *, actor: str, reason: str = "request") -> dict[str, int]:
        """Delete the entry, every sighting of its plate and its vehicle passages (with their snapshots);
        audited; SQLite's WAL is checkpointed."""
        with self.sessions.begin() as session:
            row = self._row(session, entry_id)
            sightings = repo.delete_sightings(session, [row.plate_hash])
            passages = erase_passages(session, entry_id=entry_id, plate_hash=row.plate_hash)
            repo.delete_entry(session, entry_id)
            counts = {"entries": 1, "sightings": sightings, "passages": passages}
            self.audit.append(session, actor=actor, action="plate_list_erase", subject_id=entry_id,
                              details={"reason": reason, **counts})
        sqlite_checkpoint(self.sessions.kw["bind"])
        return counts

    @staticmethod
    def _row(session: Session, entry_id: str) -> repo.PlateListEntryRow:
        return _entry_row(session, entry_id)


def _entry_row(session: Session, entry_id: str) -> repo.PlateListEntryRow:
    row = repo.get_entry(session, entry_id)
    if row is None:
        raise NotFoundError(f"no plate list entry {entry_id!r}", code="plate_entry_not_found")
    return row


def purge_expired_entries(session: Session, now: datetime) -> int:
    """Retention: delete entries past their date and the sightings of their plates; returns entries deleted."""
    expired = repo.expired_entries(session, now)
    for entry_id in expired:
        row = _entry_row(session, entry_id)
        repo.delete_sightings(session, [row.plate_hash])
        erase_passages(session, entry_id=entry_id, plate_hash=row.plate_hash)
        repo.delete_entry(session, entry_id)
    return len(expired)
