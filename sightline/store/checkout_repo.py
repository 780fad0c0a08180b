"""SQL about checkout sessions (table ``checkout_sessions``, migration 0008).

A row is one pay-with-your-face attempt: the challenge and its one-time nonce, the window it is valid in,
the terminal and API key that opened it, the claimed and the decided subject (random ids) and the
outcome with its reasons. No frames and no face data. Rate limits and lock-outs are counted from these
rows. Functions take an open session; the caller owns the transaction, so a decision and its audit row
commit together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, delete, func, or_, select, update
from sqlalchemy.orm import Session

metadata = MetaData()

checkout_sessions = Table(
    "checkout_sessions", metadata,
    Column("id", String(40), primary_key=True),
    Column("nonce", String(64), nullable=False, unique=True),
    Column("terminal", String(100), nullable=False),
    Column("key_id", String(12), nullable=False),
    Column("challenge", Text, nullable=False),
    Column("amount", String(32), nullable=True),
    Column("claimed_subject", String(32), nullable=True),
    Column("subject_id", String(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("reasons", Text, nullable=True),
)

OPEN = "open"


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SessionRow:
    """One stored checkout session."""

    id: str
    nonce: str
    terminal: str
    key_id: str
    challenge: list[str]
    amount: str | None
    claimed_subject: str | None
    subject_id: str | None
    created_at: datetime
    expires_at: datetime
    state: str
    decided_at: datetime | None
    reasons: list[str]

    def to_dict(self) -> dict[str, object]:
        """Everything but the nonce (it is shown once, to the terminal that opened the session)."""
        return {"id": self.id, "terminal": self.terminal, "challenge": self.challenge, "amount": self.amount,
                "claimed_subject": self.claimed_subject, "subject_id": self.subject_id,
                "created_at": self.created_at.isoformat(), "expires_at": self.expires_at.isoformat(),
                "state": self.state, "decided_at": self.decided_at.isoformat() if self.decided_at else None,
                "reasons": self.reasons}


def _row(row) -> SessionRow:
    return SessionRow(row.id, row.nonce, row.terminal, row.key_id, json.loads(row.challenge), row.amount,
                      row.claimed_subject, row.subject_id, _utc(row.created_at), _utc(row.expires_at), row.state,
                      _utc(row.decided_at), json.loads(row.reasons) if row.reasons else [])


def insert_session(session: Session, row: SessionRow) -> None:
    """Store a new open session."""
    session.execute(checkout_sessions.insert().values(
        id=row.id, nonce=row.nonce, terminal=row.terminal, key_id=row.key_id, challenge=json.dumps(row.challenge),
        amount=row.amount, claimed_subject=row.claimed_subject, subject_id=None, created_at=row.created_at,
        expires_at=row.expires_at, state=row.state, decided_at=None, reasons=None))


def get_session(session: Session, session_id: str) -> SessionRow | None:
    """The session with this id, or None."""
    row = session.execute(select(checkout_sessions).where(checkout_sessions.c.id == session_id)).first()
    return _row(row) if row else None


def close_session(session: Session, session_id: str, *, state: str, subject_id: str | None, reasons: list[str],
                  when: datetime) -> bool:
    """Move an open session to ``state`` (its nonce is spent); False when it was no longer open (a replay)."""
    table = checkout_sessions
    done = session.execute(update(table).where(table.c.id == session_id, table.c.state == OPEN).values(
        state=state, subject_id=subject_id, reasons=json.dumps(reasons), decided_at=when))
    return bool(done.rowcount)


def count_created(session: Session, *, terminal: str, since: datetime) -> int:
    """Sessions ``terminal`` opened from ``since`` on."""
    table = checkout_sessions
    return int(session.scalar(select(func.count()).select_from(table).where(
        table.c.terminal == terminal, table.c.created_at >= since)) or 0)


def count_for_subject(session: Session, subject_id: str, *, since: datetime) -> int:
    """Sessions that claimed ``subject_id`` from ``since`` on."""
    table = checkout_sessions
    return int(session.scalar(select(func.count()).select_from(table).where(
        table.c.claimed_subject == subject_id, table.c.created_at >= since)) or 0)


def recent_outcomes(session: Session, *, since: datetime, terminal: str | None = None,
                    subject_id: str | None = None, limit: int = 20) -> list[tuple[str, datetime]]:
    """(state, decided_at) of decided sessions of a terminal or a (claimed) subject, newest first."""
    table = checkout_sessions
    query = select(table.c.state, table.c.decided_at).where(table.c.decided_at.is_not(None),
                                                            table.c.decided_at >= since)
    if terminal is not None:
        query = query.where(table.c.terminal == terminal)
    if subject_id is not None:
        query = query.where(or_(table.c.claimed_subject == subject_id, table.c.subject_id == subject_id))
    rows = session.execute(query.order_by(table.c.decided_at.desc()).limit(limit)).all()
    return [(r.state, _utc(r.decided_at)) for r in rows]


def sessions_of_subject(session: Session, subject_id: str) -> list[SessionRow]:
    """Every stored session that claimed or named ``subject_id`` (subject-access export)."""
    table = checkout_sessions
    rows = session.execute(select(table).where(or_(table.c.claimed_subject == subject_id,
                                                   table.c.subject_id == subject_id)).order_by(table.c.created_at))
    return [_row(r) for r in rows]


def delete_subject_sessions(session: Session, subject_id: str) -> int:
    """Delete every session that claimed or named ``subject_id`` (erasure); returns rows deleted."""
    table = checkout_sessions
    done = session.execute(delete(table).where(or_(table.c.claimed_subject == subject_id,
                                                   table.c.subject_id == subject_id)))
    return int(done.rowcount or 0)


def delete_before(session: Session, before: datetime) -> int:
    """Delete sessions created before ``before`` (retention); returns rows deleted."""
    table = checkout_sessions
    return int(session.execute(delete(table).where(table.c.created_at < before)).rowcount or 0)
