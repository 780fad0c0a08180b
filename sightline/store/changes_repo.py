"""SQL about the gallery change feed (table ``gallery_changes``, migration 0010) and its PostgreSQL wake-up.

Every change to what the in-memory index holds (a template enrolled or removed, a subject erased, a negative
example added, a subject's threshold changed) appends one row here *in the same transaction* as the change.
Rows hold ids only: the random subject id and template ids, never a vector, a name or ciphertext.

Appends take the audit chain's lock (every change is audited in the same transaction anyway), so on
PostgreSQL rows become visible in ``seq`` order: a replica that has applied ``seq`` N never later finds a
smaller one. On SQLite the writing transaction's ``BEGIN IMMEDIATE`` gives the same order. On PostgreSQL an
append also sends ``NOTIFY`` on :data:`CHANNEL` (delivered at commit) so replicas wake at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.orm import Session

from sightline.store.audit_repo import lock_chain

CHANNEL = "sightline_gallery_changes"
KINDS = ("enrol", "remove", "erase", "negative", "subject")

metadata = MetaData()

gallery_changes = Table(
    "gallery_changes", metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("subject_id", String(32), nullable=True),
    Column("template_ids", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    sqlite_autoincrement=True,
)


@dataclass(frozen=True)
class Change:
    """One feed row: what changed (ids only)."""

    seq: int
    kind: str
    subject_id: str | None
    template_ids: tuple[int, ...]


def record(session: Session, kind: str, subject_id: str | None, template_ids: Iterable[int] = ()) -> int:
    """Append a change inside the caller's transaction (and, on PostgreSQL, NOTIFY at commit); returns its seq."""
    if kind not in KINDS:
        raise ValueError(f"unknown gallery change {kind!r}")
    lock_chain(session)  # the seq is drawn under the lock held to commit: rows appear in seq order
    ids = ",".join(str(int(t)) for t in template_ids)
    result = session.execute(gallery_changes.insert().values(
        kind=kind, subject_id=subject_id, template_ids=ids, created_at=datetime.now(UTC)))
    seq = result.inserted_primary_key[0]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :seq)"), {"channel": CHANNEL, "seq": str(seq)})
    return int(seq)


def latest_seq(session: Session) -> int:
    """The newest seq in the feed (0 when empty)."""
    return int(session.scalar(select(func.coalesce(func.max(gallery_changes.c.seq), 0))) or 0)


def changes_after(session: Session, seq: int, limit: int = 1000) -> list[Change]:
    """Up to ``limit`` changes with a seq above ``seq``, oldest first."""
    rows = session.execute(select(gallery_changes.c.seq, gallery_changes.c.kind, gallery_changes.c.subject_id,
                                  gallery_changes.c.template_ids)
                           .where(gallery_changes.c.seq > seq).order_by(gallery_changes.c.seq).limit(limit))
    return [Change(int(r.seq), r.kind, r.subject_id, tuple(int(t) for t in r.template_ids.split(",") if t))
            for r in rows]


def forget_subject(session: Session, subject_id: str) -> int:
    """Delete the subject's earlier feed rows (erasure; the erase row written after them replaces them)."""
    return session.execute(delete(gallery_changes).where(gallery_changes.c.subject_id == subject_id)).rowcount


def rows_of_subject(session: Session, subject_id: str) -> list[dict[str, object]]:
    """The subject's feed rows as plain records (subject-access export: ids and times only)."""
    rows = session.execute(select(gallery_changes).where(gallery_changes.c.subject_id == subject_id)
                           .order_by(gallery_changes.c.seq))
    return [{"seq": int(r.seq), "kind": r.kind, "template_ids": r.template_ids,
             "created_at": _utc(r.created_at).isoformat()} for r in rows]


def delete_before(session: Session, cutoff: datetime) -> int:
    """Delete feed rows older than ``cutoff`` (retention); returns how many."""
    return session.execute(delete(gallery_changes).where(gallery_changes.c.created_at < cutoff)).rowcount


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Listener:
    """A dedicated PostgreSQL connection that LISTENs on :data:`CHANNEL`; :meth:`wait` blocks for a NOTIFY."""

    def __init__(self, engine: Engine) -> None:
        raw = engine.raw_connection()
        self._conn = raw.driver_connection
        raw.detach()  # never handed back to the pool: it stays in LISTEN mode until closed
        self._raw = raw
        self._conn.rollback()
        self._conn.autocommit = True
        self._conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> bool:
        """True when a change was announced within ``timeout`` seconds (all pending notices are consumed)."""
        woke = False
        for _ in self._conn.notifies(timeout=timeout, stop_after=1):
            woke = True
        if woke:  # drain what else arrived meanwhile: one read of the feed covers them all
            for _ in self._conn.notifies(timeout=0.0):
                pass
        return woke

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._raw.close()


@contextlib.contextmanager
def listener(engine: Engine) -> Iterator[Listener | None]:
    """A :class:`Listener` on PostgreSQL; None on SQLite (replicas there poll the feed)."""
    if engine.dialect.name != "postgresql":
        yield None
        return
    listening = Listener(engine)
    try:
        yield listening
    finally:
        listening.close()

