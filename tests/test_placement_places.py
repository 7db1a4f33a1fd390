"""Free places and the place ledger (placement.md §5, §13, §14, §16; Lastenheft 3.6.10,
3.6.16, 3.6.17, 3.6.19; decisions D8)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from ekita.core.models import Application, CareContract, Child, Reservation
from ekita.core.models.enums import (
    CareType,
    CarrierCategory,
    FacilityStatus,
    NotificationChannel,
    Role,
)
from ekita.core.models.placement import ApplicationState, ReservationStatus
from ekita.core.services import contracts, masterdata
from ekita.core.services.placement.occupancy import (
    PlaceLedger,
    age_in_months,
    completed_by,
    month_anniversary,
    school_leaving_day,
)
from ekita.core.services.placement.rules import PlacementRules
from tests.conftest import as_role, work
from tests.world import add_facility, carrier_data, place_child

KRIPPE, KIGA, HORT = CareType.KRIPPE, CareType.KINDERGARTEN, CareType.HORT
RULES = PlacementRules()
FROM, TO = date(2024, 1, 1), date(2025, 12, 31)
births = st.dates(date(2000, 1, 1), date(2030, 12, 31))


# ---------------------------------------------------------------- age arithmetic


@given(births, st.dates(date(2000, 1, 1), date(2040, 12, 31)), st.integers(0, 400))
def test_age_in_months_is_monotone_in_the_date(birth: date, on: date, later: int) -> None:
    """Lastenheft 3.6.16: "Lebensmonat vollendet" never goes backwards as time passes."""
    assert age_in_months(birth, on) <= age_in_months(birth, on + timedelta(days=later))


@given(births, st.integers(0, 10))
def test_age_in_months_is_twelve_times_the_years_on_birthdays(birth: date, years: int) -> None:
    """Lastenheft 3.6.16/3.6.17: on the n-th birthday the child has completed 12·n months."""
    try:
        birthday = birth.replace(year=birth.year + years)
    except ValueError:  # born on 29 February, no such day that year
        return
    assert age_in_months(birth, birthday) == 12 * years
    if years:
        assert age_in_months(birth, birthday - timedelta(days=1)) == 12 * years - 1


@given(births, st.integers(1, 120))
def test_month_anniversary_is_the_first_day_with_the_completed_months(
        birth: date, months: int) -> None:
    """Lastenheft 3.6.16: earliest change date = first day after the completed month."""
    day = month_anniversary(birth, months)
    assert age_in_months(birth, day) == months
    assert age_in_months(birth, day - timedelta(days=1)) == months - 1


def test_completed_by_counts_the_day_of_birth() -> None:
    """Lastenheft 3.6.17 with BGB §187(2): born 1 July, the 6th year is completed by 30 June."""
    assert completed_by(date(2020, 7, 1), 72, date(2026, 6, 30))
    assert not completed_by(date(2020, 7, 2), 72, date(2026, 6, 30))


@pytest.mark.parametrize(("birth", "cutoff", "deferred", "leaves"), [
    (date(2020, 7, 1), "06-30", False, date(2026, 8, 1)),
    (date(2020, 7, 2), "06-30", False, date(2027, 8, 1)),
    (date(2020, 9, 15), "09-30", False, date(2026, 8, 1)),
    (date(2020, 10, 1), "09-30", False, date(2026, 8, 1)),
    (date(2020, 10, 2), "09-30", False, date(2027, 8, 1)),
    (date(2020, 3, 1), "06-30", True, date(2027, 8, 1)),
])
def test_school_leaving_day_follows_the_configured_cutoff(
        birth: date, cutoff: str, deferred: bool, leaves: date) -> None:
    """Lastenheft 3.6.17: age 6 by 30.06 or 30.09 (configurable); Schulrücksteller a year
    later; the Kindergarten place is free on 1 August (placement.md §16.5)."""
    assert school_leaving_day(birth, cutoff, deferred) == leaves


# ---------------------------------------------------------------- the ledger


def _carrier(s) -> int:  # type: ignore[no-untyped-def]
    return masterdata.create_carrier(s, carrier_data("EB Kita", CarrierCategory.MUNICIPAL)).id


def _reserve(s, facility_id: int, child_id: int, family_id: int, care_type: CareType,  # type: ignore[no-untyped-def]
             starts_on: date, status: ReservationStatus = ReservationStatus.ACTIVE) -> None:
    now = datetime.now(UTC)
    app = Application(
        family_id=family_id, state=ApplicationState.RESERVED, desired_start=starts_on,
        window_entry=starts_on - timedelta(days=180), daily_hours=Decimal("8"),
        notification_channel=NotificationChannel.EMAIL, consent_privacy_at=now,
        consent_transfer_at=now, consent_terms_at=now, submitted_at=now,
        submitted_on=starts_on - timedelta(days=200))
    s.add(app)
    s.flush()
    s.add(Reservation(application_id=app.id, child_id=child_id, facility_id=facility_id,
                      care_type=care_type, starts_on=starts_on,
                      follow_up_on=starts_on, status=status))


def _ledger(engine, rules: PlacementRules = RULES, principal=None) -> PlaceLedger:  # type: ignore[no-untyped-def]
    with work(engine, *([principal] if principal else [])) as s:
        return PlaceLedger.load(s, FROM, TO, rules)


def test_free_is_capacity_minus_contracts_and_reservations(engine) -> None:
    """placement.md §14.7, Lastenheft 3.6.10: free = approved places − contracts running that
    day − active reservations starting on or before it; released ones do not count."""
    with work(engine) as s:
        fid = add_facility(s, _carrier(s), "Kita Eins", {KIGA: 3})
        child = place_child(s, fid, KIGA, date(2021, 1, 10), start=date(2023, 1, 1))
        place_child(s, fid, KIGA, date(2021, 2, 10), start=date(2024, 3, 1),
                    end=date(2024, 6, 30))
        family = s.get(Child, child).family_id
        _reserve(s, fid, child, family, KIGA, date(2024, 9, 1))
        _reserve(s, fid, child, family, KIGA, date(2024, 2, 1), ReservationStatus.RELEASED)
    ledger = _ledger(engine)
    assert ledger.free(fid, KIGA, date(2024, 1, 15)) == 2
    assert ledger.free(fid, KIGA, date(2024, 3, 1)) == 1
    assert ledger.free(fid, KIGA, date(2024, 7, 1)) == 2
    assert ledger.free(fid, KIGA, date(2024, 9, 1)) == 1
    assert ledger.free(fid, KRIPPE, date(2024, 9, 1)) == 0
    ledger.add_reservation(fid, KIGA, date(2024, 10, 1))
    assert ledger.free(fid, KIGA, date(2024, 10, 1)) == 0


def test_capacity_counts_only_within_its_validity(engine) -> None:
    """placement.md §14.3: capacities are dated; a care type ends with its offer."""
    with work(engine) as s:
        carrier = _carrier(s)
        fid = add_facility(s, carrier, "Kita Zwei", {})
        masterdata.add_care_offer(s, fid, {"care_type": KIGA, "approved_places": 10,
                                           "valid_from": date(2020, 1, 1),
                                           "valid_to": date(2024, 4, 30)})
        masterdata.add_care_offer(s, fid, {"care_type": KIGA, "approved_places": 12,
                                           "valid_from": date(2024, 5, 1)})
        masterdata.add_care_offer(s, fid, {"care_type": HORT, "approved_places": 20,
                                           "valid_from": date(2020, 1, 1),
                                           "valid_to": date(2024, 7, 31)})
    ledger = _ledger(engine)
    assert ledger.free(fid, KIGA, date(2024, 4, 30)) == 10
    assert ledger.free(fid, KIGA, date(2024, 5, 1)) == 12
    assert ledger.offered(fid, HORT, date(2024, 7, 31))
    assert not ledger.offered(fid, HORT, date(2024, 8, 1))
    assert ledger.free(fid, HORT, date(2024, 8, 1)) == 0


@pytest.mark.parametrize("switch_month", [34, 36])
def test_krippe_child_moves_to_kindergarten_after_the_configured_month(
        engine, switch_month: int) -> None:
    """Lastenheft 3.6.10, 3.6.16: a Krippe child leaves its Krippe place after completing the
    configured month (34–36) and takes a Kindergarten place at its facility."""
    birth = date(2021, 5, 10)
    moves = month_anniversary(birth, switch_month)
    with work(engine) as s:
        fid = add_facility(s, _carrier(s), "Kita Drei", {KRIPPE: 5, KIGA: 10})
        place_child(s, fid, KRIPPE, birth, start=date(2022, 6, 1))
    ledger = _ledger(engine, PlacementRules(kindergarten_switch_month=switch_month))
    day_before = moves - timedelta(days=1)
    assert (ledger.free(fid, KRIPPE, day_before), ledger.free(fid, KIGA, day_before)) == (4, 10)
    assert (ledger.free(fid, KRIPPE, moves), ledger.free(fid, KIGA, moves)) == (5, 9)


def test_krippe_child_of_a_pure_krippe_leaves_the_facility(engine) -> None:
    """Lastenheft 3.6.10: without a Kindergarten offer the child leaves; no place is taken."""
    birth = date(2021, 5, 10)
    with work(engine) as s:
        fid = add_facility(s, _carrier(s), "Krippe Vier", {KRIPPE: 5})
        place_child(s, fid, KRIPPE, birth, start=date(2022, 6, 1))
    ledger = _ledger(engine)
    moves = month_anniversary(birth, 36)
    assert ledger.free(fid, KRIPPE, moves) == 5
    assert ledger.free(fid, KIGA, moves) == 0
    assert ledger.care_types(fid) == [KRIPPE]


def test_recorded_kindergarten_contract_is_not_counted_twice(engine) -> None:
    """Lastenheft 3.6.16: a change already executed (new Kindergarten contract) replaces the
    planned one."""
    birth = date(2021, 5, 10)
    moves = month_anniversary(birth, 36)
    with work(engine) as s:
        fid = add_facility(s, _carrier(s), "Kita Fünf", {KRIPPE: 5, KIGA: 10})
        child = place_child(s, fid, KRIPPE, birth, start=date(2022, 6, 1),
                            end=moves - timedelta(days=1))
        first = s.scalars(select(CareContract).where(CareContract.child_id == child)).one()
        contracts.create_contract(s, {
            "child_id": child, "facility_id": fid, "care_type": KIGA, "start_date": moves,
            "daily_hours": Decimal("8"), "payer_guardian_id": first.payer_guardian_id,
            "payer_kind": first.payer_kind})
    ledger = _ledger(engine)
    assert ledger.free(fid, KIGA, moves) == 9
    assert ledger.free(fid, KRIPPE, moves) == 5


def test_school_children_leave_on_31_july_unless_deferred(engine) -> None:
    """Lastenheft 3.6.17, 3.6.10: school leavers free their place on 1 August; a
    Schulrücksteller keeps it for one more year."""
    with work(engine) as s:
        fid = add_facility(s, _carrier(s), "Kita Sechs", {KIGA: 10})
        place_child(s, fid, KIGA, date(2018, 3, 1), start=date(2021, 4, 1))
        place_child(s, fid, KIGA, date(2018, 4, 1), start=date(2021, 5, 1), deferred=True)
    ledger = _ledger(engine)
    assert ledger.free(fid, KIGA, date(2024, 7, 31)) == 8
    assert ledger.free(fid, KIGA, date(2024, 8, 1)) == 9
    assert ledger.free(fid, KIGA, date(2025, 8, 1)) == 10


def test_september_cutoff_sends_autumn_children_to_school(engine) -> None:
    """Lastenheft 3.6.17: with the 30 September cut-off a child born in September leaves."""
    with work(engine) as s:
        fid = add_facility(s, _carrier(s), "Kita Sieben", {KIGA: 10})
        place_child(s, fid, KIGA, date(2018, 9, 10), start=date(2021, 10, 1))
    june = _ledger(engine)
    september = _ledger(engine, PlacementRules(school_entry_cutoff="09-30"))
    assert june.free(fid, KIGA, date(2024, 8, 1)) == 9
    assert september.free(fid, KIGA, date(2024, 8, 1)) == 10


def test_unused_company_places_are_not_free_for_placement(engine) -> None:
    """placement.md §13, §14.7, Lastenheft 3.6.2/3.6.10: reserved company capacity is kept
    apart; only its unused part is deducted, and it is reported separately."""
    with work(engine) as s:
        fid = add_facility(s, _carrier(s), "Kita Acht", {KRIPPE: 4, KIGA: 10},
                           company_reserved_places=2)
        place_child(s, fid, KIGA, date(2021, 1, 5), start=date(2023, 1, 1), company=True)
        place_child(s, fid, KIGA, date(2021, 2, 5), start=date(2023, 1, 1))
    ledger = _ledger(engine)
    day = date(2024, 2, 1)
    assert ledger.company_occupied[(fid, KIGA)].at(day) == 1
    assert ledger.company_unused[fid].at(day) == 1
    assert ledger.free(fid, KIGA, day) == 10 - 2 - 1
    assert ledger.free(fid, KRIPPE, day) == 4 - 1


def test_flexible_facility_counts_its_total_capacity(engine) -> None:
    """decisions D8, Lastenheft 3.6.19: a flexible facility allocates within its total
    capacity, but only care types it offers."""
    with work(engine) as s:
        carrier = _carrier(s)
        flex = add_facility(s, carrier, "Kita Neun", {KRIPPE: 2, KIGA: 3},
                            flexible_capacity=True)
        fixed = add_facility(s, carrier, "Kita Zehn", {KRIPPE: 2, KIGA: 3})
        for fid in (flex, fixed):
            for n in range(3):
                place_child(s, fid, KIGA, date(2020, 1, 1 + n), start=date(2023, 1, 1))
    ledger = _ledger(engine)
    day = date(2024, 2, 1)
    assert ledger.free(flex, KRIPPE, day) == 2
    assert ledger.free(flex, KIGA, day) == 2
    assert ledger.free(fixed, KIGA, day) == 0
    assert ledger.free(flex, HORT, day) == 0


def test_free_within_honours_the_grace_period(engine) -> None:
    """placement.md §5 (Kulanzzeit): a place that frees shortly after the start counts."""
    with work(engine) as s:
        fid = add_facility(s, _carrier(s), "Kita Elf", {KIGA: 1})
        place_child(s, fid, KIGA, date(2021, 1, 5), start=date(2023, 1, 1),
                    end=date(2024, 3, 10))
    ledger = _ledger(engine)
    start = date(2024, 3, 1)
    assert ledger.free(fid, KIGA, start) == 0
    assert ledger.free_within(fid, KIGA, start, 5) == 0
    assert ledger.free_within(fid, KIGA, start, 10) == 1
    assert ledger.free_within(fid, KIGA, start, 30) == 1
    ledger.add_reservation(fid, KIGA, date(2024, 3, 5))  # taken within the same tick
    assert ledger.free_within(fid, KIGA, start, 30) == 0


def test_permanently_closed_facility_has_no_free_places(engine) -> None:
    """placement.md §14.4: no placements after a permanent closure; a temporary closure
    keeps the facility routable (§14.5)."""
    with work(engine) as s:
        carrier = _carrier(s)
        closed = add_facility(s, carrier, "Kita Zwölf", {KIGA: 10})
        temporary = add_facility(s, carrier, "Kita Dreizehn", {KIGA: 10})
        masterdata.update_facility(s, closed, {"status": FacilityStatus.CLOSED,
                                               "closure_from": date(2024, 6, 1)})
        masterdata.update_facility(s, temporary, {
            "status": FacilityStatus.TEMPORARILY_CLOSED, "closure_from": date(2024, 6, 1),
            "closure_to": date(2024, 8, 31)})
    ledger = _ledger(engine)
    assert ledger.free(closed, KIGA, date(2024, 5, 31)) == 10
    assert ledger.free(closed, KIGA, date(2024, 6, 1)) == 0
    assert ledger.free(temporary, KIGA, date(2024, 7, 1)) == 10


def test_hort_contract_recorded_outside_placement_occupies_a_place(engine) -> None:
    """placement.md §13, Lastenheft 3.6.7.3: a Hort contract made at the facility, without an
    application, counts like any other contract."""
    with work(engine) as s:
        fid = add_facility(s, _carrier(s), "Hort Vierzehn", {HORT: 20})
        place_child(s, fid, HORT, date(2016, 5, 5), start=date(2023, 8, 1))
    lead = as_role(Role.FACILITY_LEAD, facility_id=fid)
    assert _ledger(engine, principal=lead).free(fid, HORT, date(2024, 1, 1)) == 19


def test_ledger_counts_contracts_outside_the_callers_scope(engine) -> None:
    """data-protection R1: tenant scoping thins personal records, not the aggregate place
    counts every role must get right."""
    with work(engine) as s:
        carrier = _carrier(s)
        fid = add_facility(s, carrier, "Kita Fünfzehn", {KIGA: 5})
        other = add_facility(s, carrier, "Kita Sechzehn", {KIGA: 5})
        place_child(s, fid, KIGA, date(2021, 1, 5), start=date(2023, 1, 1))
    lead = as_role(Role.FACILITY_LEAD, facility_id=other)
    assert _ledger(engine, principal=lead).free(fid, KIGA, date(2024, 1, 1)) == 4


def test_questions_outside_the_loaded_range_are_refused(engine) -> None:
    """The ledger answers only for the days it loaded (its transitions start there)."""
    ledger = _ledger(engine)
    with pytest.raises(ValueError, match="outside the loaded range"):
        ledger.free(1, KIGA, FROM - timedelta(days=1))
