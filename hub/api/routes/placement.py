"""The placement procedure over HTTP (Lastenheft 3.2–3.7; placement.md).

Roles: the ZVS and administrators run the whole procedure; facility leads and carriers
review, forward, reserve, sign and record exits at their own facilities and see an
application only while it is at or waiting at one of them, never with its preference
rank, the ZVS priority or the switch reason (data-protection R4, R5; decisions D19).
Every command is one transaction; warnings (over-occupancy, short notice, temporary
closure) come back beside the result.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.access import Permission, Principal, redact
from ekita.core.models import Application, DomainEvent, Facility, Reservation
from ekita.core.models.enums import CareType, Role
from ekita.core.models.placement import ApplicationState, ReservationStatus
from ekita.core.schemas.common import Page
from ekita.core.schemas.placement import (
    APPLICATION_EXAMPLE,
    ApplicationAnswer,
    ApplicationIn,
    ApplicationOut,
    ApplicationPatch,
    ClosureIn,
    EventOut,
    ExitAnswer,
    ExitIn,
    ExitOut,
    FacilityApplicationOut,
    InactivateIn,
    PriorityIn,
    ReleaseIn,
    ReleaseReservationIn,
    ReservationOut,
    ReserveIn,
    SignAnswer,
    SignIn,
    WaitingEntryOut,
    ZvsRouteIn,
)
from ekita.core.services.base import load, page, require
from ekita.core.services.placement import applications as apps
from ekita.core.services.placement import closures, exits, queries
from ekita.core.services.placement import reservations as res
from ekita.core.services.placement.rules import PlacementRules
from ekita.core.tracking import principal_of
from ekita.hub.api.deps import DB, Pages, PathId, QueryId, Who, WriteDB

router = APIRouter(prefix="/placement", tags=["placement"])
TENANTS = frozenset({Role.FACILITY_LEAD, Role.CARRIER})
AnyApplication = ApplicationOut | FacilityApplicationOut


def rules(request: Request) -> PlacementRules:
    return request.app.state.settings.placement


Rules = Annotated[PlacementRules, Depends(rules)]


def application_out(session: Session, app: Application, who: Principal) -> dict[str, Any]:
    """The role's view: tenants get a model without rank, priority and switch reason."""
    values = {"child_ids": app.child_ids}
    if who.role in TENANTS:
        model: type = FacilityApplicationOut
    else:
        model = ApplicationOut
        values["preferences"] = list(app.preferences)
    data = model.model_validate({k: getattr(app, k) for k in model.model_fields
                                 if k not in values} | values).model_dump(mode="json")
    if who.role in TENANTS and data["current_facility_id"] not in _own(session, who):
        # Where it went next would hint at the order of the preferences (R4).
        data["current_facility_id"] = data["review_due_on"] = None
    return redact(data, Application.__sensitive__, who.role)


def _own(session: Session, who: Principal) -> set[int]:
    """The facilities a tenant acts for (master data is public within the hub)."""
    if who.role == Role.FACILITY_LEAD:
        return {who.facility_id} if who.facility_id else set()
    return set(session.scalars(select(Facility.id).where(Facility.carrier_id == who.carrier_id)))


def answer(session: Session, app: Application, who: Principal, warnings: list[str],
           **extra: Any) -> dict[str, Any]:
    return {"application": application_out(session, app, who), "warnings": warnings, **extra}


def _facility_in_scope(session: Session, facility_id: int) -> Facility:
    """Tenants read lists of their own facilities only; others get 404 as for absent ones."""
    p = principal_of(session)
    facility = load(session, Facility, facility_id)
    if p.role in TENANTS and not apps.may_act_at(p, facility):
        from ekita.core.errors import NotFound
        raise NotFound(f"facility {facility_id} not found", record="facility", field="id",
                       rule="tenants see only their own facilities' lists (R1, R2)")
    return facility


# ------------------------------------------------------------------ applications


@router.post("/applications", response_model=ApplicationAnswer, status_code=201,
             summary="File an application (Antrag auf Platzvormerkung)",
             description="Stores the application only with all three consents (3.3.2, C1), "
                         "then sends it to the ZVS review list, the intake pool or into "
                         "routing (placement.md §3, §4).")
def submit(session: WriteDB, who: Who, rules: Rules,
           body: Annotated[ApplicationIn, Body(openapi_examples={
               "kindergarten": {"summary": "Kindergarten, three preferences",
                                "value": APPLICATION_EXAMPLE}})]) -> dict:
    app, warnings = apps.submit(session, body.model_dump(), rules)
    session.commit()
    return answer(session, app, who, warnings)


@router.get("/applications", response_model=Page[AnyApplication],
            summary="Applications in your scope",
            description="The ZVS filters by state (e.g. `zvs_review`, `pool`); a facility "
                        "lead sees the applications at or waiting at her facility.")
def list_applications(session: DB, who: Who, pages: Pages,
                      state: ApplicationState | None = None, facility_id: QueryId = None,
                      child_id: QueryId = None) -> dict:
    require(session, Permission.PLACEMENT_READ)
    stmt = select(Application).order_by(Application.desired_start, Application.id)
    if state is not None:
        stmt = stmt.where(Application.state == state)
    if facility_id is not None:
        stmt = stmt.where(Application.current_facility_id == facility_id)
    if child_id is not None:
        from ekita.core.models import ApplicationChild
        stmt = stmt.where(Application.id.in_(select(ApplicationChild.application_id).where(
            ApplicationChild.child_id == child_id)))
    items, total = page(session, stmt, pages.limit, pages.offset)
    return {"items": [application_out(session, a, who) for a in items], "total": total,
            "limit": pages.limit, "offset": pages.offset}


@router.get("/applications/{application_id}", response_model=AnyApplication,
            summary="One application")
def get_application(session: DB, who: Who, application_id: PathId) -> dict:
    return application_out(session, apps.get(session, application_id), who)


@router.patch("/applications/{application_id}", response_model=ApplicationAnswer,
              summary="Change an application (until a place is reserved)",
              description="Unchanged preferences: it continues where it is (C2). Changed "
                          "preferences: off every waiting list, routing restarts (C3). "
                          "No changes once a place is reserved (C4).")
def edit(session: WriteDB, who: Who, rules: Rules, application_id: PathId,
         body: ApplicationPatch) -> dict:
    data = body.model_dump(exclude_unset=True)
    app, warnings = apps.edit(session, application_id, data, rules)
    session.commit()
    return answer(session, app, who, warnings)


@router.delete("/applications/{application_id}", response_model=ApplicationAnswer,
               summary="Delete an application on the parents' behalf",
               description="Kept for statistics as no longer needed (3.3.5); a reserved "
                           "place is released and its facility informed.")
def withdraw(session: WriteDB, who: Who, application_id: PathId) -> dict:
    app = apps.withdraw(session, application_id)
    session.commit()
    return answer(session, app, who, [])


@router.post("/applications/{application_id}/release", response_model=ApplicationAnswer,
             summary="ZVS: release from the review list (with a switch priority)")
def release(session: WriteDB, who: Who, rules: Rules, application_id: PathId,
            body: ReleaseIn | None = None) -> dict:
    app, warnings = apps.zvs_release(session, application_id, rules,
                                     priority=body.priority if body else None)
    session.commit()
    return answer(session, app, who, warnings)


@router.post("/applications/{application_id}/priority", response_model=ApplicationAnswer,
             summary="ZVS: set the priority of a switch application (3.4.3)")
def priority(session: WriteDB, who: Who, application_id: PathId, body: PriorityIn) -> dict:
    app = apps.set_priority(session, application_id, body.priority)
    session.commit()
    return answer(session, app, who, [])


@router.post("/applications/{application_id}/inactivate", response_model=ApplicationAnswer,
             summary="ZVS: end an application (rejected, moved away, no longer needed …)")
def inactivate(session: WriteDB, who: Who, application_id: PathId, body: InactivateIn) -> dict:
    app = apps.inactivate(session, application_id, body.reason)
    session.commit()
    return answer(session, app, who, [])


@router.post("/applications/{application_id}/reactivate", response_model=ApplicationAnswer,
             summary="ZVS: reactivate an inactive application (3.4.5)")
def reactivate(session: WriteDB, who: Who, rules: Rules, application_id: PathId) -> dict:
    app, warnings = apps.reactivate(session, application_id, rules)
    session.commit()
    return answer(session, app, who, warnings)


@router.post("/applications/{application_id}/route", response_model=ApplicationAnswer,
             summary="ZVS: route a pooled application to any facility or a later start")
def zvs_route(session: WriteDB, who: Who, rules: Rules, application_id: PathId,
              body: ZvsRouteIn) -> dict:
    app = apps.zvs_route(session, application_id, body.facility_id, rules,
                         desired_start=body.desired_start)
    session.commit()
    return answer(session, app, who, [])


@router.post("/applications/{application_id}/forward", response_model=ApplicationAnswer,
             summary="Head: no place here — waiting list, on to the next preference (R6)")
def forward(session: WriteDB, who: Who, rules: Rules, application_id: PathId) -> dict:
    app = res.forward(session, application_id, rules)
    session.commit()
    return answer(session, app, who, [])


@router.post("/applications/{application_id}/reserve", response_model=ApplicationAnswer,
             summary="Reserve places for the application's children (P1)",
             description="A full facility needs `overbook: true`; the answer then carries "
                         "a warning. The follow-up date is set (14 days by default).")
def reserve(session: WriteDB, who: Who, rules: Rules, application_id: PathId,
            body: ReserveIn) -> dict:
    app, warnings = res.reserve(session, application_id, rules, facility_id=body.facility_id,
                                childminder_id=body.childminder_id, starts_on=body.starts_on,
                                overbook=body.overbook)
    session.commit()
    return answer(session, app, who, warnings)


@router.post("/applications/{application_id}/release-reservation",
             response_model=ApplicationAnswer,
             summary="End a reservation: declined, no interest, not signed (P2, P3)")
def release_reservation(session: WriteDB, who: Who, rules: Rules, application_id: PathId,
                        body: ReleaseReservationIn) -> dict:
    app = res.release_reservation(session, application_id, res.ReleaseOutcome(body.outcome),
                                  rules)
    session.commit()
    return answer(session, app, who, [])


@router.post("/applications/{application_id}/sign", response_model=SignAnswer,
             summary="Record the signed contract (P4): the place is occupied",
             description="One care contract per child at the reserving facility; the "
                         "application becomes placed, its other waiting-list entries "
                         "placed elsewhere; a switch informs the previous facility.")
def sign(session: WriteDB, who: Who, application_id: PathId, body: SignIn) -> dict:
    app, made = res.sign(session, application_id, payer_guardian_id=body.payer_guardian_id,
                         payer_kind=body.payer_kind, signed_on=body.signed_on)
    session.commit()
    return answer(session, app, who, [], contract_ids=[c.id for c in made])


@router.get("/applications/{application_id}/reservations", response_model=list[ReservationOut],
            summary="Reservations of an application")
def list_reservations(session: DB, application_id: PathId) -> list[Reservation]:
    app = apps.get(session, application_id)
    stmt = select(Reservation).where(Reservation.application_id == app.id)
    p = principal_of(session)
    if p.role in TENANTS:
        mine = [f.id for f in session.scalars(select(Facility)) if apps.may_act_at(p, f)]
        stmt = stmt.where(Reservation.facility_id.in_(mine))
    return list(session.scalars(stmt.order_by(Reservation.id)))


# ------------------------------------------------------------------ facilities


@router.get("/facilities/{facility_id}/waiting-list", response_model=list[WaitingEntryOut],
            summary="A facility's waiting list in its default order",
            description="Siblings first, then urgent switches, desired start, older child; "
                        "never the filing date (3.2.4, decisions D7). No preference rank.")
def waiting_list(session: DB, facility_id: PathId, care_type: CareType | None = None
                 ) -> list[dict]:
    require(session, Permission.PLACEMENT_READ)
    facility = _facility_in_scope(session, facility_id)
    return [{k: v for k, v in row.__dict__.items() if k != "urgent" and k != "oldest_birth"}
            for row in queries.waiting_list(session, facility.id, care_type=care_type)]


@router.get("/facilities/{facility_id}/review", response_model=list[AnyApplication],
            summary="Applications under review at a facility (with their deadline)")
def review_list(session: DB, who: Who, facility_id: PathId) -> list[dict]:
    require(session, Permission.PLACEMENT_READ)
    facility = _facility_in_scope(session, facility_id)
    stmt = select(Application).where(Application.state == ApplicationState.AT_FACILITY,
                                     Application.current_facility_id == facility.id)
    return [application_out(session, a, who) for a in session.scalars(
        stmt.order_by(Application.review_due_on, Application.id))]


@router.get("/facilities/{facility_id}/reservations", response_model=list[ReservationOut],
            summary="Active reservations at a facility (follow-ups)")
def facility_reservations(session: DB, facility_id: PathId) -> list[Reservation]:
    require(session, Permission.PLACEMENT_READ)
    facility = _facility_in_scope(session, facility_id)
    return list(session.scalars(select(Reservation).where(
        Reservation.facility_id == facility.id, Reservation.status == ReservationStatus.ACTIVE)
        .order_by(Reservation.follow_up_on, Reservation.id)))


@router.post("/facilities/{facility_id}/closure", summary="EB Kita: close a facility",
             description="Permanent: no routing, open waiting-list entries removed, reviews "
                         "move on. Temporary: still routable, with a warning (3.7.1.3).")
def close(session: WriteDB, rules: Rules, facility_id: PathId, body: ClosureIn) -> dict:
    facility = closures.close_facility(
        session, facility_id, permanent=body.kind == "permanent",
        closure_from=body.closure_from, closure_to=body.closure_to,
        replacement_site=body.replacement_site, rules=rules)
    session.commit()
    return {"facility_id": facility.id, "status": facility.status.value}


# ------------------------------------------------------------------ exits, events


@router.post("/contracts/{contract_id}/exit", response_model=ExitAnswer, status_code=201,
             summary="Record a notice and the exit date (3.6.15)",
             description="The 2-month rule (Hort: 1 month) is checked and answered as a "
                         "warning; the place is free from the day after the exit and the "
                         "facility's waiting list goes with the PlaceFreed event.")
def record_exit(session: WriteDB, rules: Rules, contract_id: PathId, body: ExitIn) -> dict:
    record, warnings = exits.record_exit(session, contract_id, exit_date=body.exit_date,
                                         notice_received_on=body.notice_received_on,
                                         reason=body.reason, rules=rules)
    session.commit()
    return {"exit": ExitOut.model_validate(record), "warnings": warnings}


@router.get("/events", response_model=Page[EventOut],
            summary="ZVS: domain events and alerts",
            description="Filter by `kind` (e.g. `ReviewOverdue` for the ZVS alert list).")
def list_events(session: DB, pages: Pages, kind: str | None = None,
                application_id: QueryId = None,
                since: Annotated[date | None, Query()] = None) -> dict:
    require(session, Permission.PLACEMENT_ZVS)
    stmt = select(DomainEvent).order_by(DomainEvent.id)
    if kind:
        stmt = stmt.where(DomainEvent.kind == kind)
    if application_id is not None:
        stmt = stmt.where(DomainEvent.application_id == application_id)
    if since is not None:
        stmt = stmt.where(DomainEvent.occurred_on >= since)
    items, total = page(session, stmt, pages.limit, pages.offset)
    return {"items": items, "total": total, "limit": pages.limit, "offset": pages.offset}
