"""A small city for tests: two carriers, three facilities, children at each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from ekita.core.models.enums import (
    CareType,
    CarrierCategory,
    CarrierType,
    ContactKind,
    ContactVisibility,
    LegalForm,
    PayerKind,
)
from ekita.core.services import contracts, masterdata, people
from tests.conftest import work

START = date(2020, 1, 1)


@dataclass
class World:
    municipal: int
    independent: int
    facility_m: int  # municipal facility
    facility_b1: int  # facilities of the independent carrier
    facility_b2: int
    children: dict[int, list[int]]  # facility id -> child ids
    guardians: dict[int, int]  # child id -> guardian id
    contracts: dict[int, int]  # child id -> contract id
    families: dict[int, int]  # child id -> family id


def carrier_data(name: str, category: CarrierCategory = CarrierCategory.INDEPENDENT) -> dict:
    municipal = category == CarrierCategory.MUNICIPAL
    return {"name": name, "category": category,
            "carrier_type": CarrierType.JUGENDAMT if municipal else CarrierType.DIAKONIE,
            "legal_form": LegalForm.EIGENBETRIEB if municipal else LegalForm.GEMEINNUETZIGER_VEREIN}


def facility_data(carrier_id: int, name: str, cost_centre: str, stadtteil: str = "01") -> dict:
    return {"carrier_id": carrier_id, "name": name, "cost_centre": cost_centre,
            "street": "Hauptstraße", "house_no": "1", "postcode": "01067",
            "stadtteil_nr": stadtteil}


def add_child(session, facility_id: int, n: int, birth: date | None = None,
              care_type: CareType = CareType.KINDERGARTEN) -> tuple[int, int, int, int]:
    family = people.create_family(session, {})
    child = people.create_child(session, {
        "family_id": family.id, "family_name": f"Muster{n}", "first_name": "Kind",
        "birth_date": birth or date.today() - timedelta(days=4 * 365),
        "health_notes": "asthma", "emergency_contact": "Oma 0351 1"})
    guardian = people.create_guardian(session, {
        "family_id": family.id, "family_name": f"Muster{n}", "first_name": "Elter",
        "employer": "Firma GmbH",
        "contacts": [
            {"kind": ContactKind.PHONE, "value": "0351 111", "visibility":
             ContactVisibility.EMERGENCY},
            {"kind": ContactKind.EMAIL, "value": f"e{n}@example.org",
             "visibility": ContactVisibility.ADMINISTRATIVE}]})
    people.link_guardian(session, child.id, {"guardian_id": guardian.id})
    contract = contracts.create_contract(session, {
        "child_id": child.id, "facility_id": facility_id, "care_type": care_type,
        "start_date": START, "daily_hours": Decimal("9"), "payer_guardian_id": guardian.id,
        "payer_kind": PayerKind.DIRECT_DEBIT})
    return child.id, guardian.id, contract.id, family.id


def build_world(engine: Engine) -> World:
    with work(engine) as s:
        m = masterdata.create_carrier(s, carrier_data("EB Kita", CarrierCategory.MUNICIPAL))
        b = masterdata.create_carrier(s, carrier_data("Diakonie Kitas"))
        fm = masterdata.create_facility(s, facility_data(m.id, "Kita Sonnenschein", "KST-M1"))
        fb1 = masterdata.create_facility(s, facility_data(b.id, "Kita Regenbogen", "KST-B1", "02"))
        fb2 = masterdata.create_facility(s, facility_data(b.id, "Hort Elbwiese", "KST-B2", "21"))
        for f in (fm, fb1, fb2):
            masterdata.add_care_offer(s, f.id, {"care_type": CareType.KINDERGARTEN,
                                                "approved_places": 50, "valid_from": START})
        world = World(m.id, b.id, fm.id, fb1.id, fb2.id, {}, {}, {}, {})
        n = 0
        for f in (fm, fb1, fb2):
            world.children[f.id] = []
            for _ in range(2):
                n += 1
                child, guardian, contract, family = add_child(s, f.id, n)
                world.children[f.id].append(child)
                world.guardians[child] = guardian
                world.contracts[child] = contract
                world.families[child] = family
    return world


# ---------------------------------------------------------------- places and statistics


def add_facility(session, carrier_id: int, name: str, places: dict[CareType, int],
                 stadtteil: str = "01", valid_from: date = START, **extra) -> int:
    """A facility with open-ended capacities per care type (extra: facility fields)."""
    facility = masterdata.create_facility(session, {
        **facility_data(carrier_id, name, f"KST-{name[:14]}", stadtteil), **extra})
    for care_type, count in places.items():
        masterdata.add_care_offer(session, facility.id, {
            "care_type": care_type, "approved_places": count, "valid_from": valid_from})
    return facility.id


def place_child(session, facility_id: int, care_type: CareType, birth: date,
                start: date = START, end: date | None = None, company: bool = False,
                deferred: bool = False, n: int = 0) -> int:
    """A child with one guardian and a contract at the facility; returns the child id."""
    family = people.create_family(session, {})
    child = people.create_child(session, {
        "family_id": family.id, "family_name": f"Platz{n}", "first_name": f"K{family.id}",
        "birth_date": birth, "school_deferred": deferred})
    guardian = people.create_guardian(session, {
        "family_id": family.id, "family_name": f"Platz{n}", "first_name": "Elter"})
    people.link_guardian(session, child.id, {"guardian_id": guardian.id})
    contracts.create_contract(session, {
        "child_id": child.id, "facility_id": facility_id, "care_type": care_type,
        "start_date": start, "end_date": end, "daily_hours": Decimal("8"),
        "payer_guardian_id": guardian.id, "payer_kind": PayerKind.DIRECT_DEBIT,
        "company_reserved_place": company})
    return child.id


# -- placement (issue 3) ----------------------------------------------------------------------


@dataclass
class PlacementWorld:
    """Four facilities for placement tests; capacities small enough to fill."""

    municipal: int
    independent: int
    small: int  # municipal: 1 Kindergarten + 1 Krippe place
    roomy: int  # municipal: 20 Kindergarten, 10 Krippe places
    integration: int  # independent: integration facility, 2 integration-Kindergarten places
    other: int  # independent: 2 Kindergarten places
    office: int  # a BVS-KTP


def build_placement_world(engine: Engine) -> PlacementWorld:
    with work(engine) as s:
        m = masterdata.create_carrier(s, carrier_data("EB Kita", CarrierCategory.MUNICIPAL))
        b = masterdata.create_carrier(s, carrier_data("Diakonie Kitas"))
        small = masterdata.create_facility(s, facility_data(m.id, "Kita Klein", "P-1"))
        roomy = masterdata.create_facility(s, facility_data(m.id, "Kita Gross", "P-2", "02"))
        integ = masterdata.create_facility(s, facility_data(b.id, "Kita Inklusiv", "P-3", "21"))
        other = masterdata.create_facility(s, facility_data(b.id, "Kita Anders", "P-4", "21"))
        integ.integration_facility = True
        offers = [(small, CareType.KINDERGARTEN, 1), (small, CareType.KRIPPE, 1),
                  (roomy, CareType.KINDERGARTEN, 20), (roomy, CareType.KRIPPE, 10),
                  (integ, CareType.INTEGRATION_KINDERGARTEN, 2), (integ, CareType.KINDERGARTEN, 2),
                  (other, CareType.KINDERGARTEN, 2)]
        for f, care_type, places in offers:
            masterdata.add_care_offer(s, f.id, {"care_type": care_type, "approved_places": places,
                                                "valid_from": START})
        office = masterdata.create_office(s, {"name": "BVS-KTP Nord"})
        return PlacementWorld(m.id, b.id, small.id, roomy.id, integ.id, other.id, office.id)


def add_applicant(session, n: int, birth: date, family_id: int | None = None
                  ) -> tuple[int, int]:
    """A child without a contract and its guardian: (child id, guardian id)."""
    if family_id is None:
        family_id = people.create_family(session, {}).id
    child = people.create_child(session, {"family_id": family_id, "family_name": f"Antrag{n}",
                                          "first_name": "Kind", "birth_date": birth})
    guardian = people.create_guardian(session, {"family_id": family_id,
                                                "family_name": f"Antrag{n}",
                                                "first_name": "Elter"})
    people.link_guardian(session, child.id, {"guardian_id": guardian.id})
    return child.id, guardian.id
