"""Database engine and session factory.

SQLite (the embedded default, one file under ``$SIGHTLINE_HOME``) runs in WAL
mode with foreign keys, ``secure_delete`` (erased rows are overwritten with
zeros, not just unlinked) and a busy timeout. Writing transactions start with
``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing, which also
keeps the audit chain linear; read-only transactions start with a plain
(deferred) ``BEGIN``, which in WAL mode reads one consistent snapshot and never
takes or waits for the write lock. :func:`session_factory` makes the split:
``sessions()`` is a read session, ``sessions.begin()`` a writing transaction.
PostgreSQL is selected with ``SIGHTLINE_DB_URL=postgresql+psycopg://user@host/db``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sightline.config import default_data_dir
from sightline.errors import StoreError

BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "sightline_read_only"  # execution option: this connection's transactions only read


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
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")  # deferred: a snapshot, no write lock
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def read_only(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions only read: on SQLite they never take the write lock."""
    return engine.execution_options(**{READ_ONLY: True})


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


class Sessions(sessionmaker[Session]):
    """Session factory that tells reads from writes (loaded objects stay usable after commit).

    ``sessions()`` is a read session (its transactions are read-only snapshots on SQLite);
    ``sessions.begin()`` and ``sessions.writer()`` are for changes (``BEGIN IMMEDIATE`` on SQLite).
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(read_only(engine), expire_on_commit=False)
        self.write_bind = engine

    def writer(self) -> Session:
        """A session whose transactions may write."""
        return self(bind=self.write_bind)

    @contextlib.contextmanager
    def begin(self) -> Iterator[Session]:  # type: ignore[override]
        """A writing transaction that commits on success and rolls back on error."""
        with self.writer() as session, session.begin():
            yield session


def session_factory(engine: Engine) -> Sessions:
    """Read sessions by calling it, writing transactions with ``.begin()`` (see :class:`Sessions`)."""
    return Sessions(engine)


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


def database_dir(engine: Engine) -> Path | None:
    """The folder holding an SQLite database file (None for PostgreSQL or in-memory SQLite)."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return None
    return Path(engine.url.database).resolve().parent


def ping(engine: Engine) -> bool:
    """Whether the database answers ``SELECT 1`` (any driver error means "not reachable")."""
    try:
        with read_only(engine).connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure is "not reachable"
        return False


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
