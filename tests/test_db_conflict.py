"""``insert_ignoring``: one cacheable ``INSERT … ON CONFLICT DO NOTHING`` for both databases
(house rule "performance is measured": the dialect inserts were recompiled per call)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from ekita.core.db.conflict import insert_ignoring
from ekita.core.models.documents import DocumentDmsRef

T = DocumentDmsRef.__table__
COLUMNS = ("object_uuid", "dms_id", "imported", "detail", "acknowledged_at")


def test_statement_is_cached_and_typed():
    """The same statement object per table and columns, with a cache key SQLAlchemy uses."""
    stmt = insert_ignoring(T, COLUMNS, ("object_uuid",))
    assert stmt is insert_ignoring(T, COLUMNS, ("object_uuid",))
    assert stmt._generate_cache_key() is not None


def test_an_existing_key_is_kept(engine):
    """ON CONFLICT DO NOTHING: the first row stays, the second insert changes nothing."""
    stmt = insert_ignoring(T, COLUMNS, ("object_uuid",), returning="object_uuid")
    row = {"object_uuid": "u-1", "dms_id": "first", "imported": True, "detail": None,
           "acknowledged_at": datetime.now(UTC)}
    with engine.begin() as conn:
        assert conn.execute(stmt, row).scalar() == "u-1"
        assert conn.execute(stmt, {**row, "dms_id": "second"}).scalar() is None
        assert conn.execute(select(T.c.dms_id)).scalars().all() == ["first"]
        assert conn.execute(select(func.count()).select_from(T)).scalar() == 1
