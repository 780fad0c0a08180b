"""Append-only audit log, each row chained to the previous one by sha256.

A row records when, who (actor), what (action), which subject (its
pseudonymous id) and the outcome, plus small JSON details; never an image,
an embedding or a score vector. ``hash = sha256(canonical JSON of the row
including prev_hash)``, so editing, inserting or deleting any row breaks the
chain at that row, and :meth:`AuditLog.verify` names the first bad ``seq``.
Appends are serialised (SQLite: every transaction is ``BEGIN IMMEDIATE``;
PostgreSQL: a transaction-scoped advisory lock), so concurrent writers still
produce one linear chain. Removing rows from the *end* is only detectable
against a head (seq, hash) recorded elsewhere: pass it as ``expect_head``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from sightline.errors import SightlineError
from sightline.store.tables import AuditEntry

GENESIS_HASH = "0" * 64
AUDIT_LOCK = 0x5167_4175_6469  # PostgreSQL advisory-lock key of the chain head
MAX_NUMBER_LIST = 8  # longer lists of numbers look like biometric vectors and are refused


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces, UTF-8) used for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def row_hash(seq: int, ts: str, actor: str, action: str, subject_id: str | None, outcome: str,
             details: str, prev_hash: str) -> str:
    """sha256 of one row's canonical form (``details`` is its stored JSON text)."""
    payload = {"seq": seq, "ts": ts, "actor": actor, "action": action, "subject_id": subject_id,
               "outcome": outcome, "details": details, "prev_hash": prev_hash}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def _check_details(value: Any, path: str = "details") -> None:
    """Refuse anything that could carry biometric data into the log."""
    if isinstance(value, np.ndarray | bytes | bytearray | memoryview):
        raise SightlineError(f"audit {path} must not hold arrays or binary data", code="audit_biometric")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_details(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        if len(value) > MAX_NUMBER_LIST and all(isinstance(v, float) for v in value):
            raise SightlineError(f"audit {path} looks like a feature vector; not logged", code="audit_biometric")
        for index, item in enumerate(value):
            _check_details(item, f"{path}[{index}]")


@dataclass
class ChainReport:
    """Result of checking the whole chain."""

    ok: bool
    rows: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def entry_to_dict(entry: AuditEntry) -> dict[str, object]:
    """JSON form of a row (details parsed)."""
    return {"seq": entry.seq, "ts": entry.ts, "actor": entry.actor, "action": entry.action,
            "subject_id": entry.subject_id, "outcome": entry.outcome, "details": json.loads(entry.details),
            "prev_hash": entry.prev_hash, "hash": entry.hash}


class AuditLog:
    """The audit chain in one database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def append(self, session: Session, *, actor: str, action: str, subject_id: str | None = None,
               outcome: str = "ok", details: Mapping[str, Any] | None = None) -> AuditEntry:
        """Add a row inside ``session``'s transaction (it commits, or not, with the audited change)."""
        if not actor:
            raise SightlineError("every audited action needs an actor", code="audit_actor")
        details_obj = dict(details or {})
        _check_details(details_obj)
        details_text = canonical_json(details_obj)
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK})
        head = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc())
                               .limit(1)).first()
        seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
        ts = datetime.now(UTC).isoformat(timespec="microseconds")
        entry = AuditEntry(seq=seq, ts=ts, actor=actor, action=action, subject_id=subject_id, outcome=outcome,
                           details=details_text, prev_hash=prev_hash,
                           hash=row_hash(seq, ts, actor, action, subject_id, outcome, details_text, prev_hash))
        session.add(entry)
        session.flush()
        return entry

    def record(self, **fields: Any) -> AuditEntry:
        """Append a row in its own transaction (for events with no other database change)."""
        with self.sessions.begin() as session:
            return self.append(session, **fields)

    def verify(self, *, expect_head: tuple[int, str] | None = None) -> ChainReport:
        """Walk the chain from seq 1; report the first row that is missing, inserted or edited."""
        expected_seq, prev_hash, rows = 1, GENESIS_HASH, 0
        with self.sessions() as session:
            result = session.execute(select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000))
            for entry in result.scalars():
                rows += 1
                bad = self._check_row(entry, expected_seq, prev_hash)
                if bad is not None:
                    return ChainReport(False, rows, expected_seq - 1, prev_hash, bad[0], bad[1])
                expected_seq, prev_hash = entry.seq + 1, entry.hash
        head_seq = expected_seq - 1
        if expect_head is not None:
            want_seq, want_hash = expect_head
            if head_seq < want_seq:
                return ChainReport(False, rows, head_seq, prev_hash, head_seq + 1,
                                   f"chain ends at seq {head_seq} but the recorded head is seq {want_seq}: "
                                   "rows were removed from the end")
            if head_seq >= want_seq and not self._hash_at(want_seq, want_hash):
                return ChainReport(False, rows, head_seq, prev_hash, want_seq,
                                   f"seq {want_seq} does not carry the recorded head hash")
        return ChainReport(True, rows, head_seq, prev_hash)

    @staticmethod
    def _check_row(entry: AuditEntry, expected_seq: int, prev_hash: str) -> tuple[int, str] | None:
        if entry.seq > expected_seq:
            return expected_seq, f"seq {expected_seq} is missing (row deleted)"
        if entry.seq < expected_seq:
            return entry.seq, f"seq {entry.seq} appears out of order (row inserted)"
        if entry.prev_hash != prev_hash:
            return entry.seq, f"seq {entry.seq} does not link to the row before it (row inserted or replaced)"
        recomputed = row_hash(entry.seq, entry.ts, entry.actor, entry.action, entry.subject_id, entry.outcome,
                              entry.details, entry.prev_hash)
        if recomputed != entry.hash:
            return entry.seq, f"seq {entry.seq} was edited (its content no longer matches its hash)"
        return None

    def _hash_at(self, seq: int, want_hash: str) -> bool:
        with self.sessions() as session:
            entry = session.get(AuditEntry, seq)
            return entry is not None and entry.hash == want_hash

    def tail(self, n: int = 20, *, subject_id: str | None = None) -> list[AuditEntry]:
        """The last ``n`` rows (optionally only those about one subject), oldest first."""
        with self.sessions() as session:
            query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(n)
            if subject_id is not None:
                query = query.where(AuditEntry.subject_id == subject_id)
            return list(reversed(session.execute(query).scalars().all()))

    def for_subject(self, subject_id: str) -> list[AuditEntry]:
        """Every row about one subject, oldest first (for subject-access exports)."""
        with self.sessions() as session:
            query = select(AuditEntry).where(AuditEntry.subject_id == subject_id).order_by(AuditEntry.seq)
            return list(session.execute(query).scalars().all())
