"""Licence plates: plate-list entries (watch/allow, with legal basis) and keyed-hash sightings.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plate_list_entries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("list_kind", sa.String(16), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("plate_hash", sa.String(64), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("legal_basis", sa.String(32), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("evidence", sa.String(500), nullable=True),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("list_kind", "plate", name="uq_plate_list_entries_list_plate"),
    )
    op.create_index("ix_plate_list_entries_list_kind", "plate_list_entries", ["list_kind"])
    op.create_index("ix_plate_list_entries_plate_hash", "plate_list_entries", ["plate_hash"])
    op.create_index("ix_plate_list_entries_retain_until", "plate_list_entries", ["retain_until"])
    op.create_table(
        "plate_sightings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("plate_hash", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_plate_sightings_plate_hash", "plate_sightings", ["plate_hash"])
    op.create_index("ix_plate_sightings_seen_at", "plate_sightings", ["seen_at"])


def downgrade() -> None:
    op.drop_table("plate_sightings")
    op.drop_table("plate_list_entries")
