"""The audit trail and the filed documents cannot be rewritten, not even by the hub itself.

Issue 12 item 7; data-protection M5 (audit rows not editable) and D5 (filed documents stay
unaltered). Threat: whoever holds the hub's database connection (a bug, an injected
statement, a stolen service password) rewrites or erases the audit trail to hide a change.

SQLite: the triggers of migrations 0001, 0010 and 0013 refuse UPDATE, DELETE and any
INSERT meeting an existing row's key, so REPLACE and UPSERT are refused too (REPLACE deletes
without DELETE triggers unless ``recursive_triggers`` is on). PostgreSQL: the hub serves
as an application role that may only INSERT and SELECT these tables and owns nothing, so
UPDATE, DELETE, UPSERT, TRUNCATE and ALTER TABLE … DISABLE TRIGGER are all refused.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ekita.core.db import roles
from ekita.core.db.base import Base
from ekita.core.db.migrate import MigrationRefused, upgrade
from ekita.core.db.session import make_engine
from ekita.core.services import people
from ekita.core.services.documents import family_file as ff
from ekita.core.services.documents import store
from tests.conftest import KEEP, PG_URL, work
from tests.world import build_world

ON = date(2027, 1, 4)
AUDIT_COLUMNS = "id, recorded_at, actor, source, entity, entity_id, action, valid_from, changes"
DOC_COLUMNS = ("id, uuid, family_file_id, doc_class, title, direction, pkn, child_id, "
               "cost_centre, valid_from, valid_to, reference_date, received_on, statute_ref, "
               "template_id, created_by, machine_generated, retention, file_name, media_type, "
               "sha256, size, business_key, filed_at")
NO_PRIVILEGE = "42501"


@dataclass(frozen=True)
class Rows:
    """One audit row, one filed document and its content, written by the services."""

    audit_id: int
    doc_id: int
    sha256: str


def seed(engine: Engine) -> Rows:
    """A family (its creation is audited) and one uploaded document in its file."""
    with work(engine) as s:
        family = people.create_family(s, {})
        filing = ff.Filing(family_id=family.id, business_key=f"upload:proof:{family.id}",
                           doc_class="Nachweis", title="Meldebescheinigung",
                           file_name="proof.pdf", media_type="application/pdf",
                           direction=ff.Direction.INCOMING, reference_date=ON,
                           machine_generated=False, received_on=ON)
        doc, _ = ff.file_document(s, filing, b"%PDF-1.4 proof " + uuid.uuid4().bytes)
        doc_id, digest = doc.id, doc.sha256
    with engine.connect() as conn:
        audit_id = conn.execute(text("SELECT max(id) FROM audit_event")).scalar_one()
    return Rows(audit_id, doc_id, digest)


def rewrites(rows: Rows, dialect: str) -> dict[str, str]:
    """Every way to change a written row: name -> statement."""
    a, d, h = rows.audit_id, rows.doc_id, rows.sha256
    forged_audit = AUDIT_COLUMNS.replace("actor,", "'forger',")
    forged_doc = DOC_COLUMNS.replace("title,", "'forged',")
    audit_copy = f"SELECT {forged_audit} FROM audit_event WHERE id = {a}"
    doc_copy = f"SELECT {forged_doc} FROM filed_document WHERE id = {d}"
    found = {
        "audit UPDATE": f"UPDATE audit_event SET actor = 'forger' WHERE id = {a}",
        "audit DELETE": f"DELETE FROM audit_event WHERE id = {a}",
        "audit UPSERT": f"INSERT INTO audit_event ({AUDIT_COLUMNS}) {audit_copy} "
                        "ON CONFLICT (id) DO UPDATE SET actor = 'forger'",
        "document UPDATE": f"UPDATE filed_document SET title = 'forged' WHERE id = {d}",
        "document DELETE": f"DELETE FROM filed_document WHERE id = {d}",
        "document UPSERT": f"INSERT INTO filed_document ({DOC_COLUMNS}) {doc_copy} "
                           "ON CONFLICT (id) DO UPDATE SET title = 'forged'",
        "content UPDATE": f"UPDATE document_content SET size = 1 WHERE sha256 = '{h}'",
        "content DELETE": f"DELETE FROM document_content WHERE sha256 = '{h}'",
    }
    if dialect == "sqlite":
        new_id = forged_doc.replace("id,", "9999,", 1)
        found |= {
            "audit INSERT OR REPLACE": f"INSERT OR REPLACE INTO audit_event ({AUDIT_COLUMNS}) "
                                       f"{audit_copy}",
            "audit REPLACE": f"REPLACE INTO audit_event ({AUDIT_COLUMNS}) {audit_copy}",
            "document INSERT OR REPLACE": f"INSERT OR REPLACE INTO filed_document "
                                          f"({DOC_COLUMNS}) {doc_copy}",
            # A new id but the same uuid and business key: REPLACE would delete the original.
            "document REPLACE by unique key": f"REPLACE INTO filed_document ({DOC_COLUMNS}) "
                                              f"SELECT {new_id} FROM filed_document "
                                              f"WHERE id = {d}",
            "content INSERT OR REPLACE": "INSERT OR REPLACE INTO document_content "
                                         f"(sha256, size, data) VALUES ('{h}', 1, x'00')",
            "content UPSERT": "INSERT INTO document_content (sha256, size, data) VALUES "
                              f"('{h}', 1, x'00') ON CONFLICT (sha256) DO UPDATE SET data = x'00'",
        }
    else:
        found |= {
            "audit TRUNCATE": "TRUNCATE audit_event",
            "document TRUNCATE": "TRUNCATE filed_document CASCADE",
            "content TRUNCATE": "TRUNCATE document_content CASCADE",
            "audit DISABLE TRIGGER": "ALTER TABLE audit_event DISABLE TRIGGER ALL",
            "document DISABLE TRIGGER": "ALTER TABLE filed_document DISABLE TRIGGER ALL",
            "content DISABLE TRIGGER": "ALTER TABLE document_content DISABLE TRIGGER ALL",
            "audit DROP TRIGGER": "DROP TRIGGER audit_event_immutable ON audit_event",
        }
    return found


def snapshot(conn, rows: Rows) -> tuple:
    """The three rows as stored, to compare before and after an attempt."""
    def one(sql: str) -> tuple:
        return tuple(conn.execute(sql).fetchone() or ())

    return (one(f"SELECT * FROM audit_event WHERE id = {rows.audit_id}"),
            one(f"SELECT * FROM filed_document WHERE id = {rows.doc_id}"),
            one(f"SELECT sha256, size, data FROM document_content WHERE sha256 = '{rows.sha256}'"),
            one("SELECT count(*) FROM audit_event"), one("SELECT count(*) FROM filed_document"))


# ----------------------------------------------------------------------------- SQLite


@pytest.fixture
def sqlite_file(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[Path, Engine]]:
    target = tmp_path / "ekita.db"
    shutil.copy(sqlite_template, target)
    engine = make_engine(f"sqlite:///{target}")
    yield target, engine
    engine.dispose()


@pytest.mark.parametrize("via", ["hub engine", "plain sqlite3"])
def test_sqlite_refuses_every_rewrite_of_audit_and_documents(sqlite_file, via):
    """Issue 12 item 7 (M5, D5), threat: a REPLACE or UPSERT rewrites an audit row.

    Tried through the hub's engine (``recursive_triggers`` on) and through a plain sqlite3
    connection with SQLite's defaults, which proves the schema's triggers alone suffice.
    """
    path, engine = sqlite_file
    rows = seed(engine)
    engine.dispose()
    conn = sqlite3.connect(path)
    if via == "hub engine":
        conn.execute("PRAGMA recursive_triggers=ON")
    assert conn.execute("PRAGMA recursive_triggers").fetchone()[0] == (via == "hub engine")
    before = snapshot(conn, rows)
    assert before[0] and before[1] and before[2]
    for name, sql in rewrites(rows, "sqlite").items():
        with pytest.raises(sqlite3.IntegrityError, match="cannot be changed or deleted"):
            conn.execute(sql)
        conn.rollback()
        assert snapshot(conn, rows) == before, name
    conn.close()


def test_sqlite_still_takes_new_rows_and_the_same_content_twice(sqlite_file):
    """Issue 12 item 7: the refusal of overwrites does not refuse new audit rows, a second
    document, or the store's ``ON CONFLICT DO NOTHING`` for bytes it already holds (D5)."""
    _, engine = sqlite_file
    first = seed(engine)
    second = seed(engine)
    assert second.doc_id > first.doc_id
    with engine.connect() as conn:
        assert conn.execute(text("SELECT max(id) FROM audit_event")).scalar_one() > first.audit_id
        data = conn.execute(text("SELECT data FROM document_content WHERE sha256 = :h"),
                            {"h": first.sha256}).scalar_one()
    with work(engine) as s:  # the same bytes again: kept once, no error
        assert store.put(s, bytes(data)) == first.sha256
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM document_content WHERE sha256 = :h"),
                            {"h": first.sha256}).scalar_one() == 1


# ------------------------------------------------------------------------- PostgreSQL

needs_pg = pytest.mark.skipif(PG_URL is None, reason="PostgreSQL not configured "
                              "(EKITA_TEST_DATABASE_URL)")


@dataclass
class TwoRoles:
    owner: Engine  # the scratch database's owner (the test superuser)
    app: Engine  # the application role, granted by ekita.core.db.roles
    app_role: str
    app_url: str


def _truncate(engine: Engine) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name not in KEEP)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


def _drop_role(admin: Engine, name: str) -> None:
    """Roles are cluster-wide: drop its privileges in the test database, then the role."""
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP OWNED BY "{name}"')
    with admin.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def two_roles(request: pytest.FixtureRequest) -> Iterator[TwoRoles]:
    """The test database with a fresh application role (unique per run, dropped after)."""
    owner = request.getfixturevalue("pg_engine")
    _truncate(owner)
    name = f"ekita_app_{uuid.uuid4().hex[:10]}"
    with owner.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            f'CREATE ROLE "{name}" LOGIN')  # trust authentication on the test server
    grants = roles.apply(owner, name)
    assert grants.statements and grants.app == name
    url = owner.url.set(username=name, password=None).render_as_string(hide_password=False)
    app = make_engine(url)
    yield TwoRoles(owner, app, name, url)
    app.dispose()
    _drop_role(owner, name)


def _pg_snapshot(engine: Engine, rows: Rows) -> tuple:
    raw = engine.raw_connection()
    try:
        return snapshot(raw.cursor(), rows)
    finally:
        raw.close()


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(getattr(exc.orig, "diag", None), "sqlstate", None)


@needs_pg
def test_postgres_application_role_cannot_rewrite_audit_or_documents(two_roles):
    """Issue 12 item 7 (M5, D5), threat: the hub's own connection TRUNCATEs the audit or
    disables its trigger. As the application role every UPDATE, DELETE, UPSERT, TRUNCATE,
    DISABLE TRIGGER and DROP TRIGGER is refused for lack of privilege; the rows stay."""
    rows = seed(two_roles.owner)
    before = _pg_snapshot(two_roles.owner, rows)
    assert before[0] and before[1] and before[2]
    for name, sql in rewrites(rows, "postgresql").items():
        with pytest.raises(DBAPIError) as refused, two_roles.app.begin() as conn:
            conn.exec_driver_sql(sql)
        assert _sqlstate(refused.value) == NO_PRIVILEGE, (name, str(refused.value))
        assert _pg_snapshot(two_roles.owner, rows) == before, name


@needs_pg
def test_postgres_application_role_inserts_reads_and_runs_the_hub(two_roles):
    """Issue 12 item 7: the application role is enough to serve. It builds the test city
    (every ordinary table written, every change audited), files a document and files its
    bytes again (``ON CONFLICT DO NOTHING`` needs INSERT only), and reads the audit."""
    world = build_world(two_roles.app)
    child = world.children[world.facility_m][0]
    with work(two_roles.app) as s:
        people.update_child(s, child, {"first_name": "Umbenannt"})
    rows = seed(two_roles.app)
    with work(two_roles.app) as s:
        data = ff.content(s, rows.doc_id)[1]
        assert store.put(s, data) == rows.sha256
    with two_roles.app.connect() as conn:
        changes = conn.execute(text("SELECT count(*) FROM audit_event WHERE entity = 'child' "
                                    "AND action = 'update'")).scalar_one()
        owner = conn.execute(text("SELECT tableowner FROM pg_tables WHERE tablename = "
                                  "'audit_event'")).scalar_one()
    assert changes >= 1
    assert owner != two_roles.app_role


@needs_pg
def test_postgres_grants_are_idempotent_and_refuse_a_role_that_owns_tables(two_roles):
    """Issue 12 item 7: ``db upgrade`` re-applies the grants every time with the same
    result; an application role that owns a table (so could TRUNCATE or disable its
    triggers) or is a superuser is refused with a message saying what to do."""
    def privileges() -> set[tuple[str, str]]:
        with two_roles.owner.connect() as conn:
            return set(conn.execute(text(
                "SELECT table_name, privilege_type FROM information_schema.role_table_grants"
                " WHERE grantee = :r"), {"r": two_roles.app_role}).all())

    first = privileges()
    roles.apply(two_roles.owner, two_roles.app_role)
    assert privileges() == first
    assert {p for t, p in first if t == "audit_event"} == {"SELECT", "INSERT"}
    assert {p for t, p in first if t == "family"} == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert {p for t, p in first if t == "alembic_version"} == {"SELECT"}
    with two_roles.owner.connect() as conn, pytest.raises(roles.RoleError, match="superuser"):
        roles.check(conn, "postgres", "public")
    with two_roles.owner.connect() as conn, pytest.raises(roles.RoleError, match="not exist"):
        roles.check(conn, two_roles.app_role + "_missing", "public")
    with two_roles.owner.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE stray (id int)")
        conn.exec_driver_sql(f'ALTER TABLE stray OWNER TO "{two_roles.app_role}"')
    try:
        with pytest.raises(roles.RoleError, match="owns stray"):
            roles.apply(two_roles.owner, two_roles.app_role)
    finally:
        with two_roles.owner.begin() as conn:
            conn.exec_driver_sql("DROP TABLE stray")


@needs_pg
def test_postgres_application_role_may_not_migrate(two_roles):
    """Issue 12 item 7: serve/worker/scheduler run as the application role, whose
    ``upgrade`` only checks the schema; on a database to migrate it ends in one clear
    error naming ``ekita-hub db upgrade``, not a traceback about a missing privilege."""
    assert PG_URL is not None
    scratch = f"ekita_norole_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{scratch}"')
    url = make_url(two_roles.app_url).set(database=scratch).render_as_string(
        hide_password=False)
    fresh = make_engine(url)
    try:
        upgrade(two_roles.app)  # at the head: nothing to do, no privilege needed
        with pytest.raises(MigrationRefused, match="ekita-hub db upgrade"):
            upgrade(fresh)
    finally:
        fresh.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        admin.dispose()


@needs_pg
def test_cli_db_upgrade_migrates_as_owner_and_grants_the_application_role(two_roles,
                                                                         tmp_path):
    """Issue 12 item 7: `ekita-hub db upgrade` with EKITA_DATABASE_OWNER_URL migrates as
    the owner and (re)applies the application role's grants; `db roles` prints them."""
    with two_roles.owner.begin() as conn:
        conn.exec_driver_sql(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM '
                             f'"{two_roles.app_role}"')
    owner_url = two_roles.owner.url.render_as_string(hide_password=False)
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": "/tmp",
           "EKITA_DATABASE_URL": two_roles.app_url, "EKITA_DATABASE_OWNER_URL": owner_url,
           "COLUMNS": "200"}
    exe = Path(sys.executable).parent / "ekita-hub"
    done = subprocess.run([str(exe), "db", "upgrade"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"role {two_roles.app_role}: INSERT and SELECT only" in done.stdout
    with pytest.raises(DBAPIError) as refused, two_roles.app.begin() as conn:
        conn.exec_driver_sql("TRUNCATE audit_event")
    assert _sqlstate(refused.value) == NO_PRIVILEGE
    with two_roles.app.connect() as conn:  # the grants are back
        conn.exec_driver_sql("SELECT count(*) FROM family").scalar_one()
    shown = subprocess.run([str(exe), "db", "roles"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert (f'GRANT SELECT, INSERT ON "public"."audit_event" TO "{two_roles.app_role}";'
            in shown.stdout)
