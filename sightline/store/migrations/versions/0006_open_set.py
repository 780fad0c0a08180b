"""Operating points (per camera) for open-set identification.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

One row per (camera, embedder): the target stranger rate and the impostor curve measured on that
camera's footage (threshold/rate knots only: no face data, no embeddings).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_operating_points",
        sa.Column("camera", sa.String(100), primary_key=True),
        sa.Column("embedder", sa.String(50), primary_key=True),
        sa.Column("target_fpir", sa.Float(), nullable=False),
        sa.Column("score_kind", sa.String(20), nullable=False),
        sa.Column("curve", sa.Text(), nullable=False),
        sa.Column("faces_seen", sa.Integer(), nullable=False),
        sa.Column("trials", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("camera_operating_points")
