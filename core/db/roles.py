"""Two PostgreSQL roles: an owner that migrates, an application role that serves.

Issue 12 item 7: the audit trail and the filed documents must stay unrewritable even for
the hub's own connection. Row triggers (migrations 0001, 0010) refuse UPDATE and DELETE,
but a table's owner may still TRUNCATE it or ``ALTER TABLE … DISABLE TRIGGER``. So the
serving role (API, worker, scheduler: ``EKITA_DATABASE_URL``) owns nothing and may only
INSERT and SELECT the append-only tables; the owner role (``EKITA_DATABASE_OWNER_URL``)
owns the schema and runs ``ekita-hub db upgrade``, which re-applies these grants after
every migration. Roles are cluster-wide and named by the configuration, so they are
created by the operator (or a test), never by a migration.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

#: Written once, never changed: audit (data-protection M5), filed documents and their bytes
#: (D5), the transfer log (M4) and the domain event log. The first three also carry row
#: triggers that bind every role; the last two are append-only through privileges alone,
#: so the owner can still delete them after their retention period (D1).
APPEND_ONLY = ("audit_event", "filed_document", "document_content", "transfer_record",
               "domain_event")
#: The schema version: the serving role reads it (``is_current``), only the owner writes it.
READ_ONLY = ("alembic_version",)


class RoleError(Exception):
    """The roles cannot be set up as asked; the message says what to do."""


@dataclass(frozen=True)
class Grants:
    """What ``apply`` did: the roles and the statements run (empty: nothing to do)."""

    owner: str
    app: str
    statements: tuple[str, ...]


def role_in(url: str) -> str | None:
    """The role a database URL logs in as, when it names one."""
    return make_url(url).username


def statements(app: str, owner: str, schema: str, tables: list[str]) -> list[str]:
    """The SQL that gives ``app`` exactly its privileges in ``schema`` (idempotent)."""

    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    a, o, s = q(app), q(owner), q(schema)
    sql = [f"GRANT USAGE ON SCHEMA {s} TO {a}",
           f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {a}",
           f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {a}"]
    for table in sorted(tables):
        if table in APPEND_ONLY:
            rights = "SELECT, INSERT"
        elif table in READ_ONLY:
            rights = "SELECT"
        else:
            rights = "SELECT, INSERT, UPDATE, DELETE"
        sql.append(f"GRANT {rights} ON {s}.{q(table)} TO {a}")
    sql += [f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {a}",
            # Tables a later migration creates are usable before the grants run again;
            # ``db upgrade`` re-applies them at its end, narrowing any new append-only table.
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s}"
            f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {a}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s}"
            f" GRANT USAGE, SELECT ON SEQUENCES TO {a}"]
    return sql


def check(conn: Connection, app: str, schema: str) -> None:
    """Refuse an application role that could undo the grants: missing, superuser, owner."""
    row = conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"),
                       {"r": app}).first()
    if row is None:
        raise RoleError(f"database role {app!r} does not exist: create it first "
                        f"(CREATE ROLE {app} LOGIN PASSWORD '…')")
    if row.rolsuper:
        raise RoleError(f"database role {app!r} is a superuser: the hub must serve as a "
                        "role without superuser rights (issue 12 item 7)")
    owned = conn.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = :s AND pg_get_userbyid(c.relowner) = :r ORDER BY 1"),
        {"s": schema, "r": app}).scalars().all()
    if owned:
        raise RoleError(f"database role {app!r} owns {', '.join(owned[:5])}: an owner may "
                        "TRUNCATE and disable triggers; run REASSIGN OWNED BY "
                        f"{app} TO <owner role> as the owner, then db upgrade again")


def plan(conn: Connection, app: str) -> Grants:
    """The grants for ``app`` on the connection's database and schema (nothing run)."""
    owner, schema = conn.execute(text("SELECT current_user, current_schema()")).one()
    if app == owner:
        return Grants(owner=owner, app=app, statements=())
    tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
                          {"s": schema}).scalars().all()
    return Grants(owner=owner, app=app, statements=tuple(statements(app, owner, schema,
                                                                    list(tables))))


def apply(owner_engine: Engine, app: str) -> Grants:
    """Give ``app`` its privileges, as the owner, in one transaction (idempotent).

    On SQLite, or when the application role is the owner itself (one-role set-up), there
    is nothing to grant and the statements are empty.
    """
    if owner_engine.dialect.name != "postgresql":
        return Grants(owner="", app=app, statements=())
    with owner_engine.begin() as conn:
        grants = plan(conn, app)
        if grants.statements:
            check(conn, app, conn.execute(text("SELECT current_schema()")).scalar_one())
            for sql in grants.statements:
                conn.exec_driver_sql(sql)
    return grants
