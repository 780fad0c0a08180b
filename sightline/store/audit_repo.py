"""SQL about the audit chain: lock the head, read it, append, stream, filter (the audit log's only way in).

Functions that take a :class:`Session` run inside the caller's transaction, so
an audited change and its audit row commit together.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Row, Select, func, select, text
from sqlalchemy.orm import Session

from sightline.store.tables import AuditEntry

AUDIT_LOCK = 0x5167_4175_6469  # PostgreSQL advisory-lock key of the chain head
CHAIN_COLUMNS = (AuditEntry.seq, AuditEntry.ts, AuditEntry.actor, AuditEntry.action, AuditEntry.subject_id,
                 AuditEntry.outcome, AuditEntry.details, AuditEntry.prev_hash, AuditEntry.hash)


def lock_chain(session: Session) -> None:
    """Serialise appends: PostgreSQL takes a transaction-scoped advisory lock; SQLite's
    writing transactions already hold the database's write lock (``BEGIN IMMEDIATE``)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK})


def chain_head(session: Session) -> tuple[int, str] | None:
    """(seq, hash) of the newest row, or None for an empty chain."""
    head = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    return (int(head[0]), str(head[1])) if head else None


def add_entry(session: Session, entry: AuditEntry) -> AuditEntry:
    """Insert ``entry`` (flushed, so the next append in the transaction sees it as the head)."""
    session.add(entry)
    session.flush()
    return entry


def add_entries(session: Session, entries: Sequence[AuditEntry]) -> int:
    """Insert many rows at once (one multi-row statement per call); returns how many."""
    if entries:
        session.execute(AuditEntry.__table__.insert(), [
            {"seq": e.seq, "ts": e.ts, "actor": e.actor, "action": e.action, "subject_id": e.subject_id,
             "outcome": e.outcome, "details": e.details, "prev_hash": e.prev_hash, "hash": e.hash} for e in entries])
    return len(entries)


def first_seq_of_action(session: Session, action: str) -> int | None:
    """The lowest seq of a row with ``action`` (indexed), or None."""
    return session.scalar(select(func.min(AuditEntry.seq)).where(AuditEntry.action == action))


def entry_at(session: Session, seq: int) -> AuditEntry | None:
    """The row with this seq, or None."""
    return session.get(AuditEntry, seq)


def begin_snapshot(session: Session) -> None:
    """Make the rest of this (read) session see one snapshot: REPEATABLE READ on PostgreSQL.

    SQLite's read transaction is already a snapshot from its first query (WAL mode).
    Call before the session's first query.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def stream_chain(session: Session, *, after_seq: int = 0, chunk: int = 2000) -> Iterator[Row]:
    """Every row with seq > ``after_seq`` in seq order, as light column tuples, ``chunk`` rows per query.

    Keyset paging (``seq > last``) inside the caller's (read) transaction: constant memory,
    one consistent snapshot, and no cursor left open between chunks.
    """
    last = after_seq
    while True:
        rows = session.execute(select(*CHAIN_COLUMNS).where(AuditEntry.seq > last)
                               .order_by(AuditEntry.seq).limit(chunk)).all()
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1].seq


def tail_entries(session: Session, n: int, *, subject_id: str | None = None) -> list[AuditEntry]:
    """The last ``n`` rows (optionally only those about one subject), oldest first."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(n)
    if subject_id is not None:
        query = query.where(AuditEntry.subject_id == subject_id)
    return list(reversed(session.execute(query).scalars().all()))


def entries_for_subject(session: Session, subject_id: str) -> list[AuditEntry]:
    """Every row about one subject, oldest first."""
    query = select(AuditEntry).where(AuditEntry.subject_id == subject_id).order_by(AuditEntry.seq)
    return list(session.execute(query).scalars().all())


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit listing; ``since``/``until`` are stored-format timestamps (UTC isoformat text)."""

    action: str | None = None
    actor_contains: str | None = None
    subject_id: str | None = None
    since: str | None = None
    until: str | None = None
    until_inclusive: bool = True


def filtered_entries(query: AuditQuery) -> Select:
    """``SELECT`` of the audit rows matching every given field of ``query`` (no order, no paging)."""
    statement = select(AuditEntry)
    if query.action:
        statement = statement.where(AuditEntry.action == query.action)
    if query.actor_contains:
        statement = statement.where(AuditEntry.actor.icontains(query.actor_contains, autoescape=True))
    if query.subject_id:
        statement = statement.where(AuditEntry.subject_id == query.subject_id)
    if query.since:
        statement = statement.where(AuditEntry.ts >= query.since)
    if query.until:
        statement = statement.where(AuditEntry.ts <= query.until if query.until_inclusive
                                    else AuditEntry.ts < query.until)
    return statement


def search_entries(session: Session, query: AuditQuery, *, limit: int,
                   offset: int) -> tuple[int, Sequence[AuditEntry]]:
    """(total matching, one page newest first)."""
    statement = filtered_entries(query)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(statement.order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)).all()
    return int(total), rows


def distinct_actions(session: Session) -> list[str]:
    """Every action that occurs in the log, sorted."""
    return sorted(session.scalars(select(AuditEntry.action).distinct()))
