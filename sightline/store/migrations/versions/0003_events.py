"""Camera events (track start/end, recognitions, zones, plates) with their snapshot paths.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("camera", sa.String(100), nullable=False),
        sa.Column("label", sa.String(50), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=True),
        sa.Column("zone", sa.String(100), nullable=True),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("subject_id", sa.String(32), sa.ForeignKey("subjects.id", ondelete="CASCADE"), nullable=True),
        sa.Column("subject_name", sa.String(200), nullable=True),
        sa.Column("snapshot", sa.String(1000), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_events_type", "events", ["type"])
    op.create_index("ix_events_camera", "events", ["camera"])
    op.create_index("ix_events_label", "events", ["label"])
    op.create_index("ix_events_start_time", "events", ["start_time"])
    op.create_index("ix_events_subject_id", "events", ["subject_id"])


def downgrade() -> None:
    op.drop_table("events")
