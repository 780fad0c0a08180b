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
from typing import TYPE_CHECKING

from sightline.errors import NotFoundError, SightlineError
from sightline.gallery.names import check_name
from sightline.store import keys_repo
from sightline.store.keys_repo import ApiKey

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["ApiKey", "KeyStore", "NewKey", "Role", "digest_of", "parse_role"]

TOKEN_RE = re.compile(r"^sl_([0-9a-f]{12})_([A-Za-z0-9_-]{32,128})$")
_LAST_USED_EVERY = timedelta(minutes=1)  # bound the writes that bookkeeping causes


class Role(StrEnum):
    """What a key may do; viewer < operator < admin, each including the roles below it. ``terminal`` stands
    apart: it may only run checkout sessions (which operator and admin keys may run too)."""

    VIEWER = "viewer"  # read-only: subjects (no biometric export), audit, models
    OPERATOR = "operator"  # + enrol, identify, verify against the gallery, review, export
    ADMIN = "admin"  # + keys, config, erase
    TERMINAL = "terminal"  # checkout sessions only (a shop till), nothing else

    @property
    def rank(self) -> int:
        return {"terminal": -1, "viewer": 0, "operator": 1, "admin": 2}[self.value]

    def allows(self, needed: Role) -> bool:
        if needed is Role.TERMINAL:
            return self in (Role.TERMINAL, Role.OPERATOR, Role.ADMIN)
        return self.rank >= needed.rank


@dataclass
class NewKey:
    """A freshly created key: ``token`` is shown once and cannot be recovered."""

    key: ApiKey
    token: str

    def to_dict(self) -> dict[str, object]:
        return {**self.key.to_dict(), "token": self.token}


def digest_of(token: str) -> str:
    """sha256 hex digest of a token (tokens carry 256 bits of entropy, so no slow KDF is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise SightlineError(f"unknown role {value!r}: use admin, operator, viewer or terminal",
                             code="bad_role") from None


class KeyStore:
    """Create, check, list and revoke API keys in the Sightline database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def create(self, name: str, role: str | Role, *, created_by: str) -> NewKey:
        """A new key with ``role``; the returned token is the only copy."""
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise SightlineError("a key name must be 1 to 100 characters", code="bad_key_name")
        check_name(name, "a key name")
        role = parse_role(role) if isinstance(role, str) else role
        key_id = secrets.token_hex(6)
        token = f"sl_{key_id}_{secrets.token_urlsafe(32)}"
        row = ApiKey(id=key_id, name=name, role=role.value, digest=digest_of(token), created_by=created_by,
                     created_at=datetime.now(UTC))
        keys_repo.insert_key(self.sessions, row)
        return NewKey(row, token)

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key matching ``token``, or None (unknown, malformed or revoked)."""
        match = TOKEN_RE.match(token or "")
        if match is None:
            return None
        row = keys_repo.find_key(self.sessions, match.group(1))
        if row is None or not hmac.compare_digest(row.digest, digest_of(token)) or row.revoked_at is not None:
            return None
        now = datetime.now(UTC)
        last = row.last_used_at
        if last is None or (last if last.tzinfo else last.replace(tzinfo=UTC)) < now - _LAST_USED_EVERY:
            keys_repo.touch_key(self.sessions, row.id, now)
            row.last_used_at = now
        return row

    def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        return keys_repo.list_keys(self.sessions, include_revoked=include_revoked)

    def get(self, key_id: str) -> ApiKey:
        row = keys_repo.find_key(self.sessions, key_id)
        if row is None:
            raise NotFoundError(f"no API key with id {key_id!r}")
        return row

    def revoke(self, key_id: str) -> ApiKey:
        """Mark a key revoked (kept for the audit trail); revoking twice is harmless."""
        row = keys_repo.revoke_key(self.sessions, key_id, datetime.now(UTC))
        if row is None:
            raise NotFoundError(f"no API key with id {key_id!r}")
        return row

    def has_active_admin(self) -> bool:
        return keys_repo.has_active_role(self.sessions, Role.ADMIN.value)
