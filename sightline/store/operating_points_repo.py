"""SQL about per-camera operating points (table ``camera_operating_points``, migration 0006).

A row holds a camera's target stranger rate and the impostor curve measured on its footage:
numbers only, never face data. Every function takes an open session; the caller owns the
transaction, so a stored point and the audit row that records its calibration commit together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, Text, delete, select
from sqlalchemy.orm import Session

metadata = MetaData()

camera_operating_points = Table(
    "camera_operating_points", metadata,
    Column("camera", String(100), primary_key=True),
    Column("embedder", String(50), primary_key=True),
    Column("target_fpir", Float, nullable=False),
    Column("score_kind", String(20), nullable=False),
    Column("curve", Text, nullable=False),
    Column("faces_seen", Integer, nullable=False),
    Column("trials", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
)


@dataclass(frozen=True)
class CameraPoint:
    """A stored per-camera calibration."""

    camera: str
    embedder: str
    target_fpir: float
    score_kind: str
    curve: dict[str, object]
    faces_seen: int
    trials: int
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, object]:
        return {"camera": self.camera, "embedder": self.embedder, "target_fpir": self.target_fpir,
                "score_kind": self.score_kind, "faces_seen": self.faces_seen, "trials": self.trials,
                "created_at": self.created_at.isoformat(), "created_by": self.created_by}


def save_point(session: Session, point: CameraPoint) -> None:
    """Insert or replace the point of (camera, embedder)."""
    table = camera_operating_points
    session.execute(delete(table).where(table.c.camera == point.camera, table.c.embedder == point.embedder))
    session.execute(table.insert().values(
        camera=point.camera, embedder=point.embedder, target_fpir=point.target_fpir, score_kind=point.score_kind,
        curve=json.dumps(point.curve, sort_keys=True), faces_seen=point.faces_seen, trials=point.trials,
        created_at=point.created_at, created_by=point.created_by))


def _row(row) -> CameraPoint:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return CameraPoint(row.camera, row.embedder, float(row.target_fpir), row.score_kind, json.loads(row.curve),
                       int(row.faces_seen), int(row.trials), created, row.created_by)


def get_point(session: Session, camera: str, embedder: str) -> CameraPoint | None:
    """The calibration of ``camera`` for ``embedder``, or None."""
    table = camera_operating_points
    row = session.execute(select(table).where(table.c.camera == camera, table.c.embedder == embedder)).first()
    return _row(row) if row else None


def all_points(session: Session) -> list[CameraPoint]:
    """Every stored per-camera calibration, by camera."""
    table = camera_operating_points
    return [_row(r) for r in session.execute(select(table).order_by(table.c.camera, table.c.embedder))]


def delete_point(session: Session, camera: str) -> int:
    """Forget every calibration of ``camera``; returns rows removed."""
    table = camera_operating_points
    return int(session.execute(delete(table).where(table.c.camera == camera)).rowcount or 0)


def now() -> datetime:
    return datetime.now(UTC)


def count_templates(session: Session, embedder: str) -> int:
    """Enrolled templates made by ``embedder`` (the comparisons one identification makes)."""
    from sqlalchemy import func

    from sightline.store.tables import Template

    return int(session.scalar(select(func.count()).select_from(Template).where(Template.embedder == embedder)) or 0)
