"""Keyed audit chain and checkpoints: no schema change.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

The switch from sha256 to HMAC-SHA256 needs the audit key, which lives outside the database
(``$SIGHTLINE_HOME/audit/chain.hmac`` or ``$SIGHTLINE_AUDIT_KEY``) and is therefore invisible to a
migration. So the existing rows stay exactly as they are (they keep verifying under the old sha256
rule), and the application starts the keyed part on its first open with a data home: it appends one
``audit.keyed`` row (algorithm and key id in its details, ``prev_hash`` = the last legacy row's hash,
itself HMAC'd), which seals the legacy history as it stood, and writes the first signed checkpoint to
``$SIGHTLINE_HOME/audit/checkpoints.jsonl``. See ``sightline.privacy.audit``.
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change in the schema (see the module docstring)."""


def downgrade() -> None:
    """Nothing to undo: keyed rows keep the same columns; older code verifies them as edited rows."""
