"""Schema: the Alembic migrations build exactly what the ORM models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from sightline.store.db import create_db_engine, open_engine, upgrade_to_head
from sightline.store.tables import Base

OURS = {"subjects", "templates", "enrolment_images", "audit_log"}


def _table_of(diff) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None:
            return table.name
        if name in OURS:
            return name
    return item[2] if len(item) > 2 and isinstance(item[2], str) else None


def test_migrations_match_models(store_url):
    engine = open_engine(store_url)
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert set(inspect(connection).get_table_names()) >= OURS
    engine.dispose()
    ours = [d for d in diffs if _table_of(d) in OURS]
    assert ours == []


def test_upgrade_is_idempotent_and_sqlite_settings(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = open_engine(url)
    upgrade_to_head(engine)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA secure_delete")).scalar() == 1
    engine.dispose()
    again = create_db_engine(url)
    upgrade_to_head(again)
    with again.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    again.dispose()
