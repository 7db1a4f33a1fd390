"""Set-based writes for the tick: ``COPY`` on PostgreSQL, driver ``executemany`` on SQLite.

The tick writes tens of thousands of rows (waiting-list entries, events, change-log
rows) and updates as many applications. SQLAlchemy's per-row parameter processing and
PostgreSQL round trips were most of its time, so rows go to the driver directly; values
shared by every row (the business date, the recording time) are converted once, with
the column type's own bind processor, so the stored text is the same as through the ORM.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """Primary keys for ``count`` new rows, taken before the insert (for their audit rows)."""
    if count == 0:
        return []
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text(
            f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
            "FROM generate_series(1, :n)"), {"n": count}).scalars().all()
        return [int(v) for v in rows]
    # SQLite: the tick's transaction already holds the database's write lock.
    start = conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table.name}")).scalar_one()
    return list(range(start + 1, start + 1 + count))


def _copy(conn: Connection, table_name: str, columns: Sequence[str],
          rows: Sequence[tuple]) -> None:
    quote = conn.dialect.identifier_preparer.quote
    statement = (f"COPY {quote(table_name)} ({', '.join(quote(c) for c in columns)}) "
                 "FROM STDIN")
    driver = conn.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _sqlite_params(conn: Connection, table: Table, keys: Sequence[str],
                   rows: Sequence[dict[str, Any]], shared: dict[str, Any]) -> list[tuple]:
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
    """Insert rows (all with the same keys) plus ``shared`` column values."""
    if not rows:
        return
    shared = shared or {}
    conn = session.connection()
    keys = list(rows[0])
    columns = [*keys, *shared]
    if conn.dialect.name == "postgresql":
        tail = tuple(_plain(v) for v in shared.values())
        json_keys = {k for k in keys if isinstance(table.c[k].type, JSON)}
        _copy(conn, table.name, columns, [
            (*(json.dumps(r[k]) if k in json_keys else r[k] for k in keys), *tail)
            for r in rows])
        return
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    conn.exec_driver_sql(sql, _sqlite_params(conn, table, keys, rows, shared))


def update_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]],
                shared: dict[str, Any] | None = None) -> None:
    """UPDATE by ``id``: each row's own values plus ``shared`` ones.

    PostgreSQL: ``COPY`` into a temporary table and one ``UPDATE … FROM``; SQLite:
    ``executemany`` of an ``UPDATE … WHERE id = ?``.
    """
    if not rows:
        return
    shared = shared or {}
    conn = session.connection()
    keys = [k for k in rows[0] if k != "id"]
    if not keys:  # the same values for every row: one statement per chunk of ids
        ids = [r["id"] for r in rows]
        for i in range(0, len(ids), 5000):
            conn.execute(update(table).where(table.c.id.in_(ids[i:i + 5000])).values(**shared))
        return
    if conn.dialect.name == "postgresql":
        quote = conn.dialect.identifier_preparer.quote
        temp = f"tick_{uuid.uuid4().hex[:12]}"
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {temp} ON COMMIT DROP AS "
            f"SELECT id, {', '.join(quote(k) for k in keys)} FROM {quote(table.name)} "
            "WITH NO DATA")
        _copy(conn, temp, ["id", *keys],
              [(r["id"], *(_plain(r[k]) for k in keys)) for r in rows])
        sets = [f"{quote(k)} = t.{quote(k)}" for k in keys]
        params = {}
        for i, (key, value) in enumerate(shared.items()):
            sets.append(f"{quote(key)} = :s{i}")
            params[f"s{i}"] = _plain(value)
        conn.execute(text(f"UPDATE {quote(table.name)} AS a SET {', '.join(sets)} "
                          f"FROM {temp} AS t WHERE a.id = t.id"), params)
        conn.exec_driver_sql(f"DROP TABLE {temp}")
        return
    columns = [*keys, *shared]
    sql = (f"UPDATE {table.name} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?")
    params = _sqlite_params(conn, table, keys, rows, shared)
    conn.exec_driver_sql(sql, [(*p, r["id"]) for p, r in zip(params, rows, strict=True)])
