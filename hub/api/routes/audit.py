"""The audit view and historised records as of a date (3.14.1, 3.14.3).

Both apply the read rules of the entity's own route (``ekita.core.policy``, issue 12
item 1): history needs the entity's read permission and the record in scope, and both
mask fields as the entity route does (no rank or routing state for tenants).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from ekita.core.errors import NotFound
from ekita.core.schemas.audit import AuditEventOut, RecordAsOf
from ekita.core.schemas.common import Page
from ekita.core.services import audit as svc
from ekita.hub.api.deps import DB, Pages, PathId, QueryId

router = APIRouter(tags=["audit and history"])


@router.get("/audit", response_model=Page[AuditEventOut],
            description="Change rows of the entities your role may read, of records in "
                        "your scope, with values masked as their own routes mask them.")
def list_audit(session: DB, pages: Pages, entity: str | None = None,
               entity_id: QueryId = None, actor: str | None = None,
               since: datetime | None = None) -> dict:
    items, total = svc.audit_events(session, entity=entity, entity_id=entity_id, actor=actor,
                                    since=since, limit=pages.limit, offset=pages.offset)
    return {"items": items, "total": total, "limit": pages.limit, "offset": pages.offset}


@router.get("/history/{entity}/{entity_id}", response_model=RecordAsOf,
            description="Needs the entity's own read permission (403) and the record in "
                        "your scope (404); values as the entity's route shows them.")
def as_of(session: DB, entity: str, entity_id: PathId,
          on: Annotated[date, Query(description="business date the values are valid on")],
          known_at: Annotated[datetime | None, Query(description="as recorded by then")] = None
          ) -> dict:
    cls = svc.TRACKED.get(entity)
    if cls is None:
        raise NotFound(f"no historised record type {entity!r}", record=entity, field="entity",
                       rule=f"one of {', '.join(sorted(svc.TRACKED))}")
    values = svc.as_of(session, cls, entity_id, on, known_at)
    return {"entity": entity, "entity_id": entity_id, "on": on, "known_at": known_at,
            "values": values}
