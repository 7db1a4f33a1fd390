"""Facility closures and their effect on placement (3.7.1.3; placement.md §14.4, §14.5).

Permanent: no further routing there; its open waiting-list entries are removed and
applications under review there move on to their next preference. Temporary: the
facility stays routable; routing and reservations carry a warning.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.access import Permission
from ekita.core.models import Facility, Reservation, WaitingListEntry
from ekita.core.models.enums import FacilityStatus
from ekita.core.models.placement import (
    Application,
    ApplicationState,
    ReservationStatus,
    WaitingStatus,
)
from ekita.core.services import masterdata
from ekita.core.services.base import require
from ekita.core.services.placement import routing
from ekita.core.services.placement.events import Kind, emit
from ekita.core.services.placement.rules import PlacementRules
from ekita.core.tracking import today


def close_facility(session: Session, facility_id: int, *, permanent: bool, closure_from: date,
                   rules: PlacementRules, closure_to: date | None = None,
                   replacement_site: str | None = None, on: date | None = None) -> Facility:
    """Record a closure (EB Kita only) and apply it to the procedure."""
    require(session, Permission.PLACEMENT_ZVS)
    require(session, Permission.MASTERDATA_WRITE)
    on = on or today()
    status = FacilityStatus.CLOSED if permanent else FacilityStatus.TEMPORARILY_CLOSED
    facility = masterdata.update_facility(session, facility_id, {
        "status": status, "closure_from": closure_from, "closure_to": closure_to,
        "replacement_site": replacement_site})
    removed: list[int] = []
    moved: list[int] = []
    reserved: list[int] = []
    if permanent:
        for entry in session.scalars(select(WaitingListEntry).where(
                WaitingListEntry.facility_id == facility.id,
                WaitingListEntry.status.in_(routing.OPEN_ENTRY))):
            entry.status, entry.closed_on = WaitingStatus.REMOVED, on
            removed.append(entry.application_id)
        session.flush()
        for app in session.scalars(select(Application).where(
                Application.state == ApplicationState.AT_FACILITY,
                Application.current_facility_id == facility.id).order_by(Application.id)):
            case = routing.case_of(session, app)
            ledger = routing.ledger_for(session, [case], rules, on)
            if app.current_rank is None:
                routing.apply(session, app, case, routing.Outcome(
                    ApplicationState.POOL, events=[(Kind.MOVED_TO_POOL, None,
                                                    {"child_ids": app.child_ids})]), on)
            else:
                routing.apply(session, app, case, routing.plan(
                    case, ledger, on, rules, from_rank=app.current_rank + 1), on)
            moved.append(app.id)
        reserved = sorted(set(session.scalars(select(Reservation.application_id).where(
            Reservation.facility_id == facility.id,
            Reservation.status == ReservationStatus.ACTIVE))))
    emit(session, Kind.FACILITY_CLOSED, on, None, facility.id, permanent=permanent,
         closure_from=closure_from, closure_to=closure_to, removed_from_list=sorted(removed),
         moved_on=moved, reserved_application_ids=reserved)
    return facility
