"""``ekita-hub db …``: migrate the schema as the owner role, grant the application role.

Two roles on PostgreSQL (issue 12 item 7, ``ekita.core.db.roles``): the owner
(``EKITA_DATABASE_OWNER_URL``) owns the tables and runs the migrations; the application
role (``EKITA_DATABASE_URL``, used by serve, worker and scheduler) may only INSERT and
SELECT the append-only tables and owns nothing. Without an owner URL one role does both,
as on SQLite.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from ekita.core.db import roles
from ekita.core.db.migrate import upgrade
from ekita.core.db.session import make_engine
from ekita.hub.config import Settings, load_settings

app = typer.Typer(help="Database schema and roles.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def app_role(settings: Settings) -> str:
    """The role ``database_url`` logs in as (asked of the server when the URL names none)."""
    named = roles.role_in(settings.database_url)
    if named:
        return named
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT current_user")).scalar_one())
    finally:
        engine.dispose()


def owner_engine(settings: Settings) -> Engine:
    """The owner's engine, refused when it points at another database than the hub's."""
    owner, served = make_url(settings.owner_url), make_url(settings.database_url)
    if owner.database != served.database:
        raise roles.RoleError("database_owner_url and database_url name different databases "
                              f"({owner.database}, {served.database}): both must reach the "
                              "hub's database")
    return make_engine(settings.owner_url)


def _grant(engine: Engine, settings: Settings) -> None:
    if engine.dialect.name != "postgresql":
        return
    grants = roles.apply(engine, app_role(settings))
    if grants.statements:
        out.print(f"role {grants.app}: INSERT and SELECT only on "
                  f"{', '.join(roles.APPEND_ONLY)}; owner {grants.owner}")
    else:
        err.print(f"one role ({grants.owner}) owns the schema and serves: it can TRUNCATE the "
                  "audit; set EKITA_DATABASE_OWNER_URL to the owner and EKITA_DATABASE_URL to "
                  "an application role (README, Everyday use)", style="yellow")


@app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Migrate the schema as the owner role, then grant the application role its rights."""
    settings = load_settings()
    engine = owner_engine(settings)
    try:
        upgrade(engine, revision)
        _grant(engine, settings)
    finally:
        engine.dispose()
    out.print(f"database at revision {revision}")


@app.command("roles")
def db_roles(
    role: Annotated[str | None, typer.Option(
        "--app-role", help="application role; default: the user of EKITA_DATABASE_URL")] = None,
    apply: Annotated[bool, typer.Option(help="run the statements, not only print them")] = False,
) -> None:
    """Print (or apply) the grants that make the application role append-only."""
    settings = load_settings()
    engine = owner_engine(settings)
    if engine.dialect.name != "postgresql":
        err.print("SQLite has no roles: the triggers of the schema are the protection")
        return
    name = role or app_role(settings)
    try:
        if apply:
            grants = roles.apply(engine, name)
        else:
            with engine.connect() as conn:
                grants = roles.plan(conn, name)
    finally:
        engine.dispose()
    if not grants.statements:
        err.print(f"{name} is the owner role itself: nothing to grant", style="yellow")
    for sql in grants.statements:
        print(f"{sql};")
