"""Alembic migrations of the Sightline schema (applied by ``upgrade_to_head``)."""
