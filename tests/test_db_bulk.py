"""``ekita.core.db.bulk``: ``COPY`` on the caller's connection, with the ORM's stored text.

PostgreSQL only (``COPY`` is PostgreSQL's); the SQLite paths of the callers are covered
by their own tests.
"""

from __future__ import annotations

import enum
from datetime import datetime

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from ekita.core.db.bulk import copy_rows, copy_value, insert_rows
from ekita.core.models.audit import AuditEvent
from ekita.core.tracking import today
from tests.conftest import work


class Colour(enum.StrEnum):
    RED = "red"


def _postgres_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("COPY needs PostgreSQL")


def test_copy_value_converts_only_what_copy_cannot_take():
    """decisions P14 / F7: enums by value, dicts and lists as JSON text, the rest as is."""
    assert copy_value(Colour.RED) == "red"
    assert copy_value({"a": [1, None]}) == '{"a": [1, null]}'
    assert copy_value([1, "x"]) == '[1, "x"]'
    assert copy_value(7) == 7 and copy_value(None) is None and copy_value("s") == "s"


def test_copy_rows_quotes_identifiers_and_joins_the_transaction(engine):
    """decisions F7 / P14: COPY runs in the caller's transaction; odd names are quoted."""
    _postgres_only(engine)
    with work(engine) as s:
        conn = s.connection()
        conn.exec_driver_sql('CREATE TEMP TABLE "Bulk Test" ("order" int, "Note" text, '
                             "doc jsonb) ON COMMIT DROP")
        copy_rows(conn, "Bulk Test", ["order", "Note", "doc"],
                  [(1, "a\tb\nc", copy_value({"k": "ü"})), (2, None, None)])
        rows = conn.execute(text('SELECT "order", "Note", doc FROM "Bulk Test" '
                                 'ORDER BY "order"')).all()
        assert [tuple(r) for r in rows] == [(1, "a\tb\nc", {"k": "ü"}), (2, None, None)]


def test_copy_rows_rolls_back_with_the_session(engine):
    """decisions P14: bulk rows exist exactly when the business change does."""
    _postgres_only(engine)
    row = {"entity_id": 1, "action": "create", "changes": {"a": [None, 1]}}
    shared = {"actor": "t", "source": "test", "entity": "x", "valid_from": today()}
    with work(engine) as s:
        insert_rows(s, AuditEvent.__table__, [row], shared | {"recorded_at": _now(s)})
        s.rollback()
    with work(engine) as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0
        insert_rows(s, AuditEvent.__table__, [row], shared | {"recorded_at": _now(s)})
    with work(engine) as s:
        stored = s.scalars(select(AuditEvent)).one()
        assert stored.changes == {"a": [None, 1]} and stored.entity == "x"


def test_copy_stores_the_same_json_text_as_the_orm(engine):
    """decisions P14: a bulk-written JSON column reads back byte-identical to the ORM's."""
    _postgres_only(engine)
    changes = {"name": [None, "Müller"], "n": [1, 2.5], "flag": [False, True]}
    base = {"actor": "t", "source": "test", "entity": "x", "action": "create",
            "valid_from": today()}
    with work(engine) as s:
        now = _now(s)
        s.execute(AuditEvent.__table__.insert(), [
            {**base, "entity_id": 1, "changes": changes, "recorded_at": now}])
        insert_rows(s, AuditEvent.__table__, [{"entity_id": 2, "changes": changes}],
                    base | {"recorded_at": now})
    with work(engine) as s:
        texts = s.execute(text("SELECT changes::text FROM audit_event ORDER BY entity_id")
                          ).scalars().all()
        assert texts[0] == texts[1]


def _now(s: Session) -> datetime:
    return s.scalar(select(func.now()))
