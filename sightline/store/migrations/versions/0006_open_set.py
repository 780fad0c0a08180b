"""Operating points (per camera) for open-set identification.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

Reserved slot: filled in by the change that needs it (kept as a no-op until then so the chain is linear).
"""

from __future__ import annotations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
