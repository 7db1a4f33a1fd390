"""Care-contract rules (Lastenheft 3.14.2.2, Anlage B §4, 3.5, 3.6.2)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ekita.core.errors import RuleViolation
from ekita.core.models import CareContract
from ekita.core.models.enums import CareType, PayerKind
from ekita.core.services import contracts, masterdata, people
from tests.conftest import work
from tests.world import build_world


@pytest.fixture
def setup(engine):
    world = build_world(engine)
    child = world.children[world.facility_b1][0]
    base = {"child_id": child, "facility_id": world.facility_b1,
            "care_type": CareType.KINDERGARTEN, "start_date": date(2026, 9, 1),
            "daily_hours": Decimal("7.5"), "payer_guardian_id": world.guardians[child],
            "payer_kind": PayerKind.SELF_PAYER}
    return world, base


def refused(engine, data, field):
    with pytest.raises(RuleViolation) as exc, work(engine) as s:
        contracts.create_contract(s, data)
    assert exc.value.field == field, exc.value.message
    return exc.value


def test_valid_contract_keeps_decimal_hours(engine, setup):
    """3.14.2.2: daily care time is stored exactly (Decimal, never float)."""
    _world, base = setup
    with work(engine) as s:
        cid = contracts.create_contract(s, base).id
    with work(engine) as s:
        assert s.get(CareContract, cid).daily_hours == Decimal("7.50")


def test_hours_follow_the_care_time_tiers(engine, setup):
    """Anlage B §4: Krippe/Kindergarten 4.5–11 h, Hort 5–11 h."""
    _world, base = setup
    refused(engine, {**base, "daily_hours": Decimal("4")}, "daily_hours")
    refused(engine, {**base, "daily_hours": Decimal("11.5")}, "daily_hours")


def test_facility_must_offer_the_care_type_at_the_start(engine, setup):
    """3.7.1.2: a contract needs a care offer valid at its start."""
    _world, base = setup
    refused(engine, {**base, "care_type": CareType.KRIPPE}, "care_type")
    refused(engine, {**base, "start_date": date(2019, 1, 1)}, "care_type")


def test_payer_must_be_a_guardian_of_the_child(engine, setup):
    """3.14.2.2: the payer is one of the child's guardians (PSB)."""
    world, base = setup
    stranger = world.guardians[world.children[world.facility_m][0]]
    refused(engine, {**base, "payer_guardian_id": stranger}, "payer_guardian_id")


def test_period_and_party_rules(engine, setup):
    """3.14.2.2: end not before start; exactly one of facility or childminder."""
    _world, base = setup
    refused(engine, {**base, "end_date": date(2026, 8, 31)}, "end_date")
    refused(engine, {**base, "facility_id": None}, "facility_id")


def test_company_place_needs_reserved_places(engine, setup):
    """3.6.2: a Belegrecht place exists only where the facility reserves places."""
    world, base = setup
    refused(engine, {**base, "company_reserved_place": True}, "company_reserved_place")
    with work(engine) as s:
        masterdata.update_facility(s, world.facility_b1, {"company_reserved_places": 2})
        contracts.create_contract(s, {**base, "company_reserved_place": True})


def test_childminder_contract_is_childminding(engine, setup):
    """3.5: a childminding agreement is of care type Kindertagespflege."""
    _world, base = setup
    with work(engine) as s:
        office = masterdata.create_office(s, {"name": "BVS-KTP Süd"})
        cm = masterdata.create_childminder(s, {"office_id": office.id, "family_name": "Berg",
                                               "first_name": "Lea", "cost_centre": "TPP-9",
                                               "stadtteil_nr": "81", "capacity": 4})
    data = {**base, "facility_id": None, "childminder_id": cm.id}
    refused(engine, data, "care_type")
    with work(engine) as s:
        contracts.create_contract(s, {**data, "care_type": CareType.KINDERTAGESPFLEGE})


def test_refused_update_changes_nothing(engine, setup):
    """Bad input loses nothing: a refused change leaves the stored contract as it was."""
    world, _base = setup
    cid = next(iter(world.contracts.values()))
    with pytest.raises(RuleViolation), work(engine) as s:
        contracts.update_contract(s, cid, {"daily_hours": Decimal("3")})
    with work(engine) as s:
        assert s.get(CareContract, cid).daily_hours == Decimal("9")


def test_guardian_link_is_unique(engine, setup):
    """3.14.1.3: a guardian is linked to a child once."""
    world, _base = setup
    child = world.children[world.facility_b1][0]
    from ekita.core.errors import Conflict

    with pytest.raises(Conflict), work(engine) as s:
        people.link_guardian(s, child, {"guardian_id": world.guardians[child]})
