"""Applications: intake, edits, deletion and the ZVS's decisions (placement.md §3, §4, §10–§12).

Every command runs in the caller's unit of work: either all its changes and events are
stored, or (on any DomainError) none.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.access import Permission, Principal
from ekita.core.db.base import utcnow
from ekita.core.errors import Conflict, Forbidden, RuleViolation
from ekita.core.models import (
    CareContract,
    CareOffer,
    Child,
    ChildmindingOffice,
    Facility,
    Family,
    Reservation,
    WaitingListEntry,
)
from ekita.core.models.enums import CareType, FacilityStatus, NotificationChannel, Role
from ekita.core.models.placement import (
    ACTIVE_STATES,
    Application,
    ApplicationChild,
    ApplicationState,
    InactiveReason,
    Preference,
    ReservationStatus,
    WaitingStatus,
)
from ekita.core.services.base import load, require
from ekita.core.services.placement import routing
from ekita.core.services.placement.eligibility import HORT_TYPES, allowed_care_types
from ekita.core.services.placement.events import Kind, emit
from ekita.core.services.placement.rules import PlacementRules
from ekita.core.services.registries import intake_check, prefetch_intake
from ekita.core.tracking import principal_of, today

RECORD = "application"
UNBORN_ROLES = frozenset({Role.ZVS, Role.ADMIN})
CONSENTS = ("privacy", "transfer", "terms")
# Application fields the applicant (through staff) may change (3.3.4).
EDITABLE = ("desired_start", "daily_hours", "sibling_in_first_preference", "integration_need",
            "confession", "notification_channel", "switch_reason", "remark")


def bad(message: str, field: str, rule: str) -> RuleViolation:
    return RuleViolation(message, record=RECORD, field=field, rule=rule)


def window_entry(desired_start: date, rules: PlacementRules) -> date:
    """W1: the placement window opens ``window_months`` before the desired start (3.2.4)."""
    return desired_start - relativedelta(months=rules.window_months)


# ------------------------------------------------------------------ validation


def _children(session: Session, child_ids: list[int], on: date) -> list[Child]:
    if not child_ids:
        raise bad("name at least one child", "child_ids", "an application holds 1..n children")
    if len(set(child_ids)) != len(child_ids):
        raise bad("a child is named twice", "child_ids", "each child once")
    kids = [load(session, Child, cid, field="child_ids") for cid in child_ids]
    if len({k.family_id for k in kids}) > 1:
        raise bad("the children belong to different families", "child_ids",
                  "one application holds children of one family (3.3.2)")
    unborn = [k.id for k in kids if k.birth_date > on]
    if unborn and principal_of(session).role not in UNBORN_ROLES:
        raise Forbidden(f"child {unborn[0]} is not born yet: only the ZVS files for unborn "
                        "children", record=RECORD, field="child_ids",
                        rule="unborn children only by the ZVS (3.3.2, 3.4.1)")
    return kids


def _unborn_children(session: Session, records: list[dict[str, Any]], on: date) -> list[int]:
    """3.4.1, 3.14.1.1: the ZVS files for an unborn child, whose record it creates here
    (the people service registers born children only)."""
    if not records:
        return []
    if principal_of(session).role not in UNBORN_ROLES:
        raise Forbidden("only the ZVS files for unborn children", record=RECORD,
                        field="unborn_children", rule="unborn children only by the ZVS (3.4.1)")
    ids = []
    for i, r in enumerate(records):
        load(session, Family, r["family_id"], field=f"unborn_children[{i}].family_id")
        if r["expected_birth_date"] <= on:
            raise bad("the expected birth date has passed: register the child",
                      f"unborn_children[{i}].expected_birth_date", "unborn means not born yet")
        child = Child(family_id=r["family_id"], family_name=r["family_name"],
                      first_name=r.get("first_name") or "N.N.",
                      birth_date=r["expected_birth_date"])
        session.add(child)
        session.flush()
        ids.append(child.id)
    return ids


def _one_active(session: Session, child_ids: list[int], own: int | None = None) -> None:
    """Only one active application per child (3.3.2); checked unscoped, on the tables."""
    a, c = Application.__table__.c, ApplicationChild.__table__.c
    stmt = (select(a.id, c.child_id).join(ApplicationChild.__table__, c.application_id == a.id)
            .where(c.child_id.in_(child_ids), a.state != ApplicationState.INACTIVE.value))
    if own is not None:
        stmt = stmt.where(a.id != own)
    found = session.execute(stmt.order_by(a.id)).first()
    if found is not None:
        raise Conflict(f"child {found[1]} already has the active application {found[0]}",
                       record=RECORD, field="child_ids",
                       rule="one active application per child (3.3.2)")


def _offers(session: Session, facility_id: int, on: date) -> set[CareType]:
    t = CareOffer.__table__.c
    rows = session.scalars(select(t.care_type).where(
        t.facility_id == facility_id, t.valid_from <= on,
        (t.valid_to.is_(None)) | (t.valid_to >= on), t.approved_places > 0))
    return {CareType(v) for v in rows}


def _preferences(session: Session, prefs: list[dict[str, Any]], kids: list[Child],
                 start: date, integration: bool, rules: PlacementRules) -> list[Preference]:
    """Validate 1..5 WEs (3.3.2, placement.md §3.1, §3.5, §3.6, §3.10)."""
    if not 1 <= len(prefs) <= rules.max_preferences:
        raise bad(f"name 1 to {rules.max_preferences} preferences", "preferences",
                  "1 to 5 preferences in priority order (3.3.2)")
    seen: set[tuple[str, int]] = set()
    out = []
    for rank, p in enumerate(prefs, start=1):
        field = f"preferences[{rank - 1}]"
        fid, office = p.get("facility_id"), p.get("childminding_office_id")
        care_type = CareType(p["care_type"]) if p.get("care_type") else None
        if (fid is None) == (office is None):
            raise bad("name a facility or a childminding office", field,
                      "a preference is a facility care offer or the BVS-KTP (3.3.2)")
        key = ("f", fid) if fid is not None else ("o", office)
        if key in seen:
            raise bad("a preference is named twice", field, "no duplicate preferences (3.3.2)")
        seen.add(key)
        allowed = [allowed_care_types(k.birth_date, start, rules, integration=integration,
                                      deferred=k.school_deferred) for k in kids]
        if office is not None:
            load(session, ChildmindingOffice, office, field=f"{field}.childminding_office_id")
            if any(CareType.KINDERTAGESPFLEGE not in a for a in allowed):
                raise bad("childminding is for children up to their completed 3rd year",
                          field, "care type fits the child's age at the start (3.3.2, 3.5.2)")
            out.append(Preference(rank=rank, childminding_office_id=office,
                                  care_type=CareType.KINDERTAGESPFLEGE))
            continue
        facility = load(session, Facility, fid, field=f"{field}.facility_id")
        if facility.status == FacilityStatus.CLOSED and (
                facility.closure_from is None or facility.closure_from <= start):
            raise bad(f"facility {fid} is closed permanently", field,
                      "no placement at a closed facility (3.7.1.3)")
        if integration and not facility.integration_facility:
            raise bad(f"facility {fid} has no integration places", field,
                      "integration need restricts to integration facilities (Anlage I)")
        offered = _offers(session, facility.id, start)
        chosen = []
        for kid, fits in zip(kids, allowed, strict=True):
            wished = [care_type] if care_type in fits else []
            usable = [t for t in wished + fits if t in offered]
            if not usable:
                raise bad(f"facility {fid} offers no care type fitting child {kid.id}'s age on "
                          f"{start}", field,
                          "care type fits the child's age and is offered at the start (3.3.2)")
            chosen.append(usable[0])
        if not rules.hort_placement_enabled and any(t in HORT_TYPES for t in chosen):
            raise bad("Hort places are not allocated through placement", field,
                      "Hort contracts are made at the facility (3.2.3, 3.6.7.3)")
        out.append(Preference(rank=rank, facility_id=facility.id, care_type=chosen[0]))
    return out


def _hours(hours: Decimal, prefs: list[Preference]) -> None:
    for p in prefs:
        low, high = p.care_type.tier_range
        if not low <= hours <= high:
            raise bad(f"{hours} h is outside {low}..{high} h for {p.care_type}", "daily_hours",
                      "care-time tiers (Anlage B §4)")


def earliest_exit(notice_on: date, months: int, hort: bool = False) -> date:
    """Last day of care for a notice received on ``notice_on`` (decisions D3, D4).

    Kita/KTP: the last month L must satisfy "received on or before the 1st of month
    L−(months−1)": 1 May → 30 June, 2 May → 31 July. Hort: end of the following month.
    """
    first = notice_on.replace(day=1)
    if hort:
        last_month = first + relativedelta(months=1)
    else:
        last_month = first + relativedelta(months=months - (1 if notice_on.day == 1 else 0))
    return last_month + relativedelta(months=1, days=-1)


def _switch_warning(session: Session, data: dict[str, Any], start: date, on: date,
                    rules: PlacementRules) -> list[str]:
    if not data.get("is_switch"):
        return []
    if not (data.get("switch_reason") or "").strip():
        raise bad("a switch application needs a reason", "switch_reason",
                  "switch reason is mandatory (3.3.3)")
    cid = data.get("switch_contract_id")
    if cid is None:
        return []
    t = CareContract.__table__.c  # the current contract may be at another tenant's facility
    contract = session.execute(select(t.id, t.facility_id).where(t.id == cid)).first()
    if contract is None:
        raise bad(f"care_contract {cid} not found", "switch_contract_id",
                  "a switch names the current contract (3.14.2.3)")
    if contract.facility_id is None:
        return []
    last = earliest_exit(on, rules.notice_period_months)
    if start <= last:
        return [f"the notice period of contract {cid} cannot be met before {start}: the "
                f"earliest end by notice received today is {last} (3.3.3)"]
    return []


# ------------------------------------------------------------------ commands


def submit(session: Session, data: dict[str, Any], rules: PlacementRules,
           on: date | None = None) -> tuple[Application, list[str]]:
    """Store a new application and release it (3.3.2). Nothing is stored without consents."""
    require(session, Permission.PLACEMENT_SUBMIT)
    on = on or today()
    consents = data.get("consents") or {}
    missing = [c for c in CONSENTS if not consents.get(c)]
    if missing:
        raise bad(f"missing consent: {', '.join(missing)}", "consents",
                  "privacy, transfer and terms confirmed before storing (3.3.2, C1)")
    child_ids = list(data.get("child_ids") or [])
    prefetch_intake(session, child_ids, on)  # MESO before the first write (issue 12 item 5)
    child_ids += _unborn_children(session, data.get("unborn_children") or [], on)
    kids = _children(session, child_ids, on)
    _one_active(session, [k.id for k in kids])
    start = data["desired_start"]
    integration = bool(data.get("integration_need")) or any(k.integration_need for k in kids)
    prefs = _preferences(session, data["preferences"], kids, start, integration, rules)
    hours = Decimal(str(data["daily_hours"]))
    _hours(hours, prefs)
    warnings = _switch_warning(session, data, start, on, rules)
    now: datetime = utcnow()
    app = Application(
        family_id=kids[0].family_id, state=ApplicationState.RECEIVED, desired_start=start,
        window_entry=window_entry(start, rules), daily_hours=hours,
        sibling_in_first_preference=bool(data.get("sibling_in_first_preference")),
        integration_need=integration, is_switch=bool(data.get("is_switch")),
        switch_reason=data.get("switch_reason") if data.get("is_switch") else None,
        switch_contract_id=data.get("switch_contract_id") if data.get("is_switch") else None,
        unborn=any(k.birth_date > on for k in kids), confession=data.get("confession"),
        notification_channel=data.get("notification_channel") or NotificationChannel.POST,
        consent_privacy_at=now, consent_transfer_at=now, consent_terms_at=now,
        submitted_at=now, submitted_on=on, remark=data.get("remark"),
        non_resident=bool(data.get("non_resident")), review_alerted=False)
    app.children = [ApplicationChild(child_id=k.id) for k in kids]
    app.preferences = prefs
    session.add(app)
    session.flush()
    intake_check(session, app, on)  # MESO (3.3.2): flag, never block
    emit(session, Kind.APPLICATION_SUBMITTED, on, app.id, child_ids=app.child_ids,
         desired_start=start, notification_channel=app.notification_channel,
         unborn=app.unborn, is_switch=app.is_switch, integration_need=integration,
         facility_ids=[p.facility_id for p in prefs if p.facility_id])
    warnings += release(session, app, on, rules)
    return app, warnings


def needs_zvs_review(app: Application) -> bool:
    """Non-resident, unborn, unresolved address mismatch or switch → ZVS first (3.4)."""
    return app.unborn or app.is_switch or app.non_resident or app.address_mismatch


def release(session: Session, app: Application, on: date, rules: PlacementRules, *,
            by_zvs: bool = False) -> list[str]:
    """Send an application on: ZVS review, intake pool or routing (§4 W1, W2, W4; §18)."""
    if not by_zvs and needs_zvs_review(app):
        app.state = ApplicationState.ZVS_REVIEW
        session.flush()
        emit(session, Kind.SENT_TO_ZVS_REVIEW, on, app.id, child_ids=app.child_ids,
             unborn=app.unborn, is_switch=app.is_switch, non_resident=app.non_resident)
        return []
    if app.integration_need or on >= app.window_entry:
        return routing.route(session, app, on, rules, initial=True).warnings
    app.state, app.current_rank, app.current_facility_id = ApplicationState.INTAKE_POOL, None, None
    session.flush()
    emit(session, Kind.INTAKE_POOLED, on, app.id, child_ids=app.child_ids,
         window_entry=app.window_entry)
    return []


def get(session: Session, app_id: int) -> Application:
    require(session, Permission.PLACEMENT_READ)
    return load(session, Application, app_id)


def _close_entries(session: Session, app_id: int, status: WaitingStatus, on: date,
                   except_facility: int | None = None) -> list[int]:
    """Close the open waiting-list entries of an application; returns their facilities."""
    closed = []
    for entry in session.scalars(select(WaitingListEntry).where(
            WaitingListEntry.application_id == app_id,
            WaitingListEntry.status.in_(routing.OPEN_ENTRY)).order_by(WaitingListEntry.id),
            execution_options=routing.INTERNAL):
        if entry.facility_id == except_facility:
            continue
        entry.status, entry.closed_on = status, on
        closed.append(entry.facility_id)
    return closed


def _active_reservations(session: Session, app_id: int) -> list[Reservation]:
    return list(session.scalars(select(Reservation).where(
        Reservation.application_id == app_id, Reservation.status == ReservationStatus.ACTIVE),
        execution_options=routing.INTERNAL))


def edit(session: Session, app_id: int, data: dict[str, Any], rules: PlacementRules,
         on: date | None = None) -> tuple[Application, list[str]]:
    """C1–C4: edit until a place is reserved; changed preferences restart routing."""
    require(session, Permission.PLACEMENT_SUBMIT)
    on = on or today()
    app = load(session, Application, app_id)
    if app.state == ApplicationState.RESERVED:
        raise bad("a place is reserved: the application cannot be changed", "state",
                  "no edits once a place is reserved (3.3.4, C4)")
    if app.state == ApplicationState.INACTIVE:
        raise bad("the application is inactive", "state", "only active applications change")
    kids = [load(session, Child, c) for c in app.child_ids]
    changed = {k: v for k, v in data.items() if k in EDITABLE}
    start = changed.get("desired_start", app.desired_start)
    integration = changed.get("integration_need", app.integration_need)
    current = list(session.scalars(
        select(Preference).where(Preference.application_id == app.id).order_by(Preference.rank),
        execution_options=routing.INTERNAL))
    old = [(p.facility_id, p.childminding_office_id, p.care_type) for p in current]
    raw = data.get("preferences")
    prefs = _preferences(
        session,
        raw if raw is not None else [{"facility_id": p.facility_id,
                                      "childminding_office_id": p.childminding_office_id,
                                      "care_type": p.care_type} for p in current],
        kids, start, integration, rules)
    new = [(p.facility_id, p.childminding_office_id, p.care_type) for p in prefs]
    hours = Decimal(str(changed.get("daily_hours", app.daily_hours)))
    _hours(hours, prefs)
    for key, value in changed.items():
        setattr(app, key, Decimal(str(value)) if key == "daily_hours" else value)
    app.window_entry = window_entry(app.desired_start, rules)
    restart = new != old
    session.flush()
    emit(session, Kind.APPLICATION_CHANGED, on, app.id, child_ids=app.child_ids,
         fields=sorted(changed), preferences_changed=restart)
    warnings: list[str] = []
    if restart:  # C3: off every list, routing restarts; the history stays in the change log
        removed = _close_entries(session, app.id, WaitingStatus.REMOVED, on)
        for p in current:
            session.delete(p)
        session.flush()
        for p in prefs:
            p.application_id = app.id
            session.add(p)
        session.expire(app, ["preferences"])
        session.flush()
        emit(session, Kind.ROUTING_RESTARTED, on, app.id, child_ids=app.child_ids,
             removed_from=removed)
        if app.state in (ApplicationState.AT_FACILITY, ApplicationState.POOL,
                         ApplicationState.INTAKE_POOL):
            warnings = release(session, app, on, rules, by_zvs=True)
    elif app.state == ApplicationState.INTAKE_POOL and (
            app.integration_need or on >= app.window_entry):
        warnings = release(session, app, on, rules, by_zvs=True)
    return app, warnings


def _inactivate(session: Session, app: Application, reason: InactiveReason, on: date,
                kind: Kind) -> None:
    """End an application: off every list, reserved places released and their heads
    informed (C5, §10.4–5)."""
    removed = _close_entries(session, app.id, WaitingStatus.REMOVED, on)
    for r in _active_reservations(session, app.id):
        r.status = ReservationStatus.RELEASED
        session.flush()
        emit(session, Kind.RESERVATION_RELEASED, on, app.id, r.facility_id, child_ids=[r.child_id],
             starts_on=r.starts_on, reason=reason)
        if r.facility_id is not None:
            emit(session, Kind.FACILITY_INFORMED, on, app.id, r.facility_id,
                 reason="reservation_released", child_ids=[r.child_id], starts_on=r.starts_on)
    app.state, app.inactive_reason, app.inactivated_on = ApplicationState.INACTIVE, reason, on
    app.current_facility_id, app.review_due_on = None, None
    session.flush()
    emit(session, kind, on, app.id, child_ids=app.child_ids, reason=reason, removed_from=removed)


def withdraw(session: Session, app_id: int, on: date | None = None) -> Application:
    """C5: deleted by the parents, kept as "nicht erforderlicher Bedarf" (3.3.5)."""
    require(session, Permission.PLACEMENT_SUBMIT)
    app = load(session, Application, app_id)
    if app.state == ApplicationState.INACTIVE:
        raise bad("the application is already inactive", "state", "only active applications")
    _inactivate(session, app, InactiveReason.WITHDRAWN, on or today(), Kind.WITHDRAWN)
    return app


ZVS_REASONS = frozenset(InactiveReason) - {InactiveReason.PLACED}


def inactivate(session: Session, app_id: int, reason: InactiveReason,
               on: date | None = None) -> Application:
    """The ZVS ends an application: rejected, moved away, no longer needed … (3.4.2–3.4.5)."""
    require(session, Permission.PLACEMENT_ZVS)
    if reason not in ZVS_REASONS:
        raise bad("an application becomes placed only by a signed contract", "reason",
                  "PLACED only through the contract (3.6.7)")
    app = load(session, Application, app_id)
    if app.state == ApplicationState.INACTIVE:
        raise bad("the application is already inactive", "state", "only active applications")
    _inactivate(session, app, reason, on or today(), Kind.INACTIVATED)
    return app


def zvs_release(session: Session, app_id: int, rules: PlacementRules, *,
                priority: int | None = None, on: date | None = None) -> tuple[Application,
                                                                             list[str]]:
    """The ZVS releases a reviewed application (switch with its priority) (3.4.1–3.4.3)."""
    require(session, Permission.PLACEMENT_ZVS)
    on = on or today()
    app = load(session, Application, app_id)
    if app.state != ApplicationState.ZVS_REVIEW:
        raise bad(f"application {app_id} is not on the ZVS review list", "state",
                  "only ZVS_REVIEW applications are released (placement.md §18)")
    if priority is not None:
        app.zvs_priority = priority
    app.address_mismatch = False
    session.flush()
    emit(session, Kind.RELEASED_BY_ZVS, on, app.id, child_ids=app.child_ids)
    return app, release(session, app, on, rules, by_zvs=True)


def set_priority(session: Session, app_id: int, priority: int | None,
                 on: date | None = None) -> Application:
    """3.4.3, 3.14.2.3: the ZVS judges the urgency of a switch application."""
    require(session, Permission.PLACEMENT_ZVS)
    app = load(session, Application, app_id)
    app.zvs_priority = priority
    session.flush()
    emit(session, Kind.PRIORITY_SET, on or today(), app.id, child_ids=app.child_ids)
    return app


def reactivate(session: Session, app_id: int, rules: PlacementRules,
               on: date | None = None) -> tuple[Application, list[str]]:
    """C6: the ZVS reactivates an inactive application (e.g. after an objection)."""
    require(session, Permission.PLACEMENT_ZVS)
    on = on or today()
    app = load(session, Application, app_id)
    if app.state != ApplicationState.INACTIVE or app.inactive_reason == InactiveReason.PLACED:
        raise bad("only inactive, unplaced applications are reactivated", "state",
                  "reactivation by the ZVS (3.4.5)")
    _one_active(session, app.child_ids, own=app.id)
    app.inactive_reason, app.inactivated_on = None, None
    emit(session, Kind.REACTIVATED, on, app.id, child_ids=app.child_ids)
    return app, release(session, app, on, rules, by_zvs=True)


def zvs_route(session: Session, app_id: int, facility_id: int, rules: PlacementRules, *,
              desired_start: date | None = None, on: date | None = None) -> Application:
    """§10.2, §10.6: from the pool the ZVS routes to any facility, or to a later start."""
    require(session, Permission.PLACEMENT_ZVS)
    on = on or today()
    app = load(session, Application, app_id)
    if app.state not in (ApplicationState.POOL, ApplicationState.AT_FACILITY):
        raise bad("only pooled (or reviewed) applications are routed by the ZVS", "state",
                  "central pool (3.4.4)")
    facility = load(session, Facility, facility_id, field="facility_id")
    if facility.status == FacilityStatus.CLOSED:
        raise bad(f"facility {facility_id} is closed", "facility_id",
                  "no placement at a closed facility (3.7.1.3)")
    if desired_start is not None:
        if desired_start < app.desired_start:
            raise bad("the ZVS may offer a later start only", "desired_start",
                      "alternative: other facility or later start (3.4.4)")
        app.desired_start = desired_start
        app.window_entry = window_entry(desired_start, rules)
    app.state, app.current_facility_id = ApplicationState.AT_FACILITY, facility.id
    case = routing.case_of(session, app)
    app.current_rank = next((p.rank for p in case.prefs if p.facility_id == facility.id), None)
    app.review_due_on = on + relativedelta(days=rules.review_deadline_days)
    app.review_alerted = False
    t = WaitingListEntry.__table__.c
    listed = session.scalar(select(t.id).where(
        t.application_id == app.id, t.facility_id == facility.id,
        t.status.in_([s.value for s in routing.OPEN_ENTRY])))
    if listed is None:
        care_type = next(iter(routing.needs(case, routing.Pref(
            0, facility.id, None, case.prefs[0].care_type), rules)))
        session.add(WaitingListEntry(application_id=app.id, facility_id=facility.id,
                                     care_type=care_type,
                                     status=WaitingStatus.WAITING, routed_by_zvs=True,
                                     listed_on=on))
    session.flush()
    emit(session, Kind.ROUTED_BY_ZVS, on, app.id, facility.id, child_ids=app.child_ids,
         desired_start=app.desired_start, review_due_on=app.review_due_on)
    return app


def is_active(app: Application) -> bool:
    return app.state in ACTIVE_STATES


def may_act_at(p: Principal, facility: Facility) -> bool:
    """Tenants act only at their own facilities (R1, R2)."""
    if p.role == Role.FACILITY_LEAD:
        return facility.id == p.facility_id
    if p.role == Role.CARRIER:
        return facility.carrier_id == p.carrier_id
    return p.can(Permission.PLACEMENT_ZVS)
