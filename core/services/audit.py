"""Reading the change log: the audit view (M5) and records as of a date (3.14.3)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.access import Permission, redact
from ekita.core.db.base import Base, Tracked
from ekita.core.models import AuditEvent
from ekita.core.services.base import load, page, require
from ekita.core.tracking import record_as_of

TRACKED: dict[str, type[Tracked]] = {
    m.class_.__tablename__: m.class_ for m in Base.registry.mappers if issubclass(m.class_, Tracked)
}


def masked_changes(ev: AuditEvent, role: Any) -> dict[str, list[Any]]:
    cls = TRACKED.get(ev.entity)
    sensitive = cls.__sensitive__ if cls else {}
    befores = redact({k: v[0] for k, v in ev.changes.items()}, sensitive, role)
    afters = redact({k: v[1] for k, v in ev.changes.items()}, sensitive, role)
    return {k: [befores[k], afters[k]] for k in ev.changes}


def audit_events(
    session: Session,
    *,
    entity: str | None = None,
    entity_id: int | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    p = require(session, Permission.AUDIT_READ)
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    if entity:
        stmt = stmt.where(AuditEvent.entity == entity)
    if entity_id is not None:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if since:
        stmt = stmt.where(AuditEvent.recorded_at >= since)
    events, total = page(session, stmt, limit, offset)
    rows = [
        {
            **{
                c: getattr(ev, c)
                for c in (
                    "id",
                    "recorded_at",
                    "actor",
                    "source",
                    "entity",
                    "entity_id",
                    "action",
                    "valid_from",
                )
            },
            "changes": masked_changes(ev, p.role),
        }
        for ev in events
    ]
    return rows, total


def as_of(
    session: Session, cls: type[Tracked], entity_id: int, on: date, known_at: datetime | None = None
) -> dict[str, Any]:
    """The record's values on a business date; the record must be in the caller's scope now."""
    p = require(session, Permission.MASTERDATA_READ)
    load(session, cls, entity_id)
    values = record_as_of(session, cls, entity_id, on, known_at)
    if values is None:
        return {}
    return redact(values, cls.__sensitive__, p.role)

