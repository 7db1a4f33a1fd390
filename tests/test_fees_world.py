"""Helpers for the fee tests (no tests here): a municipal facility, families, the statute."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from ekita.core import crypto
from ekita.core.models.enums import CareType, CarrierCategory, PayerKind
from ekita.core.models.fees import ReceivableLine
from ekita.core.outbox import declare_recipient
from ekita.core.services import contracts, masterdata, people
from ekita.core.services.fees.assessment import MonthAssessor
from ekita.core.services.fees.statutes import load_default
from tests.world import carrier_data, facility_data

#: The SAP-FI adapter's declared personal fields (shared contract of issue 7).
SAP_FI_FIELDS = {"pkn", "family_name", "first_name", "birth_date", "street", "house_no",
                 "postcode", "town", "iban", "bic", "account_holder", "iban_encrypted",
                 "holder", "bic_encrypted", "holder_encrypted"}
START = date(2011, 9, 1)


def prepare() -> None:
    declare_recipient("sap_fi", SAP_FI_FIELDS)
    if not crypto.configured():
        crypto.configure(crypto.generate_key())


@dataclass
class FeeCity:
    municipal: int
    independent: int
    kita: int  # municipal: Krippe, Kindergarten, Hort
    free_kita: int  # independent carrier


def build(s) -> FeeCity:
    prepare()
    m = masterdata.create_carrier(s, carrier_data("EB Kita", CarrierCategory.MUNICIPAL))
    b = masterdata.create_carrier(s, carrier_data("Freier Träger"))
    kita = masterdata.create_facility(s, facility_data(m.id, "Kita Elbe", "KST-100"))
    free = masterdata.create_facility(s, facility_data(b.id, "Kita Frei", "KST-900", "02"))
    for f in (kita, free):
        for care_type in (CareType.KRIPPE, CareType.KINDERGARTEN, CareType.HORT,
                          CareType.HEILPAEDAGOGISCH):
            masterdata.add_care_offer(s, f.id, {"care_type": care_type, "approved_places": 99,
                                                "valid_from": START})
    load_default(s)
    return FeeCity(m.id, b.id, kita.id, free.id)


@dataclass
class Family:
    id: int
    guardian: int
    children: list[int]
    contracts: list[int]


def family(s, facility_id: int, kids: list[tuple[date, CareType, str]], *,
           start: date = START, end: date | None = None, single: bool = False) -> Family:
    """A household with one guardian and one contract per (birth, care type, hours)."""
    fam = people.create_family(s, {})
    guardian = people.create_guardian(s, {"family_id": fam.id, "family_name": "Beitrag",
                                          "first_name": "Elter", "single_parent": single,
                                          "street": "Weg", "house_no": "1",
                                          "postcode": "01067", "town": "Dresden"})
    out = Family(fam.id, guardian.id, [], [])
    for n, (birth, care_type, hours) in enumerate(kids):
        child = people.create_child(s, {"family_id": fam.id, "family_name": "Beitrag",
                                        "first_name": f"Kind{n}", "birth_date": birth})
        people.link_guardian(s, child.id, {"guardian_id": guardian.id})
        out.children.append(child.id)
        out.contracts.append(add_contract(s, facility_id, child.id, guardian.id, care_type,
                                          hours, start, end))
    return out


def add_contract(s, facility_id: int, child_id: int, guardian_id: int, care_type: CareType,
                 hours: str, start: date = START, end: date | None = None) -> int:
    return contracts.create_contract(s, {
        "child_id": child_id, "facility_id": facility_id, "care_type": care_type,
        "start_date": start, "end_date": end, "daily_hours": Decimal(hours),
        "payer_guardian_id": guardian_id, "payer_kind": PayerKind.DIRECT_DEBIT}).id


def fees(s, month: date, contract_ids: list[int]) -> list[int]:
    """ELTERNBEITRAG in cents per contract for the month (0 when none)."""
    assessor = MonthAssessor(s, month)
    return [(assessor.for_contract(c).amount_cents if assessor.for_contract(c) else 0)
            for c in contract_ids]


def booked(s, period: str, contract_id: int) -> int:
    return sum(s.scalars(select(ReceivableLine.amount_cents).where(
        ReceivableLine.period == period, ReceivableLine.contract_id == contract_id)))
