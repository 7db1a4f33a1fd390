"""The daily tick: the time-based steps of the procedure (placement.md §4, §6 R8, §8 P2).

``tick(session, on, rules, recheck=...)`` runs, for the business date ``on``:

1. the registry re-check request for applications whose window opens within
   ``recheck_weeks_before_window`` weeks (W3; the MESO adapter implements the hook);
2. window entry: applications of the intake pool whose window has opened are routed
   (W2) — in bulk, against one ``PlaceLedger``, written with set-based statements;
3. facility review deadlines passed → a ZVS alert (R8);
4. reservation follow-ups due → an alert to the head (P2).

Every step selects only records the step has not handled yet, so a second run for the
same date changes nothing and writes no events. The core never imports the hub: the
hook call comes in as the ``recheck`` callback.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.db.base import utcnow
from ekita.core.db.bulk import insert_rows
from ekita.core.models import Child, DomainEvent, Reservation, WaitingListEntry
from ekita.core.models.placement import (
    Application,
    ApplicationChild,
    ApplicationState,
    Preference,
    ReservationStatus,
    WaitingStatus,
)
from ekita.core.services.placement import bulk, routing
from ekita.core.services.placement.events import Kind
from ekita.core.services.placement.occupancy import PlaceLedger
from ekita.core.services.placement.rules import PlacementRules
from ekita.core.tracking import jsonable, principal_of, record_bulk

Recheck = Callable[[Session, list[int], date], None]
A = Application.__table__
W = WaitingListEntry.__table__
R = Reservation.__table__
CHUNK = 2000


@dataclass
class TickReport:
    on: date
    recheck_requested: int = 0
    entered_window: int = 0
    routed_to_facility: int = 0
    waitlisted: int = 0
    moved_to_pool: int = 0
    reviews_overdue: int = 0
    follow_ups_due: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: jsonable(v) for k, v in self.__dict__.items()}


def tick(session: Session, on: date, rules: PlacementRules,
         recheck: Recheck | None = None) -> TickReport:
    """Advance the time-based steps for ``on`` in the caller's transaction (idempotent)."""
    report = TickReport(on)
    session.flush()
    _recheck(session, on, rules, recheck, report)
    _enter_window(session, on, rules, report)
    _review_deadlines(session, on, report)
    _follow_ups(session, on, report)
    return report


# ------------------------------------------------------------------ bulk writing


def _json(payload: dict[str, Any]) -> dict[str, Any]:
    """Event payloads hold ids, lists of ids or care types, dates and flags."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in payload.items()}


def _update(session: Session, table: Any, rows: list[dict[str, Any]],
            before: dict[str, Any], on: date, shared: dict[str, Any] | None = None) -> None:
    """UPDATE by id with per-row values (and shared ones), audited like an ORM change."""
    shared = shared or {}
    bulk.update_rows(session, table, rows, shared | {"updated_at": utcnow()})
    audit = []
    old = {k: jsonable(v) for k, v in before.items()}
    fixed = {k: [old.get(k), jsonable(v)] for k, v in shared.items() if before.get(k) != v}
    for row in rows:
        changes = {k: [old.get(k), v.isoformat() if isinstance(v, date) else v]
                   for k, v in row.items() if k != "id" and before.get(k) != v}
        audit.append((row["id"], "update", changes | fixed))
    record_bulk(session, table.name, audit, on)


def _events(session: Session, on: date, rows: list[dict[str, Any]]) -> None:
    """Event rows: kind, application_id, facility_id, payload (already JSON-ready)."""
    insert_rows(session, DomainEvent.__table__, rows,
                {"occurred_on": on, "recorded_at": utcnow(), "actor": principal_of(session).name})


def _event(kind: Kind, application_id: int | None, facility_id: int | None = None,
           **payload: Any) -> dict[str, Any]:
    return {"kind": kind.value, "application_id": application_id,
            "facility_id": facility_id, "payload": _json(payload)}


# ------------------------------------------------------------------ steps


def _recheck(session: Session, on: date, rules: PlacementRules, recheck: Recheck | None,
             report: TickReport) -> None:
    """W3: ask the registry about applications whose window opens in 4–6 weeks (3.2.4)."""
    horizon = on + timedelta(weeks=rules.recheck_weeks_before_window)
    rows = session.execute(select(A.c.id, A.c.window_entry).where(
        A.c.state == ApplicationState.INTAKE_POOL.value, A.c.recheck_requested_on.is_(None),
        A.c.window_entry > on, A.c.window_entry <= horizon).order_by(A.c.id)).all()
    if not rows:
        return
    ids = [r.id for r in rows]
    _update(session, A, [{"id": i} for i in ids], {}, on, {"recheck_requested_on": on})
    _events(session, on, [_event(Kind.RECHECK_REQUESTED, r.id, window_entry=r.window_entry)
                          for r in rows])
    report.recheck_requested = len(ids)
    if recheck is not None:
        recheck(session, ids, on)


def _load_cases(session: Session, due: Any) -> list[routing.Case]:
    """Applications, preferences, children and open entries in four queries."""
    cases = {r.id: routing.Case(r.id, r.desired_start, r.integration_need,
                                r.sibling_in_first_preference, [], [])
             for r in session.execute(select(A.c.id, A.c.desired_start, A.c.integration_need,
                                             A.c.sibling_in_first_preference)
                                      .where(A.c.id.in_(due)).order_by(A.c.id))}
    p = Preference.__table__.c
    for app_id, rank, fid, office, care_type in session.execute(
            select(p.application_id, p.rank, p.facility_id, p.childminding_office_id,
                   p.care_type).where(p.application_id.in_(due))
            .order_by(p.application_id, p.rank)):
        cases[app_id].prefs.append(routing.Pref(rank, fid, office, care_type))
    ac, c = ApplicationChild.__table__.c, Child.__table__.c
    for app_id, child_id, birth, deferred in session.execute(
            select(ac.application_id, ac.child_id, c.birth_date, c.school_deferred)
            .join(Child.__table__, c.id == ac.child_id).where(ac.application_id.in_(due))
            .order_by(ac.application_id, ac.id)):
        cases[app_id].children.append((child_id, birth, bool(deferred)))
    for app_id, fid in session.execute(select(W.c.application_id, W.c.facility_id).where(
            W.c.application_id.in_(due),
            W.c.status.in_([s.value for s in routing.OPEN_ENTRY]))):
        cases[app_id].waiting_at.add(fid)
    return list(cases.values())


def _enter_window(session: Session, on: date, rules: PlacementRules,
                  report: TickReport) -> None:
    """W2: route every intake-pool application whose window has opened, in bulk."""
    due = select(A.c.id).where(A.c.state == ApplicationState.INTAKE_POOL.value,
                               A.c.window_entry <= on).scalar_subquery()
    cases = _load_cases(session, due)
    if not cases:
        return
    start = min(min(c.desired_start for c in cases), on)
    end = max(c.desired_start for c in cases) + timedelta(days=rules.grace_days)
    ledger = PlaceLedger.load(session, start, end, rules)
    updates: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for case in cases:
        outcome = routing.plan(case, ledger, on, rules, initial=True)
        updates.append({"id": case.id, "state": outcome.state.value,
                        "current_rank": outcome.current_rank,
                        "current_facility_id": outcome.current_facility_id,
                        "review_due_on": outcome.review_due_on})
        events.append(_event(Kind.ENTERED_WINDOW, case.id, child_ids=case.child_ids,
                             desired_start=case.desired_start))
        events += [_event(kind, case.id, fid, **payload)
                   for kind, fid, payload in outcome.events]
        entries += [{"application_id": case.id, "facility_id": fid, "care_type": ct.value}
                    for fid, ct in outcome.waitlist]
        if outcome.state == ApplicationState.AT_FACILITY:
            report.routed_to_facility += 1
        elif outcome.state == ApplicationState.POOL:
            report.moved_to_pool += 1
    _update(session, A, updates, {"state": ApplicationState.INTAKE_POOL.value}, on,
            {"review_alerted": False})
    if entries:
        now = utcnow()
        shared = {"status": WaitingStatus.WAITING.value, "routed_by_zvs": False,
                  "listed_on": on, "created_at": now, "updated_at": now}
        for ident, entry in zip(bulk.reserve_ids(session, W, len(entries)), entries,
                                strict=True):
            entry["id"] = ident
        insert_rows(session, W, entries, shared)
        fixed = {k: [None, jsonable(v)] for k, v in shared.items()
                 if k not in ("created_at", "updated_at")}
        record_bulk(session, W.name, [
            (e["id"], "create", {k: [None, v] for k, v in e.items()} | fixed)
            for e in entries], on)
    _events(session, on, events)
    report.entered_window = len(cases)
    report.waitlisted = len(entries)


def _review_deadlines(session: Session, on: date, report: TickReport) -> None:
    """R8: a review deadline passed without reservation or forwarding → ZVS alert (3.6.5)."""
    rows = session.execute(select(A.c.id, A.c.current_facility_id, A.c.review_due_on).where(
        A.c.state == ApplicationState.AT_FACILITY.value, A.c.review_due_on <= on,
        A.c.review_alerted.is_(False)).order_by(A.c.id)).all()
    if not rows:
        return
    _update(session, A, [{"id": r.id} for r in rows], {"review_alerted": False}, on,
            {"review_alerted": True})
    _events(session, on, [_event(Kind.REVIEW_OVERDUE, r.id, r.current_facility_id,
                                 review_due_on=r.review_due_on, alert_for="zvs")
                          for r in rows])
    report.reviews_overdue = len(rows)


def _follow_ups(session: Session, on: date, report: TickReport) -> None:
    """P2: 14 days after the reservation the head follows up; no contract → she releases."""
    rows = session.execute(select(R.c.id, R.c.application_id, R.c.facility_id, R.c.child_id,
                                  R.c.follow_up_on).where(
        R.c.status == ReservationStatus.ACTIVE.value, R.c.follow_up_on <= on,
        R.c.follow_up_alerted.is_(False)).order_by(R.c.id)).all()
    if not rows:
        return
    _update(session, R, [{"id": r.id} for r in rows], {"follow_up_alerted": False}, on,
            {"follow_up_alerted": True})
    per_app: dict[int, list] = defaultdict(list)
    for r in rows:
        per_app[r.application_id].append(r)
    _events(session, on, [_event(Kind.FOLLOW_UP_DUE, app_id, rs[0].facility_id,
                                 child_ids=[r.child_id for r in rs],
                                 follow_up_on=rs[0].follow_up_on, alert_for="facility")
                          for app_id, rs in per_app.items()])
    report.follow_ups_due = len(per_app)
