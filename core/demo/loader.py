"""Bulk-loading the demo city in one transaction, with the audit rows the ORM would write."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Engine,
    Enum,
    Numeric,
    Table,
    Time,
    exists,
    insert,
    literal_column,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from ekita.core import crypto
from ekita.core.db.base import Base
from ekita.core.db.bulk import copy_rows, copy_value
from ekita.core.db.types import encrypted_columns, encrypted_keys, seal
from ekita.core.demo.city import ACTOR, BATCH_SIZE, SOURCE, DemoCity, Progress, Row
from ekita.core.errors import Conflict
from ekita.core.models import (
    AuditEvent,
)
from ekita.core.tracking import jsonable

# Records with their own start date are audited as valid from it; the rest from today.
_START_FIELD = {"care_offer": "valid_from", "care_contract": "start_date", "pkn": "valid_from"}
# Columns the loader fills with the city's fixed timestamp (Tracked mixin, NOT NULL).
_STAMPED = ("created_at", "updated_at")


def _needs_conversion(model: type[Base]) -> tuple[str, ...]:
    """Columns whose Python values ``jsonable`` changes (dates, times, enums, decimals)."""
    kinds = (Date, DateTime, Time, Numeric, Enum)
    return tuple(c.key for c in model.__table__.columns if isinstance(c.type, kinds))


def _audit_params(model: type[Base], rows: Sequence[Row], city: DemoCity) -> list[Row]:
    """entity_id, valid_from and changes of each record's 'create' audit row.

    Same content as ``ekita.core.tracking`` writes: every non-None field, including
    the ``created_at`` stamp the loader adds, except the ignored ones, as
    ``[None, jsonable(value)]``. Only the typed columns go through ``jsonable`` (with
    a cache: dates and enum values repeat) since this runs for 350,000 rows.
    """
    ignore = tuple(getattr(model, "__audit_ignore__", ()))
    convert = tuple(key for key in _needs_conversion(model) if key not in ignore)
    stamped = [(key, [None, jsonable(city.recorded_at)]) for key in _STAMPED if key not in ignore]
    start = _START_FIELD.get(model.__tablename__)
    sealed = bool(encrypted_keys(model))
    cache: dict[Any, Any] = {}
    out = []
    for row in rows:
        changes = {k: [None, v] for k, v in row.items() if v is not None}
        for key in ignore:
            changes.pop(key, None)
        for key in convert:
            pair = changes.get(key)
            if pair is not None:
                value = pair[1]
                if type(value) is Decimal:  # Decimal("7") == Decimal("7.0"): never cached
                    pair[1] = jsonable(value)
                    continue
                if value not in cache:
                    cache[value] = jsonable(value)
                pair[1] = cache[value]
        for key, pair in stamped:
            changes[key] = list(pair)
        if sealed:
            changes = seal(model, changes)  # bank and health values only as ciphertext
        out.append(
            {
                "entity_id": row["id"],
                "valid_from": row[start] if start else city.today,
                "changes": changes,
            }
        )
    return out


def _audit_constants(model: type[Base], city: DemoCity) -> Row:
    return {
        "recorded_at": city.recorded_at,
        "actor": ACTOR,
        "source": SOURCE,
        "entity": model.__tablename__,
        "action": "create",
    }


def audit_events(model: type[Base], rows: Sequence[Row], city: DemoCity) -> list[Row]:
    """The complete 'create' AuditEvent rows the ORM hook would write for these records."""
    constants = _audit_constants(model, city)
    return [{**constants, **params} for params in _audit_params(model, rows, city)]


def stamped(row: Row, city: DemoCity) -> Row:
    """A generated row with the timestamps the loader adds (for other bulk paths)."""
    return {**row, **dict.fromkeys(_STAMPED, city.recorded_at)}


def _inline(conn: Connection, table: Table, values: Row) -> dict[str, ColumnElement[Any]]:
    """Values the same for every row of a batch as SQL literals rendered by the column's
    own type, so executemany does not bind them once per row (≈ 20 % faster)."""
    out: dict[str, ColumnElement[Any]] = {}
    for key, value in values.items():
        column_type = table.c[key].type
        render = column_type.dialect_impl(conn.dialect).literal_processor(conn.dialect)
        out[key] = literal_column(render(value), column_type)
    return out


@dataclass(frozen=True, slots=True)
class _Batch:
    model: type[Base]
    rows: Sequence[Row]
    done: int  # rows of this table written once this batch is in
    total: int


def _batches(city: DemoCity, size: int) -> list[_Batch]:
    return [
        _Batch(model, rows[start : start + size], min(start + size, len(rows)), len(rows))
        for model, rows in city.tables()
        for start in range(0, len(rows), size)
    ]


def _require_empty(conn: Connection, city: DemoCity) -> None:
    for model, _ in city.tables():
        if conn.scalar(select(exists().select_from(model.__table__))):
            raise Conflict(
                f"table {model.__tablename__} already has rows; the demo loads into an "
                "empty database",
                record=model.__tablename__,
                rule="the demo never overwrites data",
            )


def _reset_sequences(conn: Connection, city: DemoCity) -> None:
    """Explicit ids bypass PostgreSQL's sequences; move them past the loaded rows."""
    if conn.dialect.name != "postgresql":
        return
    for model, _ in city.tables():
        name = model.__tablename__
        sequence = f"pg_get_serial_sequence('{name}', 'id')"
        conn.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {name}))"))


Writer = Callable[[Connection, Table, Sequence[Row], Row], None]


def _write_executemany(conn: Connection, table: Table, rows: Sequence[Row], same: Row) -> None:
    """Core ``insert`` executemany; ``same`` holds the values shared by every row."""
    conn.execute(insert(table).values(_inline(conn, table, same)), rows)


def _encrypted(table: Table, rows: Sequence[Row]) -> Sequence[Row]:
    """Rows with their ``EncryptedText`` values as ciphertext: ``COPY`` bypasses the column
    types that encrypt on every other write (issue 12 item 3)."""
    keys = encrypted_columns(table)
    if not keys:
        return rows
    return [{k: crypto.encrypt(v) if k in keys and v is not None else v for k, v in row.items()}
            for row in rows]


def _write_copy(conn: Connection, table: Table, rows: Sequence[Row], same: Row) -> None:
    """PostgreSQL ``COPY FROM STDIN`` on the transaction's own connection."""
    rows = _encrypted(table, rows)
    shared = tuple(copy_value(v) for v in same.values())
    copy_rows(conn, table.name, [*rows[0], *same],
              ((*(copy_value(v) for v in row.values()), *shared) for row in rows))


def _writer(conn: Connection, copy: bool | None) -> Writer:
    postgres = conn.dialect.name == "postgresql"
    if copy and not postgres:
        raise ValueError("copy=True needs PostgreSQL")
    return _write_copy if (postgres if copy is None else copy) else _write_executemany


def load(
    engine: Engine,
    city: DemoCity,
    progress: Progress | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    copy: bool | None = None,
) -> None:
    """Insert the city and its audit rows in one transaction, batch by batch.

    Bulk Core ``executemany`` instead of the ORM keeps 700,000 rows within the minute
    the demo may take; the audit rows are written here, each batch right after its
    records, because the ORM hook does not see Core inserts. On PostgreSQL the
    batches go through ``COPY`` unless ``copy=False``: executemany costs one
    statement per row there, and on a 2-core machine the client and the server
    backend both saturate at about a minute (see bench/demo_load.py). SQLite always
    uses executemany. ``progress(stage, done, total)`` is called after every batch.
    Refuses (``Conflict``) if any of the tables already has rows. Bank and health columns
    are encrypted with the configured data key; without one (a plain ``ekita-hub demo``)
    the invented city gets a key generated for this process, so set ``EKITA_DATA_KEY``
    to read those columns again later.
    """
    if not crypto.configured():
        crypto.configure(crypto.generate_key())
    report = progress or (lambda _stage, _done, _total: None)
    tracked = sum(len(rows) for _, rows in city.tables())
    audit = AuditEvent.__table__
    stamps = dict.fromkeys(_STAMPED, city.recorded_at)
    audited = 0
    with engine.begin() as conn:
        _require_empty(conn, city)
        write = _writer(conn, copy)
        for batch in _batches(city, batch_size):
            table = batch.model.__table__
            write(conn, table, batch.rows, stamps)
            report(table.name, batch.done, batch.total)
            params = _audit_params(batch.model, batch.rows, city)
            write(conn, audit, params, _audit_constants(batch.model, city))
            audited += len(params)
            report(audit.name, audited, tracked)
        _reset_sequences(conn, city)
