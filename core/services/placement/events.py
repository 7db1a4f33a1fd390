"""Record domain events in the caller's transaction (placement.md §18 invariant 6).

The payload carries ids and dates only, never names, so a delivery engine can read
what it needs from the database when it builds a message.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ekita.core.db.base import utcnow
from ekita.core.models.events import DomainEvent
from ekita.core.tracking import jsonable, principal_of


class Kind(StrEnum):
    """Every transition of the procedure has one kind."""

    APPLICATION_SUBMITTED = "ApplicationSubmitted"
    APPLICATION_CHANGED = "ApplicationChanged"
    SENT_TO_ZVS_REVIEW = "SentToZvsReview"
    RELEASED_BY_ZVS = "ReleasedByZvs"
    PRIORITY_SET = "PrioritySet"
    INTAKE_POOLED = "IntakePooled"
    RECHECK_REQUESTED = "RegistryRecheckRequested"
    ENTERED_WINDOW = "EnteredWindow"
    ROUTED_TO_FACILITY = "RoutedToFacility"
    INTEGRATION_ALERT = "IntegrationAlert"
    WAITLISTED = "Waitlisted"
    FORWARDED = "Forwarded"
    MOVED_TO_POOL = "MovedToPool"
    ROUTED_BY_ZVS = "RoutedByZvs"
    ROUTING_RESTARTED = "RoutingRestarted"
    REVIEW_OVERDUE = "ReviewOverdue"
    RESERVED = "Reserved"
    RESERVATION_RELEASED = "ReservationReleased"
    FOLLOW_UP_DUE = "ReservationFollowUpDue"
    CONTRACT_SIGNED = "ContractSigned"
    PLACED_ELSEWHERE = "PlacedElsewhere"
    REFUSED = "Refused"
    WITHDRAWN = "Withdrawn"
    INACTIVATED = "Inactivated"
    REACTIVATED = "Reactivated"
    FACILITY_INFORMED = "FacilityInformed"
    FACILITY_CLOSED = "FacilityClosed"
    EXITED = "Exited"
    PLACE_FREED = "PlaceFreed"


def event_row(session: Session, kind: Kind, on: date, application_id: int | None = None,
              facility_id: int | None = None, **payload: Any) -> dict[str, Any]:
    """One event as a row for a bulk insert."""
    return {"kind": kind.value, "application_id": application_id, "facility_id": facility_id,
            "occurred_on": on, "recorded_at": utcnow(), "actor": principal_of(session).name,
            "payload": {k: _plain(v) for k, v in payload.items()}}


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return jsonable(value)


def write(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert event rows in the session's transaction (after pending ORM changes)."""
    if rows:
        session.flush()
        session.connection().execute(insert(DomainEvent.__table__), rows)


def emit(session: Session, kind: Kind, on: date, application_id: int | None = None,
         facility_id: int | None = None, **payload: Any) -> None:
    write(session, [event_row(session, kind, on, application_id, facility_id, **payload)])
