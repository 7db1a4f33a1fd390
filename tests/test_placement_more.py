"""More scenarios of the placement procedure: waiting-list order, exits, closures, the pool,
switches, reactivation and the tick command (placement.md §7, §10, §11, §12, §14, §15;
Lastenheft 3.2.2, 3.4.4, 3.6.4, 3.6.15, 3.7.1.3)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ekita.core.errors import Conflict, Forbidden, RuleViolation
from ekita.core.models import Application, DomainEvent, WaitingListEntry
from ekita.core.models.enums import CareType, PayerKind, Role
from ekita.core.models.placement import ApplicationState, InactiveReason, WaitingStatus
from ekita.core.services import contracts
from ekita.core.services.placement import applications as apps
from ekita.core.services.placement import closures, exits, queries
from ekita.core.services.placement import reservations as res
from ekita.core.services.placement.applications import earliest_exit
from ekita.core.services.placement.eligibility import allowed_care_types
from tests.conftest import as_role, work
from tests.test_placement_flow import (
    KG_BIRTH,
    LATE,
    ON,
    RULES,
    applicant,
    entries,
    events,
    fill,
    form,
    reserve_and_sign,
    submit,
)
from tests.world import add_applicant, build_placement_world

ZVS = as_role(Role.ZVS)


@pytest.fixture
def world(engine):
    return build_placement_world(engine)


def test_waiting_list_order_siblings_start_birth_never_filing_date(engine, world):
    """placement.md §7 L2 (3.2.4), decisions D7: siblings first, then desired start, then the
    older child; the filing date plays no role."""
    fill(engine, world.other, 2)
    young, _ = applicant(engine, 1, birth=date(2024, 1, 1))
    old, _ = applicant(engine, 2, birth=date(2023, 1, 1))
    later, _ = applicant(engine, 3, birth=date(2022, 12, 1))
    sibling, _ = applicant(engine, 4, birth=date(2024, 2, 1))
    first = submit(engine, form([young], world.other, world.roomy), on=date(2027, 2, 1))[0]
    second = submit(engine, form([old], world.other, world.roomy), on=date(2027, 3, 1))[0]
    third = submit(engine, form([later], world.other, world.roomy, start=date(2027, 9, 1)),
                   on=date(2027, 3, 1))[0]
    fourth = submit(engine, form([sibling], world.other, world.roomy,
                                 sibling_in_first_preference=True), on=date(2027, 4, 1))[0]
    with work(engine, as_role(Role.FACILITY_LEAD, facility_id=world.other)) as s:
        order = [r.application_id for r in queries.waiting_list(s, world.other)]
    assert order == [fourth, second, first, third]


def test_waiting_list_counts_sibling_with_contract_here(engine, world):
    """decisions D7: a sibling with an active contract at the facility counts as sibling."""
    fill(engine, world.other, 2)
    with work(engine) as s:
        big, guardian = add_applicant(s, 40, date(2022, 3, 1))
        contracts.create_contract(s, {
            "child_id": big, "facility_id": world.small, "care_type": CareType.KINDERGARTEN,
            "start_date": date(2026, 1, 1), "daily_hours": Decimal("8"),
            "payer_guardian_id": guardian, "payer_kind": PayerKind.DIRECT_DEBIT})
        family = s.get(__import__("ekita.core.models", fromlist=["Child"]).Child, big).family_id
    little, _ = applicant(engine, 41, birth=date(2024, 3, 1), family_id=family)
    other, _ = applicant(engine, 42, birth=date(2023, 1, 1))
    a = submit(engine, form([other], world.small, world.roomy))[0]
    b = submit(engine, form([little], world.small, world.roomy))[0]
    with work(engine, ZVS) as s:
        order = [r.application_id for r in queries.waiting_list(s, world.small)]
    assert order == [b, a]


def test_earliest_exit_two_month_rule():
    """decisions D3/D4 (Anlage B §9(7); 002 §11): 1 May → 30 June, 2 May → 31 July;
    Hort: end of the following month."""
    assert earliest_exit(date(2027, 5, 1), 2) == date(2027, 6, 30)
    assert earliest_exit(date(2027, 5, 2), 2) == date(2027, 7, 31)
    assert earliest_exit(date(2027, 11, 15), 2) == date(2028, 1, 31)
    assert earliest_exit(date(2027, 5, 20), 2, hort=True) == date(2027, 6, 30)


def test_exit_warns_on_short_notice_and_frees_the_place(engine, world):
    """placement.md §15.3 (3.6.15): the notice is recorded, short notice is a warning (not a
    refusal), the contract ends and the facility's waiting list goes with PlaceFreed."""
    fill(engine, world.small, 1)
    waiting, _ = applicant(engine, 7)
    app_id = submit(engine, form([waiting], world.small, world.roomy))[0]
    with work(engine) as s:
        from ekita.core.models import CareContract
        contract = s.scalar(select(CareContract).where(CareContract.facility_id == world.small))
    lead = as_role(Role.FACILITY_LEAD, facility_id=world.small)
    with work(engine, lead) as s:
        record, warnings = exits.record_exit(s, contract.id, exit_date=date(2027, 6, 30),
                                             notice_received_on=date(2027, 5, 2), rules=RULES,
                                             on=ON)
        assert record.short_notice and "2027-07-31" in warnings[0]
    with work(engine) as s:
        freed = events(s, kind="PlaceFreed")[0]
        assert freed.facility_id == world.small
        assert freed.payload["waiting_application_ids"] == [app_id]
        assert freed.payload["free_from"] == "2027-07-01"
    with pytest.raises(Conflict), work(engine, lead) as s:
        exits.record_exit(s, contract.id, exit_date=date(2027, 7, 31),
                          notice_received_on=date(2027, 5, 1), rules=RULES, on=ON)


def test_exit_in_time_has_no_warning(engine, world):
    """placement.md §15.3: notice on the 1st of the month before last → no warning."""
    fill(engine, world.small, 1)
    with work(engine) as s:
        from ekita.core.models import CareContract
        cid = s.scalar(select(CareContract.id))
    with work(engine, as_role(Role.FACILITY_LEAD, facility_id=world.small)) as s:
        record, warnings = exits.record_exit(s, cid, exit_date=date(2027, 6, 30),
                                             notice_received_on=date(2027, 5, 1), rules=RULES)
        assert warnings == [] and not record.short_notice


def test_switch_success_informs_previous_facility(engine, world):
    """placement.md §8 P5, §11.3 (3.2.2): placing a switch informs the old facility."""
    with work(engine) as s:
        child, guardian = add_applicant(s, 50, KG_BIRTH)
        old = contracts.create_contract(s, {
            "child_id": child, "facility_id": world.other, "care_type": CareType.KINDERGARTEN,
            "start_date": date(2026, 1, 1), "daily_hours": Decimal("8"),
            "payer_guardian_id": guardian, "payer_kind": PayerKind.DIRECT_DEBIT}).id
    app_id, warnings = submit(engine, form([child], world.roomy, is_switch=True,
                                           switch_reason="Umzug", switch_contract_id=old,
                                           start=date(2027, 4, 1)))
    assert warnings and "notice" in warnings[0]  # 3.3.3: warned (ends 30 April), accepted
    with work(engine, ZVS) as s:
        apps.zvs_release(s, app_id, RULES, priority=1, on=ON)
    reserve_and_sign(engine, app_id, world.roomy, guardian)
    with work(engine) as s:
        (informed,) = events(s, app_id, "FacilityInformed")
        assert (informed.facility_id, informed.payload["contract_id"]) == (world.other, old)


def test_permanent_closure_removes_entries_and_moves_reviews_on(engine, world):
    """placement.md §14.4 (3.7.1.3): permanent closure — no routing there, open entries
    removed, applications under review there go on to their next preference."""
    fill(engine, world.small, 1)
    waiting, _ = applicant(engine, 1)
    reviewing, _ = applicant(engine, 2)
    w = submit(engine, form([waiting], world.small, world.roomy))[0]
    r = submit(engine, form([reviewing], world.other, world.roomy))[0]
    with work(engine, as_role(Role.ADMIN)) as s:
        closures.close_facility(s, world.small, permanent=True, closure_from=ON, rules=RULES,
                                on=ON)
        closures.close_facility(s, world.other, permanent=True, closure_from=ON, rules=RULES,
                                on=ON)
    with work(engine) as s:
        assert entries(s, w) == {world.small: WaitingStatus.REMOVED}
        app = s.get(Application, r)
        assert (app.current_facility_id, app.current_rank) == (world.roomy, 2)
    late, _ = applicant(engine, 3)
    with pytest.raises(RuleViolation, match="closed"):
        submit(engine, form([late], world.small))


def test_temporary_closure_still_routes_with_warning(engine, world):
    """placement.md §14.5 (3.7.1.3): temporarily closed — still routable, with a warning."""
    with work(engine, as_role(Role.ADMIN)) as s:
        closures.close_facility(s, world.roomy, permanent=False, closure_from=ON,
                                closure_to=date(2027, 9, 30), rules=RULES, on=ON)
    child, _ = applicant(engine)
    app_id, warnings = submit(engine, form([child], world.roomy))
    assert warnings and "temporarily closed" in warnings[0]
    with work(engine) as s:
        assert s.get(Application, app_id).current_facility_id == world.roomy


def test_pool_zvs_routes_to_any_facility_and_later_start(engine, world):
    """placement.md §10.2/§10.6 (3.4.4, 3.2.1): from the pool the ZVS routes to a facility
    that was no preference, or to a later start; the entry there is marked ZVS-routed."""
    fill(engine, world.small, 1)
    child, guardian = applicant(engine)
    app_id = submit(engine, form([child], world.small))[0]
    with work(engine, ZVS) as s:
        assert s.get(Application, app_id).state == ApplicationState.POOL
        with pytest.raises(RuleViolation, match="later"):
            apps.zvs_route(s, app_id, world.roomy, RULES, desired_start=date(2027, 7, 1), on=ON)
    with work(engine, ZVS) as s:
        app = apps.zvs_route(s, app_id, world.roomy, RULES, desired_start=date(2027, 9, 1),
                             on=ON)
        assert (app.current_facility_id, app.current_rank) == (world.roomy, None)
    with work(engine) as s:
        entry = s.scalar(select(WaitingListEntry).where(
            WaitingListEntry.application_id == app_id,
            WaitingListEntry.facility_id == world.roomy))
        assert entry.routed_by_zvs
    reserve_and_sign(engine, app_id, world.roomy, guardian)
    with work(engine) as s:
        app = s.get(Application, app_id)
        assert (app.placed_rank, app.placed_start) == (None, date(2027, 9, 1))


def test_inactivate_and_reactivate_by_zvs(engine, world):
    """placement.md §10.4/§12.6 (3.4.4, 3.4.5): the ZVS inactivates (moved away) and may
    reactivate; PLACED only through a contract; a child with a newer active application
    blocks the reactivation."""
    child, _ = applicant(engine)
    app_id = submit(engine, form([child], world.roomy))[0]
    with work(engine, ZVS) as s, pytest.raises(RuleViolation):
        apps.inactivate(s, app_id, InactiveReason.PLACED, ON)
    with work(engine, ZVS) as s:
        apps.inactivate(s, app_id, InactiveReason.MOVED_AWAY, ON)
    newer = submit(engine, form([child], world.other))[0]
    with pytest.raises(Conflict, match=str(newer)), work(engine, ZVS) as s:
        apps.reactivate(s, app_id, RULES, ON)
    with work(engine, ZVS) as s:
        apps.withdraw(s, newer, ON)
    with work(engine, ZVS) as s:
        app, _ = apps.reactivate(s, app_id, RULES, ON)
        assert app.state == ApplicationState.AT_FACILITY and app.inactive_reason is None
    with pytest.raises(Forbidden), work(engine, as_role(Role.FACILITY_LEAD,
                                                        facility_id=world.roomy)) as s:
        apps.inactivate(s, app_id, InactiveReason.NO_RESPONSE, ON)


def test_edit_in_intake_pool_into_window_routes(engine, world):
    """placement.md §12 C1/C2, §4 W2: an earlier desired start brings it into the window."""
    child, _ = applicant(engine, birth=date(2024, 5, 1))
    app_id = submit(engine, form([child], world.roomy, start=LATE))[0]
    with work(engine, ZVS) as s:
        app, _ = apps.edit(s, app_id, {"desired_start": date(2027, 8, 1)}, RULES, ON)
        assert app.state == ApplicationState.AT_FACILITY


def test_follow_up_alert_then_not_signed(engine, world):
    """placement.md §8 P2/P4 (3.6.6): the tick raises the 14-day follow-up; not signed →
    reservation lifted, application inactive (CONTRACT_NOT_SIGNED)."""
    from ekita.core.services.placement.tick import tick
    child, _ = applicant(engine)
    app_id = submit(engine, form([child], world.roomy))[0]
    lead = as_role(Role.FACILITY_LEAD, facility_id=world.roomy)
    with work(engine, lead) as s:
        res.reserve(s, app_id, RULES, facility_id=world.roomy, on=ON)
    with work(engine) as s:
        assert tick(s, date(2027, 3, 14), RULES).follow_ups_due == 0
        assert tick(s, date(2027, 3, 15), RULES).follow_ups_due == 1
        assert tick(s, date(2027, 3, 16), RULES).follow_ups_due == 0
        (due,) = events(s, app_id, "ReservationFollowUpDue")
        assert due.facility_id == world.roomy
    with work(engine, lead) as s:
        app = res.release_reservation(s, app_id, res.ReleaseOutcome.NOT_SIGNED, RULES, ON)
        assert app.inactive_reason == InactiveReason.CONTRACT_NOT_SIGNED


def test_refused_command_leaves_no_event(engine, world):
    """placement.md §18 inv. 6, house rule: events are written in the command's transaction;
    a refused command stores neither the change nor an event."""
    fill(engine, world.small, 1)
    child, _ = applicant(engine)
    app_id = submit(engine, form([child], world.small, sibling_in_first_preference=True))[0]
    with work(engine) as s:
        before = s.scalar(select(func.count(DomainEvent.id)))
    with pytest.raises(RuleViolation), work(
            engine, as_role(Role.FACILITY_LEAD, facility_id=world.small)) as s:
        res.reserve(s, app_id, RULES, facility_id=world.small, on=ON)
    with work(engine) as s:
        assert s.scalar(select(func.count(DomainEvent.id))) == before
        assert s.get(Application, app_id).state == ApplicationState.AT_FACILITY


def test_reservation_holds_later_days_too(engine, world):
    """placement.md §14.7: a place reserved from day s is taken on every later day, so an
    earlier start cannot slip in before a later reservation without the overbooking flag."""
    later, _ = applicant(engine, 1)
    early, _ = applicant(engine, 2)
    a = submit(engine, form([later], world.small, start=date(2027, 9, 1)))[0]
    lead = as_role(Role.FACILITY_LEAD, facility_id=world.small)
    with work(engine, lead) as s:
        res.reserve(s, a, RULES, facility_id=world.small, on=ON)
    b = submit(engine, form([early], world.small, world.roomy,
                            sibling_in_first_preference=True))[0]
    with pytest.raises(RuleViolation, match="overbook"), work(engine, lead) as s:
        res.reserve(s, b, RULES, facility_id=world.small, on=ON)


def test_care_types_by_age():
    """placement.md §3.5 (Anlage A §1(3)): Krippe and childminding until 36 months,
    Kindergarten from the 34th month, Hort at school age."""
    start = date(2027, 8, 1)
    assert allowed_care_types(date(2026, 1, 1), start, RULES) == [
        CareType.KRIPPE, CareType.KINDERTAGESPFLEGE]
    assert CareType.KINDERGARTEN in allowed_care_types(date(2024, 9, 15), start, RULES)
    assert allowed_care_types(date(2023, 1, 1), start, RULES) == [CareType.KINDERGARTEN]
    assert allowed_care_types(date(2020, 1, 1), start, RULES) == [CareType.HORT]
    assert CareType.INTEGRATION_KINDERGARTEN in allowed_care_types(
        date(2023, 1, 1), start, RULES, integration=True)


ROOT = Path(__file__).resolve().parents[1]


def test_cli_tick_is_idempotent(tmp_path):
    """Issue 3 item 7: `ekita-hub placement tick --date` advances the time-based steps;
    running it twice for the same date changes nothing and writes no events."""
    from ekita.core.db.migrate import upgrade
    from ekita.core.db.session import make_engine
    url = f"sqlite:///{tmp_path}/tick.db"
    engine = make_engine(url)
    upgrade(engine)
    world = build_placement_world(engine)
    with work(engine) as s:
        child, _ = add_applicant(s, 1, date(2024, 5, 1))
    with work(engine, ZVS) as s:
        app_id = apps.submit(s, form([child], world.roomy, start=LATE), RULES, ON)[0].id
    exe = str(Path(sys.executable).parent / "ekita-hub")
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": "/tmp",
           "EKITA_DATABASE_URL": url}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, "placement", "tick", "--date", "2028-02-01"], env=env,
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)

    first = run()
    assert first.returncode == 0, first.stderr
    assert '"entered_window": 1' in first.stdout
    with work(engine) as s:
        count = s.scalar(select(func.count(DomainEvent.id)))
        assert s.get(Application, app_id).state == ApplicationState.AT_FACILITY
    second = run()
    assert second.returncode == 0 and '"entered_window": 0' in second.stdout
    with work(engine) as s:
        assert s.scalar(select(func.count(DomainEvent.id))) == count
    bad = subprocess.run([exe, "placement", "tick", "--date", "2028-02-31"], env=env,
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert bad.returncode != 0 and "YYYY-MM-DD" in bad.stdout + bad.stderr


def test_cli_tick_passes_the_recheck_to_the_plugin_hook(tmp_path):
    """placement.md §4 W3 (3.2.4): the CLI's tick hands applications 4–6 weeks before their
    window to the plugins' ``registry_recheck`` hook, in the tick's transaction, once."""
    import types

    from ekita.core.db.migrate import upgrade
    from ekita.core.db.session import make_engine
    from ekita.hub import hookimpl
    from ekita.hub.cli.placement import tick_with_plugins
    from ekita.hub.config import Settings
    from ekita.hub.plugins import load_plugins

    url = f"sqlite:///{tmp_path}/hook.db"
    engine = make_engine(url)
    upgrade(engine)
    world = build_placement_world(engine)
    with work(engine) as s:
        child, _ = add_applicant(s, 1, date(2024, 5, 1))
    with work(engine, ZVS) as s:
        app_id = apps.submit(s, form([child], world.roomy, start=LATE), RULES, ON)[0].id
    calls: list[tuple[list[int], date, bool]] = []

    def registry_recheck(session, application_ids, on):
        calls.append((application_ids, on, session.in_transaction()))

    recorder = types.ModuleType("recorder")
    recorder.registry_recheck = hookimpl(registry_recheck)
    settings = Settings(database_url=url)
    plugins = load_plugins(settings, extra=[("recorder", recorder)])
    report = tick_with_plugins(settings, plugins, date(2028, 1, 2))
    assert report.recheck_requested == 1
    assert calls == [([app_id], date(2028, 1, 2), True)]
    tick_with_plugins(settings, plugins, date(2028, 1, 3))
    assert len(calls) == 1
