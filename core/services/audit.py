"""Reading the change log: the audit view (M5) and records as of a date (3.14.3).

Both apply the entity's read rules of ``ekita.core.policy`` (issue 12 item 1): the
entity's own read permission, its row scope, and the field mask of its entity route.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.access import MASK, Permission, Principal
from ekita.core.db.base import Tracked
from ekita.core.db.types import encrypted_keys, unseal
from ekita.core.models import AuditEvent
from ekita.core.policy import audit_scope, policy_for, tracked_entities, view
from ekita.core.services.base import load, page, require
from ekita.core.tracking import principal_of, record_as_of

TRACKED: dict[str, type[Tracked]] = tracked_entities()
ROW_FIELDS = ("id", "recorded_at", "actor", "source", "entity", "entity_id", "action",
              "valid_from")


def masked_changes(session: Session, ev: AuditEvent, who: Principal) -> dict[str, list[Any]]:
    """Before and after values through the entity route's mask; a field the role does not
    get at all (rank, routing state for tenants) is left out of the change."""
    cls = TRACKED.get(ev.entity)
    if cls is None:
        return {}
    befores = _opened(cls, view(session, who, cls, {k: v[0] for k, v in ev.changes.items()}))
    afters = _opened(cls, view(session, who, cls, {k: v[1] for k, v in ev.changes.items()}))
    return {k: [befores[k], afters[k]] for k in ev.changes if k in befores and k in afters}


def _opened(cls: type[Tracked], values: dict[str, Any]) -> dict[str, Any]:
    """Encrypted columns are ciphertext in the change log (issue 12 item 3): a role that may
    see such a field (not masked by ``view``) gets it in clear; masked ones stay masked."""
    keys = {k for k in encrypted_keys(cls) & values.keys() if values[k] not in (None, MASK)}
    return {**values, **unseal(cls, {k: values[k] for k in keys})} if keys else values


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
    stmt = (select(AuditEvent).where(audit_scope(p, AuditEvent.entity, AuditEvent.entity_id))
            .order_by(AuditEvent.id.desc()))
    if entity:
        stmt = stmt.where(AuditEvent.entity == entity)
    if entity_id is not None:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if since:
        stmt = stmt.where(AuditEvent.recorded_at >= since)
    events, total = page(session, stmt, limit, offset)
    rows = [{**{c: getattr(ev, c) for c in ROW_FIELDS},
             "changes": masked_changes(session, ev, p)} for ev in events]
    return rows, total


def as_of(
    session: Session, cls: type[Tracked], entity_id: int, on: date, known_at: datetime | None = None
) -> dict[str, Any]:
    """The record's values on a business date, as its own route would show them: the
    entity's read permission, the record in the caller's scope now, the same field mask."""
    p = principal_of(session)
    require(session, policy_for(cls).read)
    load(session, cls, entity_id)
    values = record_as_of(session, cls, entity_id, on, known_at)
    if values is None:
        return {}
    return view(session, p, cls, values)
