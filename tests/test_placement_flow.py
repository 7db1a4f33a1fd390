"""Scenario tests of the placement procedure through the service layer, each naming the
spec section it checks (shared/spec/placement.md; Lastenheft 3.2–3.7)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ekita.core.errors import Conflict, Forbidden, RuleViolation
from ekita.core.models import (
    Application,
    CareContract,
    DomainEvent,
    Reservation,
    WaitingListEntry,
)
from ekita.core.models.enums import CareType, PayerKind, Role
from ekita.core.models.placement import (
    ApplicationState,
    InactiveReason,
    ReservationStatus,
    WaitingStatus,
)
from ekita.core.services.placement import applications as apps
from ekita.core.services.placement import reservations as res
from ekita.core.services.placement.rules import PlacementRules
from ekita.core.services.placement.tick import tick
from tests.conftest import as_role, work
from tests.world import add_applicant, build_placement_world

RULES = PlacementRules()
ON = date(2027, 3, 1)  # filing day in the tests
START = date(2027, 8, 1)  # desired start: the window opened on 2027-02-01
LATE = date(2028, 8, 1)  # desired start outside the window (opens 2028-02-01)
KG_BIRTH = date(2023, 5, 10)  # 4 years old at START: Kindergarten
KR_BIRTH = date(2026, 1, 15)  # 18 months at START: Krippe
CONSENT = {"privacy": True, "transfer": True, "terms": True}


def form(child_ids: list[int], *facilities: int, start: date = START, **extra) -> dict:
    return {"child_ids": child_ids, "desired_start": start, "daily_hours": Decimal("9"),
            "preferences": [{"facility_id": f} for f in facilities], "consents": CONSENT,
            **extra}


def events(s, app_id: int | None = None, kind: str | None = None) -> list[DomainEvent]:
    stmt = select(DomainEvent).order_by(DomainEvent.id)
    if app_id is not None:
        stmt = stmt.where(DomainEvent.application_id == app_id)
    if kind is not None:
        stmt = stmt.where(DomainEvent.kind == kind)
    return list(s.scalars(stmt))


def entries(s, app_id: int) -> dict[int, WaitingStatus]:
    return {e.facility_id: e.status for e in s.scalars(
        select(WaitingListEntry).where(WaitingListEntry.application_id == app_id))}


@pytest.fixture
def world(engine):
    return build_placement_world(engine)


def applicant(engine, n: int = 1, birth: date = KG_BIRTH, family_id: int | None = None):
    with work(engine) as s:
        return add_applicant(s, n, birth, family_id)


def submit(engine, data: dict, on: date = ON, principal=None):
    with work(engine, principal or as_role(Role.ZVS)) as s:
        app, warnings = apps.submit(s, data, RULES, on)
        return app.id, warnings


def fill(engine, facility_id: int, n: int, care_type: CareType = CareType.KINDERGARTEN,
         birth: date = KG_BIRTH) -> None:
    """Occupy n places with contracts from START on."""
    with work(engine) as s:
        from ekita.core.services import contracts
        for i in range(n):
            child, guardian = add_applicant(s, 900 + facility_id * 10 + i, birth)
            contracts.create_contract(s, {
                "child_id": child, "facility_id": facility_id, "care_type": care_type,
                "start_date": date(2026, 1, 1), "daily_hours": Decimal("8"),
                "payer_guardian_id": guardian, "payer_kind": PayerKind.DIRECT_DEBIT})


# ---------------------------------------------------------------- intake (§3)


def test_consents_missing_stores_nothing(engine, world):
    """placement.md §3.2, data-protection C1: without the three consents, 422 and no row."""
    child, _ = applicant(engine)
    with pytest.raises(RuleViolation) as err, work(engine, as_role(Role.ZVS)) as s:
        apps.submit(s, form([child], world.roomy) | {"consents": CONSENT | {"terms": False}},
                    RULES, ON)
    assert err.value.field == "consents" and "terms" in err.value.message
    with work(engine) as s:
        assert s.scalar(select(func.count(Application.id))) == 0
        assert s.scalar(select(func.count(DomainEvent.id))) == 0


def test_one_active_application_per_child(engine, world):
    """placement.md §3.3 (Lastenheft 3.3.2): a second application is a 409 naming the first."""
    child, _ = applicant(engine)
    first, _ = submit(engine, form([child], world.roomy))
    with pytest.raises(Conflict) as err:
        submit(engine, form([child], world.other))
    assert str(first) in err.value.message


def test_unborn_child_only_by_zvs(engine, world):
    """placement.md §3.4 (3.3.2, 3.4.1): an unborn child only by the ZVS, then ZVS review."""
    with work(engine) as s:
        from ekita.core.services import people
        family = people.create_family(s, {}).id
    unborn = [{"family_id": family, "family_name": "Klein", "expected_birth_date":
               date(2027, 5, 1)}]
    data = form([], world.roomy, start=date(2028, 3, 1), unborn_children=unborn)
    lead = as_role(Role.FACILITY_LEAD, facility_id=world.roomy)
    with pytest.raises(Forbidden):
        submit(engine, data, principal=lead)
    app_id, _ = submit(engine, data)
    with work(engine) as s:
        app = s.get(Application, app_id)
        assert app.unborn and app.state == ApplicationState.ZVS_REVIEW


def test_care_type_must_fit_age_and_offer(engine, world):
    """placement.md §3.5 (3.3.2): a 1-year-old's wish at a facility without Krippe is refused."""
    child, _ = applicant(engine, birth=KR_BIRTH)
    with pytest.raises(RuleViolation) as err:
        submit(engine, form([child], world.other))
    assert err.value.field == "preferences[0]"
    app_id, _ = submit(engine, form([child], world.roomy))
    with work(engine) as s:
        assert s.get(Application, app_id).preferences[0].care_type == CareType.KRIPPE


def test_preferences_one_to_five_no_duplicates(engine, world):
    """placement.md §3.1 (3.3.2): 1–5 preferences, none twice."""
    child, _ = applicant(engine)
    with pytest.raises(RuleViolation, match="twice"):
        submit(engine, form([child], world.roomy, world.roomy))
    with pytest.raises(RuleViolation, match="1 to 5"):
        submit(engine, form([child]))


def test_hort_not_placed_by_default(engine, world):
    """placement.md §13 (3.2.3): Hort is not allocated through placement unless enabled."""
    child, _ = applicant(engine, birth=date(2020, 3, 1))
    with pytest.raises(RuleViolation):
        submit(engine, form([child], world.roomy))


def test_outside_window_waits_in_intake_pool(engine, world):
    """placement.md §4 W1/W2 (3.2.4): outside the 6-month window → intake pool."""
    child, _ = applicant(engine, birth=date(2024, 5, 1))
    app_id, _ = submit(engine, form([child], world.roomy, start=LATE))
    with work(engine) as s:
        app = s.get(Application, app_id)
        assert app.state == ApplicationState.INTAKE_POOL
        assert app.window_entry == date(2028, 2, 1)
        assert [e.kind for e in events(s, app_id)] == ["ApplicationSubmitted", "IntakePooled"]


# ---------------------------------------------------------------- routing (§6)


def test_free_place_routes_to_first_preference(engine, world):
    """placement.md §6 R1/R2 (3.6.5): a free place at WE 1 → review there, deadline set."""
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.small, world.roomy))
    with work(engine) as s:
        app = s.get(Application, app_id)
        assert (app.state, app.current_facility_id, app.current_rank) == (
            ApplicationState.AT_FACILITY, world.small, 1)
        assert app.review_due_on == date(2027, 3, 15)
        assert entries(s, app_id) == {}


def test_full_preference_waitlists_and_forwards(engine, world):
    """placement.md §6 R2 (3.2.1): WE 1 full → its waiting list, on to WE 2."""
    fill(engine, world.small, 1)
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.small, world.roomy))
    with work(engine) as s:
        app = s.get(Application, app_id)
        assert (app.current_facility_id, app.current_rank) == (world.roomy, 2)
        assert entries(s, app_id) == {world.small: WaitingStatus.WAITING}
        kinds = [e.kind for e in events(s, app_id)]
        assert kinds == ["ApplicationSubmitted", "Waitlisted", "RoutedToFacility"]


def test_all_full_goes_to_central_pool(engine, world):
    """placement.md §6 R7, §10 (3.4.4): after the last WE → central pool, entries stay."""
    fill(engine, world.small, 1)
    fill(engine, world.other, 2)
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.small, world.other))
    with work(engine) as s:
        assert s.get(Application, app_id).state == ApplicationState.POOL
        assert set(entries(s, app_id)) == {world.small, world.other}


def test_grace_period_counts_place_freed_soon_after_start(engine, world):
    """placement.md §5 (3.2.4, D1): a place free within 30 days after the start counts."""
    with work(engine) as s:
        from ekita.core.services import contracts
        c, g = add_applicant(s, 501, KG_BIRTH)
        contracts.create_contract(s, {
            "child_id": c, "facility_id": world.small, "care_type": CareType.KINDERGARTEN,
            "start_date": date(2026, 1, 1), "end_date": date(2027, 8, 20),
            "daily_hours": Decimal("8"), "payer_guardian_id": g,
            "payer_kind": PayerKind.DIRECT_DEBIT})
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.small))
    with work(engine) as s:
        assert s.get(Application, app_id).current_facility_id == world.small
    strict = PlacementRules(grace_days=0)
    child2, _ = applicant(engine, 2)
    with work(engine, as_role(Role.ZVS)) as s:
        app, _ = apps.submit(s, form([child2], world.small), strict, ON)
        assert app.state == ApplicationState.POOL


def test_sibling_in_first_preference_not_forwarded(engine, world):
    """placement.md §6 R3 (3.2.6): sibling flag and WE 1 full → stays at WE 1 for the head."""
    fill(engine, world.small, 1)
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.small, world.roomy,
                                    sibling_in_first_preference=True))
    with work(engine) as s:
        app = s.get(Application, app_id)
        assert (app.state, app.current_facility_id) == (ApplicationState.AT_FACILITY,
                                                        world.small)
        assert entries(s, app_id) == {world.small: WaitingStatus.WAITING}


def test_integration_goes_to_first_preference_regardless_of_window(engine, world):
    """placement.md §4 W4, §6 R3 (3.2.5): integration need → WE 1 at once, with an alert."""
    child, _ = applicant(engine, birth=date(2024, 5, 1))
    app_id, _ = submit(engine, form([child], world.integration, start=LATE,
                                    integration_need=True))
    with work(engine) as s:
        app = s.get(Application, app_id)
        assert (app.state, app.current_facility_id) == (ApplicationState.AT_FACILITY,
                                                        world.integration)
        assert events(s, app_id, "IntegrationAlert")


def test_integration_needs_integration_facility(engine, world):
    """placement.md §3.10 (Anlage I): integration need restricts to integration facilities."""
    child, _ = applicant(engine)
    with pytest.raises(RuleViolation, match="integration"):
        submit(engine, form([child], world.roomy, integration_need=True))


def test_switch_goes_to_zvs_review_then_released_with_priority(engine, world):
    """placement.md §11 (3.2.2, 3.4.3): switch → ZVS review list; the ZVS sets the priority
    and releases it; the reason is mandatory."""
    child, _ = applicant(engine)
    with pytest.raises(RuleViolation, match="reason"):
        submit(engine, form([child], world.roomy, is_switch=True))
    app_id, _ = submit(engine, form([child], world.roomy, is_switch=True,
                                    switch_reason="Umzug"))
    with work(engine, as_role(Role.ZVS)) as s:
        assert s.get(Application, app_id).state == ApplicationState.ZVS_REVIEW
        app, _ = apps.zvs_release(s, app_id, RULES, priority=1, on=ON)
        assert (app.state, app.zvs_priority) == (ApplicationState.AT_FACILITY, 1)


def test_multiple_children_need_places_for_all(engine, world):
    """placement.md §3.6 (3.3.2): siblings in one application need a place each at one WE."""
    fam_child, _ = applicant(engine, 1)
    with work(engine) as s:
        family = s.get(__import__("ekita.core.models", fromlist=["Child"]).Child,
                       fam_child).family_id
    twin, _ = applicant(engine, 2, family_id=family)
    app_id, _ = submit(engine, form([fam_child, twin], world.small, world.other))
    with work(engine) as s:
        app = s.get(Application, app_id)
        assert app.current_facility_id == world.other  # small has only 1 Kindergarten place
        assert entries(s, app_id) == {world.small: WaitingStatus.WAITING}


# ---------------------------------------------------------------- reservation, contract (§8)


def reserve_and_sign(engine, app_id: int, facility_id: int, guardian: int):
    lead = as_role(Role.FACILITY_LEAD, facility_id=facility_id)
    with work(engine, lead) as s:
        res.reserve(s, app_id, RULES, facility_id=facility_id, on=ON)
    with work(engine, lead) as s:
        return res.sign(s, app_id, payer_guardian_id=guardian,
                        payer_kind=PayerKind.DIRECT_DEBIT, on=ON)[1]


def test_reserve_then_sign_places_and_marks_elsewhere(engine, world):
    """placement.md §8 P1/P4, §7 L5 (3.6.6, 3.6.7): reserve with follow-up; the signed
    contract occupies the place, the application is placed, other entries placed_elsewhere."""
    fill(engine, world.small, 1)
    child, guardian = applicant(engine)
    app_id, _ = submit(engine, form([child], world.small, world.roomy))
    lead = as_role(Role.FACILITY_LEAD, facility_id=world.roomy)
    with work(engine, lead) as s:
        app, warnings = res.reserve(s, app_id, RULES, facility_id=world.roomy, on=ON)
        assert app.state == ApplicationState.RESERVED and warnings == []
        (r,) = s.scalars(select(Reservation)).all()
        assert r.follow_up_on == date(2027, 3, 15)
    with work(engine, lead) as s:
        app, made = res.sign(s, app_id, payer_guardian_id=guardian,
                             payer_kind=PayerKind.DIRECT_DEBIT, on=ON)
        assert (app.state, app.inactive_reason) == (ApplicationState.INACTIVE,
                                                    InactiveReason.PLACED)
        assert (app.placed_facility_id, app.placed_rank, app.placed_start) == (
            world.roomy, 2, START)
    with work(engine) as s:
        assert entries(s, app_id) == {world.small: WaitingStatus.PLACED_ELSEWHERE}
        contract = s.get(CareContract, made[0].id)
        assert (contract.facility_id, contract.child_id) == (world.roomy, child)
        assert s.scalar(select(Reservation.status)) == ReservationStatus.CONVERTED
        assert events(s, app_id, "ContractSigned") and events(s, app_id, "PlacedElsewhere")


def test_overbooking_only_with_flag_and_warns(engine, world):
    """placement.md §14.5 (3.7.1.3): over-occupying a full facility needs the explicit flag
    and answers with a warning."""
    fill(engine, world.small, 1)
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.small, sibling_in_first_preference=True))
    lead = as_role(Role.FACILITY_LEAD, facility_id=world.small)
    with pytest.raises(RuleViolation, match="overbook"), work(engine, lead) as s:
        res.reserve(s, app_id, RULES, facility_id=world.small, on=ON)
    with work(engine, lead) as s:
        _, warnings = res.reserve(s, app_id, RULES, facility_id=world.small, overbook=True,
                                  on=ON)
        assert warnings and "over-occupied" in warnings[0]
        assert s.scalar(select(Reservation.overbooked))


def test_children_of_one_application_placed_together(engine, world):
    """placement.md §3.6 (3.3.2): signing makes one contract per child, at one facility."""
    c1, g1 = applicant(engine, 1)
    with work(engine) as s:
        from ekita.core.models import Child
        family = s.get(Child, c1).family_id
        from ekita.core.services import people
        c2 = people.create_child(s, {"family_id": family, "family_name": "Antrag1",
                                     "first_name": "Zwei", "birth_date": KR_BIRTH}).id
        people.link_guardian(s, c2, {"guardian_id": g1})
    app_id, _ = submit(engine, form([c1, c2], world.roomy))
    made = reserve_and_sign(engine, app_id, world.roomy, g1)
    assert {(c.facility_id, c.care_type) for c in made} == {
        (world.roomy, CareType.KINDERGARTEN), (world.roomy, CareType.KRIPPE)}


def test_decline_with_interest_continues_at_next_preference(engine, world):
    """placement.md §8 P3 (Anlage I): parents decline → place free, routing goes on at k+1."""
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.small, world.roomy))
    lead = as_role(Role.FACILITY_LEAD, facility_id=world.small)
    with work(engine, lead) as s:
        res.reserve(s, app_id, RULES, facility_id=world.small, on=ON)
    with work(engine, lead) as s:
        app = res.release_reservation(s, app_id, res.ReleaseOutcome.DECLINED_CONTINUE, RULES, ON)
    with work(engine) as s:
        app = s.get(Application, app_id)
        assert (app.state, app.current_facility_id) == (ApplicationState.AT_FACILITY,
                                                        world.roomy)
        assert s.scalar(select(Reservation.status)) == ReservationStatus.RELEASED
        assert events(s, app_id, "Refused")


def test_refusal_without_interest_inactivates(engine, world):
    """placement.md §8 P3: declined, no further interest → INACTIVE(DECLINED)."""
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.roomy))
    lead = as_role(Role.FACILITY_LEAD, facility_id=world.roomy)
    with work(engine, lead) as s:
        res.reserve(s, app_id, RULES, facility_id=world.roomy, on=ON)
    with work(engine, lead) as s:
        app = res.release_reservation(s, app_id, res.ReleaseOutcome.DECLINED_NO_INTEREST,
                                      RULES, ON)
        assert app.inactive_reason == InactiveReason.DECLINED


def test_head_forwards_when_no_place(engine, world):
    """placement.md §6 R6 (Anlage I): the head has no place → her list, on to k+1."""
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.small, world.roomy))
    with work(engine, as_role(Role.FACILITY_LEAD, facility_id=world.small)) as s:
        app = res.forward(s, app_id, RULES, ON)
        assert app.current_facility_id == world.roomy
    with work(engine) as s:
        assert entries(s, app_id) == {world.small: WaitingStatus.WAITING}


def test_other_head_cannot_reserve(engine, world):
    """data-protection R1/R2: a head reserves only at her own facility."""
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.roomy))
    from ekita.core.errors import NotFound
    with pytest.raises((Forbidden, NotFound)), work(
            engine, as_role(Role.FACILITY_LEAD, facility_id=world.other)) as s:
        res.reserve(s, app_id, RULES, facility_id=world.roomy, on=ON)


# ---------------------------------------------------------------- edits, deletion (§12)


def test_edit_same_preferences_continues(engine, world):
    """placement.md §12 C2 (3.3.4): unchanged preferences → the application stays where it is."""
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.small, world.roomy))
    with work(engine, as_role(Role.ZVS)) as s:
        app, _ = apps.edit(s, app_id, {"daily_hours": Decimal("7")}, RULES, ON)
        assert (app.current_facility_id, app.daily_hours) == (world.small, Decimal("7"))
        assert not events(s, app_id, "RoutingRestarted")


def test_edit_changed_preferences_restarts_routing(engine, world):
    """placement.md §12 C3 (3.3.4): changed preferences → off all lists, routing restarts."""
    fill(engine, world.small, 1)
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.small, world.roomy))
    with work(engine, as_role(Role.ZVS)) as s:
        app, _ = apps.edit(s, app_id, {"preferences": [{"facility_id": world.other}]}, RULES, ON)
        assert (app.current_facility_id, app.current_rank) == (world.other, 1)
    with work(engine) as s:
        assert entries(s, app_id) == {world.small: WaitingStatus.REMOVED}
        assert events(s, app_id, "RoutingRestarted")


def test_no_edit_once_reserved(engine, world):
    """placement.md §12 C4 (3.3.4, D2): no changes once a place is reserved."""
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.roomy))
    with work(engine, as_role(Role.FACILITY_LEAD, facility_id=world.roomy)) as s:
        res.reserve(s, app_id, RULES, facility_id=world.roomy, on=ON)
    with pytest.raises(RuleViolation, match="reserved"), work(engine, as_role(Role.ZVS)) as s:
        apps.edit(s, app_id, {"daily_hours": Decimal("7")}, RULES, ON)


def test_delete_releases_reservation_and_informs_facility(engine, world):
    """placement.md §12 C5 (3.3.5): deletion keeps the application as WITHDRAWN, releases the
    reserved place and informs the facility."""
    child, _ = applicant(engine)
    app_id, _ = submit(engine, form([child], world.roomy))
    with work(engine, as_role(Role.FACILITY_LEAD, facility_id=world.roomy)) as s:
        res.reserve(s, app_id, RULES, facility_id=world.roomy, on=ON)
    with work(engine, as_role(Role.ZVS)) as s:
        app = apps.withdraw(s, app_id, ON)
        assert app.inactive_reason == InactiveReason.WITHDRAWN
    with work(engine) as s:
        assert s.scalar(select(Reservation.status)) == ReservationStatus.RELEASED
        (informed,) = events(s, app_id, "FacilityInformed")
        assert informed.facility_id == world.roomy


# ---------------------------------------------------------------- tick (§4, R8, P2)


def test_tick_routes_window_entry_and_is_idempotent(engine, world):
    """placement.md §4 W2/W3, §6 R8, §8 P2: the tick re-checks, routes, alerts; twice the
    same date changes nothing."""
    child, _ = applicant(engine, birth=date(2024, 5, 1))
    app_id, _ = submit(engine, form([child], world.roomy, start=LATE))
    seen: list[list[int]] = []
    recheck_day = date(2028, 1, 2)  # within 5 weeks of the window entry (2028-02-01)
    with work(engine) as s:
        report = tick(s, recheck_day, RULES, recheck=lambda _s, ids, _on: seen.append(ids))
        assert report.recheck_requested == 1 and seen == [[app_id]]
    with work(engine) as s:
        report = tick(s, date(2028, 2, 1), RULES)
        assert report.entered_window == 1 and report.routed_to_facility == 1
        assert s.get(Application, app_id).current_facility_id == world.roomy
    with work(engine) as s:
        before = s.scalar(select(func.count(DomainEvent.id)))
        report = tick(s, date(2028, 2, 1), RULES)
        assert report.entered_window == 0
        assert s.scalar(select(func.count(DomainEvent.id))) == before
    with work(engine) as s:
        report = tick(s, date(2028, 2, 15), RULES)
        assert report.reviews_overdue == 1
        (alert,) = events(s, app_id, "ReviewOverdue")
        assert alert.facility_id == world.roomy
        again = tick(s, date(2028, 2, 15), RULES)
        assert again.reviews_overdue == 0
