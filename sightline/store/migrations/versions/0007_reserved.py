"""Reserved for the next schema change.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Reserved slot: filled in by the change that needs it (kept as a no-op until then so the chain is linear).
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
