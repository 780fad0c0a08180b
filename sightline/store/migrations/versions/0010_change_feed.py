"""The gallery change feed: what replicas apply to keep their in-memory index in step (issue 13).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

One row per gallery change (enrol, remove, erase, negative, subject), numbered by ``seq`` and written in the
same transaction as the change. Ids only: the random subject id and template ids; never a vector, a name or
ciphertext. Rows are pruned by the retention sweep once every replica has had time to apply them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gallery_changes",
        # AUTOINCREMENT on SQLite: a pruned (empty) feed never hands out a seq a replica has already seen
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=True),
        sa.Column("template_ids", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_gallery_changes_created_at", "gallery_changes", ["created_at"])
    op.create_index("ix_gallery_changes_subject_id", "gallery_changes", ["subject_id"])


def downgrade() -> None:
    op.drop_index("ix_gallery_changes_subject_id", table_name="gallery_changes")
    op.drop_index("ix_gallery_changes_created_at", table_name="gallery_changes")
    op.drop_table("gallery_changes")
