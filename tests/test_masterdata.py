"""Master-data rules (Lastenheft 3.7.1, 3.14.1.4–9; data-model.md §2)."""

from __future__ import annotations

import itertools
from datetime import date, time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ekita.core.errors import Conflict, Forbidden, RuleViolation
from ekita.core.models import CareOffer
from ekita.core.models.enums import CareType, CarrierCategory, FacilityStatus, Role
from ekita.core.services import masterdata as svc
from tests.conftest import as_role, work
from tests.world import carrier_data, facility_data


@pytest.fixture
def facility(engine):
    with work(engine) as s:
        carrier = svc.create_carrier(s, carrier_data("AWO Kitas"))
        return svc.create_facility(s, facility_data(carrier.id, "Kita Elbflorenz", "K-1")).id


def offer(s, facility_id, start, end=None, care_type=CareType.KRIPPE, places=10):
    return svc.add_care_offer(s, facility_id, {"care_type": care_type, "approved_places": places,
                                               "valid_from": start, "valid_to": end})


def test_overlapping_capacity_for_same_offer_is_rejected(engine, facility):
    """3.7.1.2: capacities are dated; one offer's validity periods must not overlap."""
    with work(engine) as s:
        offer(s, facility, date(2025, 1, 1), date(2025, 12, 31))
        offer(s, facility, date(2026, 1, 1))  # follows without a gap: fine
    with pytest.raises(Conflict) as exc, work(engine) as s:
        offer(s, facility, date(2025, 6, 1), date(2025, 6, 30))
    assert exc.value.field == "valid_from" and "3.7.1.2" in exc.value.rule
    with work(engine) as s:  # another care type may share the dates
        offer(s, facility, date(2025, 6, 1), care_type=CareType.KINDERGARTEN)
        assert len(s.scalars(select(CareOffer)).all()) == 3


def test_care_offer_update_cannot_create_overlap(engine, facility):
    """3.7.1.2: the overlap rule also holds when a period is changed."""
    with work(engine) as s:
        first = offer(s, facility, date(2025, 1, 1), date(2025, 12, 31)).id
        offer(s, facility, date(2026, 1, 1))
    with pytest.raises(Conflict), work(engine) as s:
        svc.update_care_offer(s, first, {"valid_to": None})
    with work(engine) as s:
        assert s.get(CareOffer, first).valid_to == date(2025, 12, 31)  # nothing half-applied


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 30) | st.none()), min_size=1,
                max_size=8))
def test_accepted_offers_never_overlap(engine, facility, periods):
    """3.7.1.2, property: whatever periods are tried, the accepted ones are disjoint."""
    base = date(2030, 1, 1).toordinal()
    care_type = CareType.HORT
    with work(engine) as s:
        for row in s.scalars(select(CareOffer).where(CareOffer.care_type == care_type)):
            s.delete(row)
    for start, length in periods:
        begin = date.fromordinal(base + start * 10)
        end = None if length is None else date.fromordinal(begin.toordinal() + length * 10)
        try:
            with work(engine) as s:
                offer(s, facility, begin, end, care_type=care_type)
        except Conflict:
            pass
    with work(engine) as s:
        rows = s.scalars(select(CareOffer).where(CareOffer.care_type == care_type)
                         .order_by(CareOffer.valid_from)).all()
    for a, b in itertools.pairwise(rows):
        assert a.valid_to is not None and a.valid_to < b.valid_from


def test_childminder_capacity_at_most_five(engine):
    """3.5.2: a childminder cares for at most 5 children."""
    with work(engine) as s:
        office = svc.create_office(s, {"name": "BVS-KTP Nord"})
        cm = svc.create_childminder(s, {"office_id": office.id, "family_name": "Kurz",
                                        "first_name": "Anna", "cost_centre": "TPP-1",
                                        "stadtteil_nr": "11", "capacity": 5})
    with pytest.raises(RuleViolation) as exc, work(engine) as s:
        svc.update_childminder(s, cm.id, {"capacity": 6})
    assert exc.value.field == "capacity"


def test_facility_rules(engine, facility):
    """3.7.1.3 closures carry dates; 3.14.1.10 every address lies in a known Stadtteil."""
    with pytest.raises(RuleViolation) as exc, work(engine) as s:
        svc.update_facility(s, facility, {"status": FacilityStatus.TEMPORARILY_CLOSED})
    assert exc.value.field == "closure_from"
    with pytest.raises(RuleViolation) as exc, work(engine) as s:
        svc.update_facility(s, facility, {"stadtteil_nr": "08"})
    assert exc.value.field == "stadtteil_nr"
    with pytest.raises(RuleViolation), work(engine) as s:
        svc.update_facility(s, facility, {"opens_at": time(18), "closes_at": time(6)})
    with work(engine) as s:
        f = svc.update_facility(s, facility, {
            "status": FacilityStatus.TEMPORARILY_CLOSED, "closure_from": date(2027, 3, 1),
            "closure_to": date(2027, 9, 30), "replacement_site": "Kita Ersatzbau, Am Park 2"})
        assert f.stadtteil.bezirk == "Altstadt"


def test_only_eb_kita_creates_carriers_and_facilities(engine, facility):
    """3.14.1.4/5: carriers and facilities are created only by EB Kita."""
    with pytest.raises(Forbidden), work(engine, as_role(Role.CARRIER, carrier_id=1)) as s:
        svc.create_carrier(s, carrier_data("Neu"))
    with pytest.raises(Forbidden), work(engine, as_role(Role.FACILITY_LEAD, facility_id=facility)
                                        ) as s:
        svc.create_facility(s, facility_data(1, "X", "K-9"))


def test_facility_search_filters(engine, facility):
    """3.3.1: facilities searchable by district, Stadtbezirk, carrier, care type, name."""
    with work(engine) as s:
        m = svc.create_carrier(s, carrier_data("EB Kita", CarrierCategory.MUNICIPAL))
        other = svc.create_facility(s, {**facility_data(m.id, "Hort Pieschen", "K-2", "21"),
                                        "integration_facility": True})
        offer(s, other.id, date(2020, 1, 1), care_type=CareType.HORT)
        offer(s, facility, date(2020, 1, 1), date(2020, 12, 31))

        def names(**kw):
            return [f.name for f in s.scalars(svc.facility_query(**kw))]

        assert names(stadtbezirk="Pieschen") == ["Hort Pieschen"]
        assert names(stadtteil="01") == ["Kita Elbflorenz"]
        assert names(carrier_id=m.id) == ["Hort Pieschen"]
        assert names(integration=True) == ["Hort Pieschen"]
        assert names(q="elbflo") == ["Kita Elbflorenz"]
        assert names(care_type=CareType.HORT, on=date(2026, 1, 1)) == ["Hort Pieschen"]
        assert names(care_type=CareType.KRIPPE, on=date(2020, 6, 1)) == ["Kita Elbflorenz"]
        assert names(care_type=CareType.KRIPPE, on=date(2021, 6, 1)) == []
