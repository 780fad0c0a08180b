"""Keyed audit chain and checkpoints.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Reserved slot: filled in by the change that needs it (kept as a no-op until then so the chain is linear).
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
