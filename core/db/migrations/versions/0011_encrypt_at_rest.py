"""bank and health data encrypted at rest everywhere (issue 12)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

Childminders' IBANs, the payment setups' BIC and account holder and the children's health
notes become Fernet ciphertext (``ekita.core.db.types.EncryptedText``), in their tables
and in the change log's before/after values. Converting stored values needs the data key:
with rows to convert and no key configured the upgrade stops before changing anything.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

from ekita.core import crypto
from ekita.core.errors import RuleViolation

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: table -> {column: its type before this revision}; frozen here, not read from the models.
FIELDS: dict[str, dict[str, sa.types.TypeEngine]] = {
    "childminder": {"iban": sa.String(length=34)},
    "payment_setup": {"bic": sa.String(length=11), "holder": sa.String(length=200)},
    "child": {"health_notes": sa.Text()},
}

_AUDIT = sa.table("audit_event", sa.column("id", sa.Integer), sa.column("entity", sa.String),
                  sa.column("changes", sa.JSON))


def _table(name: str) -> sa.TableClause:
    return sa.table(name, sa.column("id", sa.Integer), *(sa.column(c) for c in FIELDS[name]))


def _stored_values(conn: sa.Connection) -> int:
    """How many rows hold a value of a classified column (in the table or the change log)."""
    total = 0
    for name, columns in FIELDS.items():
        table = _table(name)
        total += conn.scalar(sa.select(sa.func.count()).select_from(table).where(
            sa.or_(*(table.c[c].is_not(None) for c in columns)))) or 0
    rows = conn.execute(sa.select(_AUDIT.c.entity, _AUDIT.c.changes)
                        .where(_AUDIT.c.entity.in_(FIELDS)))
    total += sum(1 for entity, changes in rows
                 if any(v is not None for c in FIELDS[entity] for v in changes.get(c) or ()))
    return total


def _require_key(conn: sa.Connection, direction: str) -> None:
    count = _stored_values(conn)
    if count and not crypto.configured():
        raise RuleViolation(
            f"migration 0011 must {direction} {count} stored bank/health value(s) and needs "
            "the data key: set EKITA_DATA_KEY (settings data_key) and run the upgrade again",
            record="settings", field="data_key", rule=crypto.RULE)


def _convert(conn: sa.Connection, how: Callable[[str], str]) -> None:
    """Apply ``how`` to every stored value of the classified columns and audit values."""
    for name, columns in FIELDS.items():
        table = _table(name)
        found = conn.execute(sa.select(table).where(
            sa.or_(*(table.c[c].is_not(None) for c in columns)))).mappings().all()
        for row in found:
            values = {c: how(row[c]) for c in columns if row[c] is not None}
            conn.execute(table.update().where(table.c.id == row["id"]).values(values))
    events = conn.execute(sa.select(_AUDIT.c.id, _AUDIT.c.entity, _AUDIT.c.changes)
                          .where(_AUDIT.c.entity.in_(FIELDS))).all()
    rewrites = []
    for event_id, entity, changes in events:
        keys = [c for c in FIELDS[entity] if c in changes]
        if any(v is not None for c in keys for v in changes[c]):
            rewrites.append((event_id, {**changes, **{
                c: [None if v is None else how(v) for v in changes[c]] for c in keys}}))
    if rewrites:
        with _audit_writable(conn):
            for event_id, new in rewrites:
                conn.execute(_AUDIT.update().where(_AUDIT.c.id == event_id)
                             .values(changes=new))


@contextmanager
def _audit_writable(conn: sa.Connection) -> Iterator[None]:
    """Lift 0001's update guard on the change log for this transaction only.

    The one sanctioned rewrite of audit rows: the same values, now as ciphertext
    (decisions: encryption at rest over audit immutability). The guard is back before
    the migration commits.
    """
    if conn.dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_immutable")
        yield
        op.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_immutable")
        return
    op.execute("DROP TRIGGER audit_event_no_update")
    yield
    op.execute("CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event"
               " BEGIN SELECT RAISE(ABORT, 'audit rows cannot be changed or deleted'); END")


def _alter(to_text: bool) -> None:
    for name, columns in FIELDS.items():
        changed = {c: t for c, t in columns.items() if not isinstance(t, sa.Text)}
        if not changed:
            continue
        with op.batch_alter_table(name, schema=None) as batch_op:
            for column, before in changed.items():
                batch_op.alter_column(column, existing_type=sa.Text() if not to_text else before,
                                      type_=sa.Text() if to_text else before,
                                      existing_nullable=True)


@contextmanager
def _zero_freed_pages(conn: sa.Connection) -> Iterator[None]:
    """SQLite keeps a rebuilt or updated row's old page in the file until it is reused:
    with ``secure_delete`` the freed content is overwritten with zeros (many builds have
    it on by default; the previous setting is restored). PostgreSQL keeps dead row
    versions until VACUUM: run ``VACUUM FULL`` on these tables after the upgrade.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
    conn.exec_driver_sql("PRAGMA secure_delete=ON")
    yield
    conn.exec_driver_sql(f"PRAGMA secure_delete={int(before or 0)}")


def upgrade() -> None:
    conn = op.get_bind()
    _require_key(conn, "encrypt")
    with _zero_freed_pages(conn):
        _alter(to_text=True)  # a Fernet token is far longer than 34 characters
        _convert(conn, crypto.encrypt)


def downgrade() -> None:
    conn = op.get_bind()
    _require_key(conn, "decrypt")
    _convert(conn, crypto.decrypt)
    _alter(to_text=False)
