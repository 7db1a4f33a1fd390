"""Persistence: declarative base, engines and sessions, Alembic migrations."""
