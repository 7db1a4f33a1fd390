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
