"""SQL about cameras added from the web UI / API (table ``cameras``, migration 0009).

A row is one camera: its settings (the camera part of cameras.yaml as JSON, without the source URL), the
source URL as AES-GCM ciphertext (the caller encrypts: a URL may hold a password), whether it is enabled, and
who made and last changed it. Every function takes an open session; the caller owns the transaction, so a
change and the audit row that records it commit together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, LargeBinary, MetaData, String, Table, Text, delete, select, update
from sqlalchemy.orm import Session

metadata = MetaData()

cameras = Table(
    "cameras", metadata,
    Column("name", String(64), primary_key=True),
    Column("settings", Text, nullable=False),
    Column("url_nonce", LargeBinary, nullable=False),
    Column("url_ciphertext", LargeBinary, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(200), nullable=False),
)


@dataclass(frozen=True)
class CameraRow:
    """One stored camera; ``url_nonce``/``url_ciphertext`` are the encrypted source URL."""

    name: str
    settings: dict[str, Any]
    url_nonce: bytes
    url_ciphertext: bytes
    enabled: bool
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _row(row: Any) -> CameraRow:
    return CameraRow(row.name, json.loads(row.settings), bytes(row.url_nonce), bytes(row.url_ciphertext),
                     bool(row.enabled), _utc(row.created_at), row.created_by, _utc(row.updated_at), row.updated_by)


def list_cameras(session: Session) -> list[CameraRow]:
    """Every stored camera, by name."""
    return [_row(r) for r in session.execute(select(cameras).order_by(cameras.c.name))]


def get_camera(session: Session, name: str) -> CameraRow | None:
    """The stored camera ``name``, or None."""
    row = session.execute(select(cameras).where(cameras.c.name == name)).first()
    return _row(row) if row else None


def insert_camera(session: Session, name: str, settings: dict[str, Any], nonce: bytes, ciphertext: bytes, *,
                  enabled: bool, actor: str) -> None:
    """Store a new camera (the caller checked that the name is free)."""
    now = datetime.now(UTC)
    session.execute(cameras.insert().values(
        name=name, settings=json.dumps(settings, sort_keys=True), url_nonce=nonce, url_ciphertext=ciphertext,
        enabled=enabled, created_at=now, created_by=actor, updated_at=now, updated_by=actor))


def update_camera(session: Session, name: str, settings: dict[str, Any], nonce: bytes, ciphertext: bytes, *,
                  enabled: bool, actor: str) -> bool:
    """Replace camera ``name``'s settings and URL; False when there is no such camera."""
    result = session.execute(update(cameras).where(cameras.c.name == name).values(
        settings=json.dumps(settings, sort_keys=True), url_nonce=nonce, url_ciphertext=ciphertext, enabled=enabled,
        updated_at=datetime.now(UTC), updated_by=actor))
    return bool(result.rowcount)


def reseal_camera(session: Session, name: str, nonce: bytes, ciphertext: bytes) -> bool:
    """Store camera ``name``'s URL sealed under another key (a key rotation: its settings and history stay)."""
    result = session.execute(update(cameras).where(cameras.c.name == name).values(url_nonce=nonce,
                                                                                url_ciphertext=ciphertext))
    return bool(result.rowcount)


def delete_camera(session: Session, name: str) -> bool:
    """Forget camera ``name``; False when there was none."""
    return bool(session.execute(delete(cameras).where(cameras.c.name == name)).rowcount)
