"""Cameras managed from the UI/API (issue 14).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

One row per camera added from the web UI or ``POST /api/v1/cameras``: its settings (the camera part of
cameras.yaml, as JSON, without the source URL) and the source URL encrypted with AES-GCM under the 0600
camera-secrets key file (URLs may hold a password). Cameras of ``serve --cameras`` YAML stay in the file.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cameras",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("url_nonce", sa.LargeBinary(), nullable=False),
        sa.Column("url_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cameras")
