"""Routing through the preferences (placement.md §6; Lastenheft 3.2.1, 3.2.5, 3.2.6, 3.6.5).

``plan`` decides, for one application and a loaded ``PlaceLedger``, where it goes: to the
first preference with a free place (within the Kulanzzeit) for all its children, onto the
waiting list of every full preference on the way, or to the central pool. It is pure, so
the tick can plan 20,000 applications against one ledger and write the results in bulk;
``apply`` writes one plan through the ORM for the interactive commands.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.models import Child, WaitingListEntry
from ekita.core.models.enums import CareType, FacilityStatus
from ekita.core.models.placement import (
    Application,
    ApplicationChild,
    ApplicationState,
    Preference,
    WaitingStatus,
)
from ekita.core.scoping import PROCEDURE_READ
from ekita.core.services.placement.eligibility import care_type_for
from ekita.core.services.placement.events import Kind, event_row, write
from ekita.core.services.placement.occupancy import FacilityInfo, PlaceLedger
from ekita.core.services.placement.rules import PlacementRules

OPEN_ENTRY = (WaitingStatus.WAITING, WaitingStatus.OFFERED)


@dataclass(frozen=True)
class Pref:
    rank: int
    facility_id: int | None
    office_id: int | None
    care_type: CareType


@dataclass
class Case:
    """What routing needs of an application, loaded without the ORM for the bulk tick."""

    id: int
    desired_start: date
    integration: bool
    sibling: bool
    prefs: list[Pref]
    children: list[tuple[int, date, bool]]  # child id, birth date, school entry deferred
    waiting_at: set[int] = field(default_factory=set)
    needs_by_type: dict[CareType, Counter[CareType]] = field(default_factory=dict)

    @property
    def child_ids(self) -> list[int]:
        return [c[0] for c in self.children]


@dataclass
class Outcome:
    state: ApplicationState
    current_rank: int | None = None
    current_facility_id: int | None = None
    review_due_on: date | None = None
    waitlist: list[tuple[int, CareType]] = field(default_factory=list)
    events: list[tuple[Kind, int | None, dict[str, Any]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def needs(case: Case, pref: Pref, rules: PlacementRules) -> Counter[CareType]:
    """Places per care type the children of the application need at this preference (§3.6).
    Preferences usually share the wished care type, so it is worked out once per type."""
    found = case.needs_by_type.get(pref.care_type)
    if found is None:
        found = case.needs_by_type[pref.care_type] = Counter(
            care_type_for(pref.care_type, birth, case.desired_start, rules,
                          integration=case.integration, deferred=deferred)
            for _child, birth, deferred in case.children)
    return found


def closed_for(info: FacilityInfo | None, start: date) -> bool:
    """Permanently closed by the start: no routing there (placement.md §14.4)."""
    if info is None:
        return True
    return info.status == FacilityStatus.CLOSED and (
        info.closure_from is None or info.closure_from <= start)


def has_room(ledger: PlaceLedger, facility_id: int, need: Counter[CareType], start: date,
             rules: PlacementRules) -> bool:
    """R2: a free place for every child at the start, within the grace period (§5)."""
    return all(ledger.free_within(facility_id, care_type, start, rules.grace_days) >= count
               for care_type, count in need.items())


def plan(case: Case, ledger: PlaceLedger, on: date, rules: PlacementRules, *,
         from_rank: int = 1, initial: bool = False) -> Outcome:
    """Route from preference ``from_rank`` on (R1–R7). ``initial`` marks the first routing
    after release, where the sibling and integration exceptions (R3) apply."""
    due = on + timedelta(days=rules.review_deadline_days)
    out = Outcome(ApplicationState.POOL)
    base = {"child_ids": case.child_ids, "desired_start": case.desired_start}
    first = True
    for pref in case.prefs:
        if pref.rank < from_rank:
            continue
        if pref.office_id is not None:  # R9: the BVS-KTP reviews a childminding wish
            out.state, out.current_rank, out.review_due_on = (
                ApplicationState.AT_FACILITY, pref.rank, due)
            out.events.append((Kind.ROUTED_TO_FACILITY, None,
                               base | {"childminding_office_id": pref.office_id}))
            return out
        info = ledger.facilities.get(pref.facility_id or 0)
        if closed_for(info, case.desired_start):
            continue
        assert info is not None and pref.facility_id is not None
        fid = pref.facility_id
        need = needs(case, pref, rules)
        warning = {}
        if info.status == FacilityStatus.TEMPORARILY_CLOSED:
            warning = {"warning": f"facility {fid} is temporarily closed"}
            out.warnings.append(warning["warning"])
        free = has_room(ledger, fid, need, case.desired_start, rules)
        integration_first = initial and first and case.integration
        sibling_first = initial and pref.rank == 1 and case.sibling
        first = False
        if not free and fid not in case.waiting_at:
            out.waitlist.append((fid, next(iter(need))))
            case.waiting_at.add(fid)
            out.events.append((Kind.WAITLISTED, fid, base | {"care_types": sorted(need)}))
        if free or integration_first or sibling_first:
            out.state, out.current_rank, out.current_facility_id, out.review_due_on = (
                ApplicationState.AT_FACILITY, pref.rank, fid, due)
            out.events.append((Kind.ROUTED_TO_FACILITY, fid, base | warning | {
                "free_place": free, "sibling": case.sibling, "review_due_on": due}))
            if integration_first:
                out.events.append((Kind.INTEGRATION_ALERT, fid, base))
            return out
    out.events.append((Kind.MOVED_TO_POOL, None, base))
    return out


# ------------------------------------------------------------------ loading cases


INTERNAL = {PROCEDURE_READ: True}


def case_of(session: Session, app: Application) -> Case:
    """The routing view of one application: all its preferences, children and open
    waiting-list entries, read for the procedure itself whoever acts (see PROCEDURE_READ)."""
    ac, c = ApplicationChild.__table__.c, Child.__table__.c
    kids = session.execute(
        select(c.id, c.birth_date, c.school_deferred)
        .join(ApplicationChild.__table__, ac.child_id == c.id)
        .where(ac.application_id == app.id).order_by(ac.id), execution_options=INTERNAL).all()
    p = Preference.__table__.c
    prefs = session.execute(
        select(p.rank, p.facility_id, p.childminding_office_id, p.care_type)
        .where(p.application_id == app.id).order_by(p.rank), execution_options=INTERNAL).all()
    t = WaitingListEntry.__table__
    waiting = set(session.scalars(select(t.c.facility_id).where(
        t.c.application_id == app.id, t.c.status.in_([s.value for s in OPEN_ENTRY])),
        execution_options=INTERNAL))
    return Case(app.id, app.desired_start, app.integration_need,
                app.sibling_in_first_preference,
                [Pref(r.rank, r.facility_id, r.childminding_office_id, CareType(r.care_type))
                 for r in prefs],
                [(r.id, r.birth_date, bool(r.school_deferred)) for r in kids], waiting)


def ledger_for(session: Session, cases: list[Case], rules: PlacementRules,
               on: date | None = None) -> PlaceLedger:
    """One ledger covering every case's start and grace period."""
    starts = [c.desired_start for c in cases] or [on or date.today()]
    first = min(starts)
    if on is not None:
        first = min(first, on)
    last = max(starts) + timedelta(days=rules.grace_days)
    facilities = {p.facility_id for c in cases for p in c.prefs if p.facility_id}
    return PlaceLedger.load(session, first, last, rules,
                            facilities if len(cases) < 50 else None)


def apply(session: Session, app: Application, case: Case, outcome: Outcome, on: date,
          *, routed_by_zvs: bool = False) -> None:
    """Write one plan through the ORM (audited by the change log) and its events."""
    app.state = outcome.state
    app.current_rank = outcome.current_rank
    app.current_facility_id = outcome.current_facility_id
    app.review_due_on = outcome.review_due_on
    app.review_alerted = False
    for fid, care_type in outcome.waitlist:
        session.add(WaitingListEntry(application_id=app.id, facility_id=fid,
                                     care_type=care_type, status=WaitingStatus.WAITING,
                                     routed_by_zvs=routed_by_zvs, listed_on=on))
    write(session, [event_row(session, kind, on, app.id, fid, **payload)
                    for kind, fid, payload in outcome.events])


def route(session: Session, app: Application, on: date, rules: PlacementRules, *,
          from_rank: int = 1, initial: bool = False) -> Outcome:
    """Route one application now (release, forward, edit, reactivation)."""
    case = case_of(session, app)
    ledger = ledger_for(session, [case], rules, on)
    outcome = plan(case, ledger, on, rules, from_rank=from_rank, initial=initial)
    apply(session, app, case, outcome, on)
    return outcome
