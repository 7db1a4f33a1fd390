"""audit and filed documents immutable in the database itself (issue 12)

SQLite: ``INSERT OR REPLACE`` resolves a key conflict by deleting the old row, and SQLite
fires no DELETE trigger for that unless ``recursive_triggers`` is on; so the UPDATE/DELETE
triggers of 0001 and 0010 did not stop a REPLACE from rewriting an audit row. A BEFORE INSERT
trigger now refuses any insert that meets an existing row on one of the table's keys
(primary key and unique columns): REPLACE, and the UPSERT ``ON CONFLICT DO UPDATE``, never
reach their conflict handling. ``document_content`` is content-addressed: inserting the same
hash with the same bytes is ignored (the store's ``ON CONFLICT DO NOTHING``), with other
bytes it is refused.

PostgreSQL keeps its row triggers (UPDATE/DELETE, which an UPSERT's update also fires);
TRUNCATE and ALTER TABLE … DISABLE TRIGGER are refused through privileges: the hub serves
as an application role that owns nothing (``ekita.core.db.roles``), roles being
cluster-wide and named by the configuration, not by a migration.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: table -> the columns of its keys (an insert meeting any of them would overwrite a row).
KEYED = {
    "audit_event": ("id",),
    "filed_document": ("id", "uuid", "business_key"),
}
MESSAGE = {
    "audit_event": "audit rows cannot be changed or deleted",
    "filed_document": "filed documents cannot be changed or deleted",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, keys in KEYED.items():
        met = " OR ".join(f"{k} = NEW.{k}" for k in keys)
        op.execute(
            f"CREATE TRIGGER {table}_no_overwrite BEFORE INSERT ON {table}"
            f" WHEN EXISTS (SELECT 1 FROM {table} WHERE {met})"
            f" BEGIN SELECT RAISE(ABORT, '{MESSAGE[table]}'); END")
    op.execute(
        "CREATE TRIGGER document_content_no_overwrite BEFORE INSERT ON document_content"
        " WHEN EXISTS (SELECT 1 FROM document_content WHERE sha256 = NEW.sha256)"
        " BEGIN"
        " SELECT RAISE(ABORT, 'filed documents cannot be changed or deleted')"
        " WHERE NOT EXISTS (SELECT 1 FROM document_content"
        " WHERE sha256 = NEW.sha256 AND data IS NEW.data AND size IS NEW.size);"
        " SELECT RAISE(IGNORE);"
        " END")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in (*KEYED, "document_content"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_overwrite")
