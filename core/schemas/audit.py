"""Schemas of the audit view and of historised records."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ekita.core.schemas.common import Out


class AuditEventOut(Out):
    id: int
    recorded_at: datetime
    actor: str
    source: str
    entity: str
    entity_id: int
    action: str
    valid_from: date
    changes: dict[str, list[Any]]


class RecordAsOf(Out):
    entity: str
    entity_id: int
    on: date
    known_at: datetime | None
    values: dict[str, Any]
