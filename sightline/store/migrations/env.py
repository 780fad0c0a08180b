"""Alembic environment: runs on the connection handed over by ``sightline.store.db.upgrade_to_head``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from sightline.store.tables import Base

MIGRATION_LOCK = 0x5167_4C69_6E65  # advisory-lock key so two PostgreSQL processes never migrate at once


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through sightline.store.db.upgrade_to_head")
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
