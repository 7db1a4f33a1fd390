"""Set-based writes that bypass SQLAlchemy's per-row work: ``COPY`` on PostgreSQL,
driver ``executemany`` on SQLite.

Bulk paths (the demo loader, the placement tick, the debit run, the change log of
set-based writes) write tens of thousands of rows in one transaction. SQLAlchemy's
per-row parameter processing and PostgreSQL's per-row round trips were most of their
time, so rows go to the driver directly, on the caller's connection: they commit or
roll back with the caller's transaction. Values are converted so the stored text is
the same as through the ORM (enums by value, JSON as ``json.dumps`` text, the column
type's own bind processor on SQLite).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session


def copy_value(value: Any) -> Any:
    """A Python value as ``COPY`` must receive it: enums by value, dicts and lists as JSON.

    ``json.dumps`` is what SQLAlchemy's JSON type sends (the engines keep the default
    serializer), so a JSON column holds the same text either way.
    """
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def copy_rows(conn: Connection, table: str, columns: Sequence[str],
              rows: Iterable[tuple[Any, ...]]) -> None:
    """``COPY table (columns) FROM STDIN`` with ``rows`` (PostgreSQL, psycopg 3).

    Runs on the driver connection under ``conn``, so it is part of ``conn``'s
    transaction. Identifiers are quoted by the dialect's preparer; the values must be
    ready for the driver (see ``copy_value``): nothing is converted here, because the
    callers know which columns need it and skip the check for the rest.
    """
    quote = conn.dialect.identifier_preparer.quote
    statement = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    driver = conn.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def sqlite_params(conn: Connection, table: Table, keys: Sequence[str],
                  rows: Sequence[dict[str, Any]], shared: dict[str, Any]) -> list[tuple]:
    """Driver parameters for ``rows`` (``keys``) plus ``shared``, through the column
    types' bind processors, as SQLAlchemy would send them to sqlite3."""
    processors = [table.c[k].type.bind_processor(conn.dialect) for k in keys]
    fixed = []
    for key, value in shared.items():
        process = table.c[key].type.bind_processor(conn.dialect)
        if isinstance(value, enum.Enum):
            value = value.value
        fixed.append(process(value) if process and value is not None else value)
    tail = tuple(fixed)
    pairs = list(zip(keys, processors, strict=True))
    plain = [k for k, process in pairs if process is None]
    if len(plain) == len(keys):  # ids, numbers, strings: no conversion needed
        return [(*(row[k] for k in keys), *tail) for row in rows]
    return [(*(process(row[k]) if process and row[k] is not None else row[k]
               for k, process in pairs), *tail) for row in rows]


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]],
                shared: dict[str, Any] | None = None) -> None:
    """Insert rows (all with the same keys) plus ``shared`` column values.

    PostgreSQL: ``COPY``; per-row values are passed as they are except in JSON
    columns, shared values once through ``copy_value``. SQLite: one ``executemany``.
    """
    if not rows:
        return
    shared = shared or {}
    conn = session.connection()
    keys = list(rows[0])
    columns = [*keys, *shared]
    if conn.dialect.name == "postgresql":
        tail = tuple(copy_value(v) for v in shared.values())
        json_keys = {k for k in keys if isinstance(table.c[k].type, JSON)}
        copy_rows(conn, table.name, columns, [
            (*(json.dumps(r[k]) if k in json_keys else r[k] for k in keys), *tail)
            for r in rows])
        return
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    conn.exec_driver_sql(sql, sqlite_params(conn, table, keys, rows, shared))
