"""Run the Alembic migrations programmatically (used by the CLI, the demo and the tests).

Migrating needs the owner role (``ekita.core.db.roles``): the application role that serves
may not change the schema, so for it ``upgrade`` only checks that the schema is current and
otherwise says to run ``ekita-hub db upgrade``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import ProgrammingError

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


#: SQLSTATE insufficient_privilege: the role may not run DDL (the application role).
_NO_PRIVILEGE = "42501"


class MigrationRefused(Exception):
    """The connected role may not migrate the schema; the message says which to use."""


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision``; a schema already at the head is left alone (no DDL)."""
    if revision == "head" and is_current(engine):
        return
    try:
        command.upgrade(alembic_config(engine), revision)
    except ProgrammingError as exc:
        if getattr(getattr(exc.orig, "diag", None), "sqlstate", None) != _NO_PRIVILEGE:
            raise
        raise MigrationRefused(
            f"database role {engine.url.username or '(default)'} may not migrate the "
            "schema: run `ekita-hub db upgrade` with EKITA_DATABASE_OWNER_URL set to the "
            "owner role") from None


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest revision."""
    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads
