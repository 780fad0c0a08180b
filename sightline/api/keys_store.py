"""API keys: stored as sha256 digests of high-entropy tokens, each with a role.

A token looks like ``sl_<key id>_<secret>``. The key id (public, 12 hex
digits) finds the row; the sha256 of the whole token is compared in constant
time with the stored digest. The token itself is shown once, at creation, and
never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from sightline.errors import NotFoundError, SightlineError
from sightline.store.tables import Base

TOKEN_RE = re.compile(r"^sl_([0-9a-f]{12})_([A-Za-z0-9_-]{32,128})$")
_LAST_USED_EVERY = timedelta(minutes=1)  # bound the writes that bookkeeping causes


class Role(StrEnum):
    """What a key may do; each role includes everything of the roles below it."""

    VIEWER = "viewer"  # read-only: subjects (no biometric export), audit, models
    OPERATOR = "operator"  # + enrol, identify, verify against the gallery, review, export
    ADMIN = "admin"  # + keys, config, erase

    @property
    def rank(self) -> int:
        return {"viewer": 0, "operator": 1, "admin": 2}[self.value]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


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


@dataclass
class NewKey:
    """A freshly created key: ``token`` is shown once and cannot be recovered."""

    key: ApiKey
    token: str

    def to_dict(self) -> dict[str, object]:
        return {**self.key.to_dict(), "token": self.token}


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat(timespec="seconds")


def digest_of(token: str) -> str:
    """sha256 hex digest of a token (tokens carry 256 bits of entropy, so no slow KDF is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise SightlineError(f"unknown role {value!r}: use admin, operator or viewer", code="bad_role") from None


class KeyStore:
    """Create, check, list and revoke API keys in the Sightline database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def create(self, name: str, role: str | Role, *, created_by: str) -> NewKey:
        """A new key with ``role``; the returned token is the only copy."""
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise SightlineError("a key name must be 1 to 100 characters", code="bad_key_name")
        role = parse_role(role) if isinstance(role, str) else role
        key_id = secrets.token_hex(6)
        token = f"sl_{key_id}_{secrets.token_urlsafe(32)}"
        row = ApiKey(id=key_id, name=name, role=role.value, digest=digest_of(token), created_by=created_by,
                     created_at=datetime.now(UTC))
        with self.sessions.begin() as session:
            session.add(row)
        return NewKey(row, token)

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key matching ``token``, or None (unknown, malformed or revoked)."""
        match = TOKEN_RE.match(token or "")
        if match is None:
            return None
        with self.sessions() as session:
            row = session.get(ApiKey, match.group(1))
            if row is None or not hmac.compare_digest(row.digest, digest_of(token)) or row.revoked_at is not None:
                return None
        now = datetime.now(UTC)
        last = row.last_used_at
        if last is None or (last if last.tzinfo else last.replace(tzinfo=UTC)) < now - _LAST_USED_EVERY:
            with self.sessions.begin() as session:
                fresh = session.get(ApiKey, row.id)
                if fresh is not None:
                    fresh.last_used_at = now
            row.last_used_at = now
        return row

    def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        with self.sessions() as session:
            query = select(ApiKey).order_by(ApiKey.created_at)
            if not include_revoked:
                query = query.where(ApiKey.revoked_at.is_(None))
            return list(session.execute(query).scalars())

    def get(self, key_id: str) -> ApiKey:
        with self.sessions() as session:
            row = session.get(ApiKey, key_id)
        if row is None:
            raise NotFoundError(f"no API key with id {key_id!r}")
        return row

    def revoke(self, key_id: str) -> ApiKey:
        """Mark a key revoked (kept for the audit trail); revoking twice is harmless."""
        with self.sessions.begin() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise NotFoundError(f"no API key with id {key_id!r}")
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
        return row

    def has_active_admin(self) -> bool:
        with self.sessions() as session:
            query = select(ApiKey.id).where(ApiKey.role == Role.ADMIN.value, ApiKey.revoked_at.is_(None)).limit(1)
            return session.execute(query).first() is not None
