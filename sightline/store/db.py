"""Database engine and session factory.

SQLite (the embedded default, one file under ``$SIGHTLINE_HOME``) runs in WAL
mode with foreign keys, ``secure_delete`` (erased rows are overwritten with
zeros, not just unlinked) and a busy timeout; every transaction starts with
``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing, which also
keeps the audit chain linear. PostgreSQL is selected with
``SIGHTLINE_DB_URL=postgresql+psycopg://user@host/db``.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sightline.config import default_data_dir
from sightline.errors import StoreError

BUSY_TIMEOUT_MS = 30_000


def default_db_url(home: Path | None = None) -> str:
    """``$SIGHTLINE_DB_URL`` if set, else an SQLite file ``sightline.db`` under ``home``."""
    env = os.environ.get("SIGHTLINE_DB_URL")
    if env:
        return env
    home = Path(home) if home is not None else default_data_dir()
    return f"sqlite:///{(home / 'sightline.db').resolve()}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "secure_delete=ON", "synchronous=NORMAL",
                   f"busy_timeout={BUSY_TIMEOUT_MS}"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_db_engine(url: str) -> Engine:
    """An engine for ``url`` with Sightline's connection settings applied."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"not a database URL: {url!r} ({exc})") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True)
    raise StoreError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql+psycopg://")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def upgrade_to_head(engine: Engine) -> None:
    """Apply every Alembic migration the database lacks (safe to call on each start)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "sightline.store:migrations")
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise StoreError(f"cannot open or migrate the database at {engine.url!r}: {exc.orig}") from None


def open_engine(db_url: str | None = None, home: Path | None = None) -> Engine:
    """Engine for ``db_url`` (or the default), migrated to the newest schema."""
    engine = create_db_engine(db_url or default_db_url(home))
    upgrade_to_head(engine)
    return engine


def sqlite_checkpoint(engine: Engine, mode: str = "TRUNCATE") -> None:
    """SQLite: copy the WAL into the main file and (TRUNCATE) empty it, outside any transaction."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            cursor.execute(f"PRAGMA wal_checkpoint({mode})")
        finally:
            cursor.close()
