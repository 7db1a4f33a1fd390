"""Alembic migrations of the hub's schema (``ekita-hub db upgrade``)."""
