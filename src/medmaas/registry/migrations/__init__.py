"""Alembic migrations of the registry schema, run from code by :func:`medmaas.registry.db.migrate`."""
