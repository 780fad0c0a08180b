"""SQL about API keys: the ``api_keys`` table (digests only, never tokens) and its queries.

Functions that take a :class:`sessionmaker` open their own short transaction;
the key store in ``sightline.api.keys_store`` is their only caller.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from sightline.store.tables import Base


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat(timespec="seconds")


class ApiKey(Base):
    """One API key (its digest, never the token)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def actor(self) -> str:
        """How this key appears in the audit log."""
        return f"key:{self.id}/{self.name}"

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "role": self.role, "created_by": self.created_by,
                "created_at": _iso(self.created_at), "last_used_at": _iso(self.last_used_at),
                "revoked_at": _iso(self.revoked_at), "active": self.revoked_at is None}


def insert_key(sessions: sessionmaker[Session], row: ApiKey) -> ApiKey:
    """Store a new key row."""
    with sessions.begin() as session:
        session.add(row)
    return row


def find_key(sessions: sessionmaker[Session], key_id: str) -> ApiKey | None:
    """The key row with this id, or None (read-only)."""
    with sessions() as session:
        return session.get(ApiKey, key_id)


def touch_key(sessions: sessionmaker[Session], key_id: str, when: datetime) -> None:
    """Record that the key was used at ``when``."""
    with sessions.begin() as session:
        row = session.get(ApiKey, key_id)
        if row is not None:
            row.last_used_at = when


def list_keys(sessions: sessionmaker[Session], *, include_revoked: bool = True) -> list[ApiKey]:
    """Every key row, oldest first."""
    with sessions() as session:
        query = select(ApiKey).order_by(ApiKey.created_at)
        if not include_revoked:
            query = query.where(ApiKey.revoked_at.is_(None))
        return list(session.execute(query).scalars())


def revoke_key(sessions: sessionmaker[Session], key_id: str, when: datetime) -> ApiKey | None:
    """Mark the key revoked at ``when`` unless it already is; None if there is no such key."""
    with sessions.begin() as session:
        row = session.get(ApiKey, key_id)
        if row is not None and row.revoked_at is None:
            row.revoked_at = when
        return row


def has_active_role(sessions: sessionmaker[Session], role: str) -> bool:
    """Whether some unrevoked key has ``role``."""
    with sessions() as session:
        query = select(ApiKey.id).where(ApiKey.role == role, ApiKey.revoked_at.is_(None)).limit(1)
        return session.execute(query).first() is not None
