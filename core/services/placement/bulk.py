"""Set-based writes for the tick that only the tick needs: ids taken ahead, UPDATE by id.

Inserts go through ``ekita.core.db.bulk.insert_rows`` (``COPY`` on PostgreSQL, driver
``executemany`` on SQLite) and change-log rows through ``ekita.core.tracking.record_bulk``.
The tick updates tens of thousands of applications; SQLAlchemy's per-row parameter
processing and PostgreSQL round trips were most of its time, so rows go to the driver
directly; values shared by every row are converted once, so the stored text is the same
as through the ORM.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, text, update
from sqlalchemy.orm import Session

from ekita.core.db.bulk import copy_rows, copy_value, sqlite_params


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
        copy_rows(conn, temp, ["id", *keys],
                  [(r["id"], *(copy_value(r[k]) for k in keys)) for r in rows])
        sets = [f"{quote(k)} = t.{quote(k)}" for k in keys]
        params = {}
        for i, (key, value) in enumerate(shared.items()):
            sets.append(f"{quote(key)} = :s{i}")
            params[f"s{i}"] = copy_value(value)
        conn.execute(text(f"UPDATE {quote(table.name)} AS a SET {', '.join(sets)} "
                          f"FROM {temp} AS t WHERE a.id = t.id"), params)
        conn.exec_driver_sql(f"DROP TABLE {temp}")
        return
    columns = [*keys, *shared]
    sql = (f"UPDATE {table.name} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?")
    params = sqlite_params(conn, table, keys, rows, shared)
    conn.exec_driver_sql(sql, [(*p, r["id"]) for p, r in zip(params, rows, strict=True)])
