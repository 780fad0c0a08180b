"""Cameras managed from the UI/API (issue 14): reserved slot, no schema change yet.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Reserved: filled by the issue named above."""


def downgrade() -> None:
    """Reserved: filled by the issue named above."""
