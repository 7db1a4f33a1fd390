"""Facility work: forward, reserve, release, sign (placement.md §6 R6, §8 P1–P5; 3.6.5–3.6.7).

The place statuses frei → reserviert → belegt are set by the head of the facility (pool:
the ZVS). Signing turns every reservation of the application into a care contract at
the same facility, so the children of one application are never split.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ekita.core.access import Permission
from ekita.core.errors import Forbidden, RuleViolation
from ekita.core.models import (
    CareContract,
    CareOffer,
    Childminder,
    Facility,
    Reservation,
    WaitingListEntry,
)
from ekita.core.models.enums import CareType, FacilityStatus, PayerKind
from ekita.core.models.placement import (
    Application,
    ApplicationState,
    InactiveReason,
    ReservationStatus,
    WaitingStatus,
)
from ekita.core.services import contracts
from ekita.core.services.base import load, require
from ekita.core.services.placement import applications, routing
from ekita.core.services.placement.eligibility import care_type_for
from ekita.core.services.placement.events import Kind, emit
from ekita.core.services.placement.occupancy import PlaceLedger
from ekita.core.services.placement.rules import PlacementRules
from ekita.core.tracking import principal_of, today

RECORD = "application"


class ReleaseOutcome(StrEnum):
    """P2, P3: why a reservation ends without a contract."""

    DECLINED_CONTINUE = "declined_continue"  # parents decline, routing continues at k+1
    DECLINED_NO_INTEREST = "declined_no_interest"  # → INACTIVE(DECLINED)
    NOT_SIGNED = "not_signed"  # follow-up passed → INACTIVE(CONTRACT_NOT_SIGNED)
    RELEASED_BY_HEAD = "released_by_head"  # place freed, routing continues at k+1


def _facility_for(session: Session, facility_id: int) -> Facility:
    p = require(session, Permission.PLACEMENT_FACILITY)
    facility = load(session, Facility, facility_id, field="facility_id")
    if not applications.may_act_at(p, facility):
        raise Forbidden("placement work only at your own facilities", record="facility",
                        field="facility_id", rule="tenants act only on their own data (R1, R2)")
    return facility


def _waiting_at(session: Session, app_id: int, facility_id: int) -> list[WaitingListEntry]:
    return list(session.scalars(select(WaitingListEntry).where(
        WaitingListEntry.application_id == app_id, WaitingListEntry.facility_id == facility_id,
        WaitingListEntry.status.in_(routing.OPEN_ENTRY)), execution_options=routing.INTERNAL))


def forward(session: Session, app_id: int, rules: PlacementRules,
            on: date | None = None) -> Application:
    """R6: no place here → onto this facility's waiting list and on to preference k+1."""
    on = on or today()
    app = load(session, Application, app_id)
    if app.state != ApplicationState.AT_FACILITY or app.current_facility_id is None:
        raise RuleViolation("the application is not under review at a facility", record=RECORD,
                            field="state", rule="only AT_FACILITY applications are forwarded")
    facility = _facility_for(session, app.current_facility_id)
    case = routing.case_of(session, app)
    if facility.id not in case.waiting_at:
        care_type = next(iter(routing.needs(case, routing.Pref(
            0, facility.id, None, case.prefs[0].care_type), rules)))
        session.add(WaitingListEntry(application_id=app.id, facility_id=facility.id,
                                     care_type=care_type, status=WaitingStatus.WAITING,
                                     routed_by_zvs=app.current_rank is None, listed_on=on))
        case.waiting_at.add(facility.id)
        session.flush()
        emit(session, Kind.WAITLISTED, on, app.id, facility.id, child_ids=app.child_ids,
             care_types=[care_type])
    emit(session, Kind.FORWARDED, on, app.id, facility.id, child_ids=app.child_ids)
    if app.current_rank is None:  # ZVS-routed: back to the pool
        outcome = routing.Outcome(ApplicationState.POOL)
        outcome.events.append((Kind.MOVED_TO_POOL, None, {"child_ids": app.child_ids}))
        routing.apply(session, app, case, outcome, on)
    else:
        ledger = routing.ledger_for(session, [case], rules, on)
        routing.apply(session, app, case, routing.plan(
            case, ledger, on, rules, from_rank=app.current_rank + 1), on)
    return app


def reserve(session: Session, app_id: int, rules: PlacementRules, *,
            facility_id: int | None = None, childminder_id: int | None = None,
            starts_on: date | None = None, overbook: bool = False,
            on: date | None = None) -> tuple[Application, list[str]]:
    """P1: set places "reserviert" for every child, with a follow-up (3.6.6).

    The head reserves for an application under review at her facility or waiting on her
    list (invariant 3); the ZVS also from the pool. A full facility needs ``overbook``.
    """
    on = on or today()
    app = load(session, Application, app_id)
    p = principal_of(session)
    if (facility_id is None) == (childminder_id is None):
        raise RuleViolation("name a facility or a childminder", record="reservation",
                            field="facility_id", rule="a place at one facility or childminder")
    if app.state in (ApplicationState.INACTIVE, ApplicationState.RESERVED):
        raise RuleViolation(f"application {app_id} is {app.state}", record=RECORD,
                            field="state", rule="only applications in placement get a place")
    if app.state in (ApplicationState.INTAKE_POOL, ApplicationState.RECEIVED,
                     ApplicationState.ZVS_REVIEW) and not app.integration_need:
        raise RuleViolation("the application is not in placement yet", record=RECORD,
                            field="state",
                            rule="allocation only inside the placement window (3.2.4, W1)")
    start = starts_on or app.desired_start
    if start < app.desired_start:
        raise RuleViolation("a place cannot start before the desired start", record=RECORD,
                            field="starts_on", rule="start within the grace period (§5)")
    if start > app.desired_start + timedelta(days=rules.grace_days) and not p.can(
            Permission.PLACEMENT_ZVS):
        raise RuleViolation("a later start than the grace period is a ZVS alternative offer",
                            record=RECORD, field="starts_on",
                            rule="grace period (3.2.4); later starts by the ZVS (3.4.4)")
    case = routing.case_of(session, app)
    warnings: list[str] = []
    over = False
    previous = app.current_facility_id
    if childminder_id is not None:
        require(session, Permission.PLACEMENT_ZVS)  # the BVS-KTP's work, done by EB Kita
        minder = load(session, Childminder, childminder_id, field="childminder_id")
        taken = session.scalar(select(func.count(CareContract.id)).where(
            CareContract.childminder_id == minder.id, CareContract.start_date <= start,
            (CareContract.end_date.is_(None)) | (CareContract.end_date >= start))) or 0
        held = session.scalar(select(func.count(Reservation.id)).where(
            Reservation.childminder_id == minder.id,
            Reservation.status == ReservationStatus.ACTIVE)) or 0
        if taken + held + len(case.children) > minder.capacity and not overbook:
            raise RuleViolation(f"childminder {minder.id} has no free place", record="reservation",
                                field="childminder_id", rule="at most 5 children (3.5.2)")
        need = Counter({CareType.KINDERTAGESPFLEGE: len(case.children)})
        types = [CareType.KINDERTAGESPFLEGE] * len(case.children)
        rank = next((x.rank for x in case.prefs if x.office_id), None)
    else:
        assert facility_id is not None
        facility = _facility_for(session, facility_id)
        listed = _waiting_at(session, app.id, facility.id)
        here = app.state == ApplicationState.AT_FACILITY and app.current_facility_id == facility.id
        if not (here or listed or p.can(Permission.PLACEMENT_ZVS)):
            raise RuleViolation("the application is neither under review nor waiting here",
                                record=RECORD, field="facility_id",
                                rule="heads reserve from their review or waiting list (3.6.4)")
        if facility.status == FacilityStatus.CLOSED:
            raise RuleViolation(f"facility {facility.id} is closed", record="reservation",
                                field="facility_id", rule="no placement at a closed facility")
        if facility.status == FacilityStatus.TEMPORARILY_CLOSED:
            warnings.append(f"facility {facility.id} is temporarily closed")
        wished = next((x.care_type for x in case.prefs if x.facility_id == facility.id),
                      case.prefs[0].care_type)
        types = [care_type_for(wished, birth, start, rules,
                                       integration=app.integration_need, deferred=deferred)
                 for _c, birth, deferred in case.children]
        need = Counter(types)
        days = _occupancy_days(session, facility.id, start)
        ledger = PlaceLedger.load(session, start, max(days), rules, [facility.id])
        short = {t: n for t, n in need.items()
                 if min(ledger.free(facility.id, t, d) for d in days) < n}
        for t in need:
            if not ledger.offered(facility.id, t, start):
                raise RuleViolation(f"facility {facility.id} offers no {t} on {start}",
                                    record="reservation", field="care_type",
                                    rule="the facility offers the care type at the start")
        if short and not overbook:
            raise RuleViolation(
                f"facility {facility.id} has no free {', '.join(sorted(short))} place on "
                f"{start}; reserve with overbook=true to over-occupy", record="reservation",
                field="overbook", rule="overbooking only with the explicit flag (3.7.1.3)")
        over = bool(short)
        if short:
            warnings.append(f"facility {facility.id} is over-occupied on {start}: "
                            f"{', '.join(f'{n} {t}' for t, n in sorted(short.items()))}")
        rank = next((x.rank for x in case.prefs if x.facility_id == facility.id), None)
        for entry in listed:
            entry.status = WaitingStatus.OFFERED
    follow_up = on + timedelta(days=rules.reservation_follow_up_days)
    for (child_id, _b, _d), care_type in zip(case.children, types, strict=True):
        session.add(Reservation(
            application_id=app.id, child_id=child_id, facility_id=facility_id,
            childminder_id=childminder_id, care_type=care_type, starts_on=start,
            follow_up_on=follow_up, status=ReservationStatus.ACTIVE,
            overbooked=over, follow_up_alerted=False))
    app.state, app.current_rank, app.current_facility_id = (
        ApplicationState.RESERVED, rank, facility_id)
    app.review_due_on, app.placed_start = None, None
    session.flush()
    if previous is not None and previous != facility_id:  # invariant 3: the review elsewhere ends
        emit(session, Kind.FACILITY_INFORMED, on, app.id, previous, child_ids=app.child_ids,
             reason="review_withdrawn")
    emit(session, Kind.RESERVED, on, app.id, facility_id, child_ids=app.child_ids,
         childminder_id=childminder_id, starts_on=start, follow_up_on=follow_up,
         care_types=sorted(need), overbooked=over, warnings=warnings)
    return app, warnings


def _occupancy_days(session: Session, facility_id: int, start: date) -> list[date]:
    """The start and every later day within a year on which the facility's free places can
    drop (a reservation or contract begins, a capacity changes): a place reserved from
    ``start`` is held on all of them, so it must be free on all of them."""
    horizon = start + timedelta(days=366)
    r, c, o = Reservation.__table__.c, CareContract.__table__.c, CareOffer.__table__.c
    days = {start}
    days.update(session.scalars(select(r.starts_on).where(
        r.facility_id == facility_id, r.status == ReservationStatus.ACTIVE.value,
        r.starts_on > start, r.starts_on <= horizon)))
    days.update(session.scalars(select(c.start_date).where(
        c.facility_id == facility_id, c.start_date > start, c.start_date <= horizon)))
    for valid_from, valid_to in session.execute(select(o.valid_from, o.valid_to).where(
            o.facility_id == facility_id)):
        days.update(d for d in (valid_from, valid_to and valid_to + timedelta(days=1))
                    if d is not None and start < d <= horizon)
    return sorted(days)


def _reservations(session: Session, app: Application) -> list[Reservation]:
    found = list(session.scalars(select(Reservation).where(
        Reservation.application_id == app.id, Reservation.status == ReservationStatus.ACTIVE)
        .order_by(Reservation.id), execution_options=routing.INTERNAL))
    if app.state != ApplicationState.RESERVED or not found:
        raise RuleViolation("the application has no reserved place", record=RECORD,
                            field="state", rule="RESERVED applications only (placement.md §18)")
    return found


def _authorise_reserved(session: Session, found: list[Reservation]) -> None:
    fid = found[0].facility_id
    if fid is not None:
        _facility_for(session, fid)
    else:
        require(session, Permission.PLACEMENT_ZVS)


def release_reservation(session: Session, app_id: int, outcome: ReleaseOutcome,
                        rules: PlacementRules, on: date | None = None) -> Application:
    """P2, P3: parents decline, or no contract by the follow-up: the place is "frei" again."""
    on = on or today()
    app = load(session, Application, app_id)
    found = _reservations(session, app)
    _authorise_reserved(session, found)
    fid = found[0].facility_id
    for r in found:
        r.status = ReservationStatus.RELEASED
    session.flush()
    emit(session, Kind.RESERVATION_RELEASED, on, app.id, fid, child_ids=app.child_ids,
         starts_on=found[0].starts_on, reason=outcome)
    if outcome == ReleaseOutcome.DECLINED_NO_INTEREST:
        applications._inactivate(session, app, InactiveReason.DECLINED, on, Kind.REFUSED)
        return app
    if outcome == ReleaseOutcome.NOT_SIGNED:
        applications._inactivate(session, app, InactiveReason.CONTRACT_NOT_SIGNED, on,
                                 Kind.INACTIVATED)
        return app
    if outcome == ReleaseOutcome.DECLINED_CONTINUE:
        emit(session, Kind.REFUSED, on, app.id, fid, child_ids=app.child_ids,
             further_interest=True)
        for entry in _waiting_at(session, app.id, fid) if fid else []:
            entry.status, entry.closed_on = WaitingStatus.REMOVED, on
    else:
        for entry in _waiting_at(session, app.id, fid) if fid else []:
            entry.status = WaitingStatus.WAITING
    session.flush()
    case = routing.case_of(session, app)
    if app.current_rank is None:
        routing.apply(session, app, case, routing.Outcome(
            ApplicationState.POOL, events=[(Kind.MOVED_TO_POOL, None,
                                            {"child_ids": app.child_ids})]), on)
    else:
        ledger = routing.ledger_for(session, [case], rules, on)
        routing.apply(session, app, case, routing.plan(
            case, ledger, on, rules, from_rank=app.current_rank + 1), on)
    return app


def sign(session: Session, app_id: int, *, payer_guardian_id: int, payer_kind: PayerKind,
         signed_on: date | None = None, on: date | None = None) -> tuple[Application,
                                                                      list[CareContract]]:
    """P4: the contract occupies the place; the application is placed and inactive, its
    other waiting-list entries are marked placed elsewhere (L5); a switch informs the
    previous facility (P5)."""
    on = on or today()
    app = load(session, Application, app_id)
    found = _reservations(session, app)
    _authorise_reserved(session, found)
    made = []
    for r in found:
        contract = contracts.create_contract(session, {
            "child_id": r.child_id, "facility_id": r.facility_id,
            "childminder_id": r.childminder_id, "care_type": r.care_type,
            "start_date": r.starts_on, "daily_hours": app.daily_hours,
            "payer_guardian_id": payer_guardian_id, "payer_kind": payer_kind,
            "signed_on": signed_on or on})
        r.status, r.contract_id = ReservationStatus.CONVERTED, contract.id
        made.append(contract)
    fid = found[0].facility_id
    for entry in _waiting_at(session, app.id, fid) if fid else []:
        entry.status, entry.closed_on = WaitingStatus.PLACED_HERE, on
    elsewhere = applications._close_entries(session, app.id, WaitingStatus.PLACED_ELSEWHERE, on,
                                            except_facility=fid)
    app.state, app.inactive_reason, app.inactivated_on = (
        ApplicationState.INACTIVE, InactiveReason.PLACED, on)
    app.placed_facility_id, app.placed_childminder_id = fid, found[0].childminder_id
    app.placed_rank, app.placed_start = app.current_rank, found[0].starts_on
    session.flush()
    emit(session, Kind.CONTRACT_SIGNED, on, app.id, fid, child_ids=app.child_ids,
         contract_ids=[c.id for c in made], starts_on=found[0].starts_on,
         childminder_id=found[0].childminder_id, overbooked=any(r.overbooked for r in found))
    for other in sorted(set(elsewhere)):
        emit(session, Kind.PLACED_ELSEWHERE, on, app.id, other, child_ids=app.child_ids)
    if app.is_switch and app.switch_contract_id is not None:
        t = CareContract.__table__.c  # the old contract is at another tenant: read the table
        old = session.execute(select(t.id, t.facility_id, t.child_id).where(
            t.id == app.switch_contract_id)).first()
        if old is not None and old.facility_id is not None:
            emit(session, Kind.FACILITY_INFORMED, on, app.id, old.facility_id,
                 reason="switch_placed", contract_id=old.id, child_id=old.child_id,
                 new_start=found[0].starts_on)
    return app, made
