"""Checkout sessions (issue 11): one row per pay-with-your-face attempt.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

A row holds the challenge, its one-time nonce and window, who asked (terminal and API key), the claimed
and the decided subject (random ids, never names), the outcome and its reasons: no frames, no face data.
Rate limits and lock-outs are counted from these rows; retention deletes them after a day by default.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkout_sessions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("nonce", sa.String(64), nullable=False, unique=True),
        sa.Column("terminal", sa.String(100), nullable=False, index=True),
        sa.Column("key_id", sa.String(12), nullable=False),
        sa.Column("challenge", sa.Text(), nullable=False),
        sa.Column("amount", sa.String(32), nullable=True),
        sa.Column("claimed_subject", sa.String(32), nullable=True, index=True),
        sa.Column("subject_id", sa.String(32), nullable=True, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("checkout_sessions")
