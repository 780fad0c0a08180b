"""Checkout sessions, challenges and lock-outs (issue 11): reserved slot, no schema change yet.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Reserved: filled by the issue named above."""


def downgrade() -> None:
    """Reserved: filled by the issue named above."""
