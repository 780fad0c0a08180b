"""Negative examples ("not this person") and per-subject thresholds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (not a batch table copy, which on SQLite would drop the table other rows refer to).
    op.add_column("subjects", sa.Column("threshold", sa.Float(), nullable=True))
    op.create_table(
        "negative_examples",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("subject_id", sa.String(32), sa.ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("embedder", sa.String(50), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(12), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_negative_examples_subject_id", "negative_examples", ["subject_id"])


def downgrade() -> None:
    op.drop_index("ix_negative_examples_subject_id", "negative_examples")
    op.drop_table("negative_examples")
    op.drop_column("subjects", "threshold")
