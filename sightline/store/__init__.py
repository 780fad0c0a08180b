"""Persistent storage: SQLAlchemy models, engine factory and Alembic migrations (SQLite or PostgreSQL)."""

from sightline.store.db import create_db_engine, default_db_url, open_engine, session_factory, upgrade_to_head

__all__ = ["create_db_engine", "default_db_url", "open_engine", "session_factory", "upgrade_to_head"]
