"""Audit and history of every change, written in the same transaction as the change.

A session-level ``after_flush`` hook turns each inserted, updated or deleted
``Tracked`` record into one ``AuditEvent`` row with field-level before/after
values, the principal's name and source, and the business date from which the
change is valid. Services cannot forget it, and nothing bypasses it short of
raw SQL. The same rows answer "as of date D" queries (``record_as_of``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, insert, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import get_history

from ekita.core.access import Principal
from ekita.core.db.base import Base, Tracked, utcnow
from ekita.core.db.bulk import insert_rows
from ekita.core.db.types import seal, unseal
from ekita.core.models.audit import AuditEvent

BERLIN = ZoneInfo("Europe/Berlin")


def today() -> date:
    """The business date in Dresden."""
    return datetime.now(BERLIN).date()


def jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def entity_name(obj_or_cls: Any) -> str:
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    return cls.__tablename__


def principal_of(session: Session) -> Principal:
    principal = session.info.get("principal")
    if principal is None:
        raise RuntimeError("no principal on this session: open it with ekita.core.db.unit_of_work")
    return principal


@contextmanager
def valid_from(session: Session, day: date) -> Iterator[None]:
    """Record the changes flushed inside the block as valid from ``day`` (3.14.3)."""
    previous = session.info.get("valid_from")
    session.info["valid_from"] = day
    try:
        yield
    finally:
        session.info["valid_from"] = previous


def _column_keys(cls: type[Base]) -> list[str]:
    ignore = cls.__audit_ignore__ if issubclass(cls, Tracked) else frozenset()
    return [a.key for a in sa_inspect(cls).column_attrs if a.key not in ignore]


def _changes(obj: Base, action: str) -> dict[str, list[Any]]:
    keys = _column_keys(type(obj))
    if action == "create":
        return {k: [None, jsonable(getattr(obj, k))] for k in keys if getattr(obj, k) is not None}
    if action == "delete":
        return {k: [jsonable(getattr(obj, k)), None] for k in keys}
    changes = {}
    for key in keys:
        hist = get_history(obj, key)
        if not hist.has_changes():
            continue
        before = hist.deleted[0] if hist.deleted else None
        after = hist.added[0] if hist.added else None
        if before != after:
            changes[key] = [jsonable(before), jsonable(after)]
    return changes


@event.listens_for(Session, "before_flush")
def _forbid_audit_changes(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent):
            raise PermissionError("audit rows cannot be changed or deleted")


def _stamp(session: Session, on: date | None = None) -> dict[str, Any]:
    """Who recorded a change, when, and from which business date it is valid.

    The same for every row of a flush or a bulk write; ``on`` defaults to the
    session's ``valid_from`` block, else today.
    """
    principal = principal_of(session)
    return {"recorded_at": utcnow(), "actor": principal.name, "source": principal.source,
            "valid_from": on or session.info.get("valid_from") or today()}


@event.listens_for(Session, "after_flush")
def _record_changes(session: Session, _ctx: Any) -> None:
    groups = (("create", session.new), ("update", session.dirty), ("delete", session.deleted))
    tracked = [(a, o) for a, objs in groups for o in objs if isinstance(o, Tracked)]
    if not tracked:
        return
    stamp = _stamp(session)
    rows = []
    for action, obj in tracked:
        changes = seal(type(obj), _changes(obj, action))  # ciphertext for encrypted columns
        if action == "update" and not changes:
            continue
        rows.append({**stamp, "entity": entity_name(obj), "entity_id": obj.id,
                     "action": action, "changes": changes})
    if rows:
        session.connection().execute(insert(AuditEvent), rows)


Change = tuple[int, str, dict[str, list[Any]]]


def record_bulk(session: Session, entity: str, changes: Sequence[Change],
                on: date | None = None) -> None:
    """Change-log rows for set-based writes, which the flush hook does not see.

    Each change is ``(entity_id, action, {field: [before, after]})`` with values already
    ``jsonable``; the rows get the hook's principal, recording time and ``valid_from``
    (``on``, else as the hook decides), so the log reads the same whichever path wrote
    it. Written with ``insert_rows`` (``COPY`` on PostgreSQL): the placement tick logs
    tens of thousands of changes at once (decisions P14).
    """
    if not changes:
        return
    insert_rows(session, AuditEvent.__table__,
                [{"entity_id": i, "action": action, "changes": diff}
                 for i, action, diff in changes],
                {**_stamp(session, on), "entity": entity})


def record_as_of(session: Session, cls: type[Tracked], entity_id: int, on: date,
                 known_at: datetime | None = None) -> dict[str, Any] | None:
    """The record's field values valid on ``on``, as known at ``known_at`` (default: now).

    The record exists from its creation's ``valid_from``. Later changes are replayed in
    business order (valid_from, then recording order), so a correction recorded later
    for an earlier date lands in its place; one dated before the creation applies from
    the creation on. None if the record did not exist, or was deleted, on that date.
    """
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.entity == entity_name(cls), AuditEvent.entity_id == entity_id,
               AuditEvent.valid_from <= on)
        .order_by(AuditEvent.valid_from, AuditEvent.id)
    )
    if known_at is not None:
        stmt = stmt.where(AuditEvent.recorded_at <= known_at)
    events = list(session.scalars(stmt))
    created = [e for e in events if e.action == "create"]
    if not created:
        return None
    state: dict[str, Any] | None = dict.fromkeys(_column_keys(cls)) | {"id": entity_id}
    for ev in [created[0], *(e for e in events if e is not created[0])]:
        if ev.action == "delete":
            state = None
        elif state is not None:
            state.update({k: after for k, (_before, after) in ev.changes.items()})
    return None if state is None else unseal(cls, state)
