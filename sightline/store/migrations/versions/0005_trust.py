"""Negative examples, per-subject thresholds, pending enrolments.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Reserved slot: filled in by the change that needs it (kept as a no-op until then so the chain is linear).
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
