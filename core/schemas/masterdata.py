"""Schemas of carriers, facilities, care offers and childminding."""

from __future__ import annotations

from datetime import date, time

from pydantic import EmailStr, Field

from ekita.core.models.enums import (
    CareType,
    CarrierCategory,
    CarrierType,
    FacilityStatus,
    LegalForm,
)
from ekita.core.schemas.common import (
    CostCentre,
    HouseNo,
    Iban,
    In,
    LongText,
    Name,
    Out,
    Phone,
    Postcode,
    Ref,
    Status,
    Street,
    Text,
    Town,
    partial,
)


class CarrierFields(In):
    name: Text
    name2: Text | None = None
    category: CarrierCategory
    carrier_type: CarrierType = Field(description="Anlage L 'Art des Trägers', codes 01-15")
    legal_form: LegalForm = Field(description="Anlage L 'Rechtsform', codes 01-11")
    street: Street | None = None
    house_no: HouseNo | None = None
    postcode: Postcode | None = None
    town: Town | None = None
    contact_person: Name | None = None
    phone: Phone | None = None
    fax: Phone | None = None
    email: EmailStr | None = None
    homepage: Text | None = None
    remark: LongText | None = None


CarrierPatch = partial(CarrierFields, "CarrierPatch")


class CarrierOut(Out, CarrierFields):
    id: int


class FacilityFields(In):
    carrier_id: Ref
    name: Text
    name2: Text | None = None
    cost_centre: CostCentre
    street: Street
    house_no: HouseNo
    postcode: Postcode
    town: Town = "Dresden"
    stadtteil_nr: str = Field(pattern=r"^\d{2}$")
    phone: Phone | None = None
    email: EmailStr | None = None
    homepage: Text | None = None
    head_name: Name | None = None
    opens_at: time | None = None
    closes_at: time | None = None
    profile: LongText | None = None
    permit_date: date | None = None
    integration_facility: bool = False
    barrier_free: bool = False
    company_reserved_places: int = Field(default=0, ge=0, le=10_000)
    flexible_capacity: bool = False
    in_bedarfsplan: bool = True
    status: FacilityStatus = FacilityStatus.OPEN
    closure_from: date | None = None
    closure_to: date | None = None
    replacement_site: Text | None = None
    remark: LongText | None = None


FacilityPatch = partial(FacilityFields, "FacilityPatch")

# Contact and concept data that a facility lead or the carrier maintains itself (3.14.1.5).
FACILITY_OWNER_FIELDS = frozenset(
    {
        "phone",
        "email",
        "homepage",
        "head_name",
        "opens_at",
        "closes_at",
        "profile",
        "remark",
        "barrier_free",
    }
)
CARRIER_OWNER_FIELDS = frozenset(
    {
        "name2",
        "street",
        "house_no",
        "postcode",
        "town",
        "contact_person",
        "phone",
        "fax",
        "email",
        "homepage",
        "remark",
    }
)


class FacilityOut(Out, FacilityFields):
    id: int
    stadtteil: str
    stadtbezirk: str
    carrier_name: str
    carrier_category: CarrierCategory


class CareOfferFields(In):
    care_type: CareType
    approved_places: int = Field(ge=0, le=10_000)
    cost_centre: CostCentre | None = None
    valid_from: date
    valid_to: date | None = None


CareOfferPatch = partial(CareOfferFields, "CareOfferPatch")


class CareOfferOut(Out, CareOfferFields):
    id: int
    facility_id: int


class ChildmindingOfficeFields(In):
    name: Text
    street: Street | None = None
    house_no: HouseNo | None = None
    postcode: Postcode | None = None
    town: Town | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    remark: LongText | None = None


class ChildmindingOfficeOut(Out, ChildmindingOfficeFields):
    id: int


class ChildminderFields(In):
    office_id: Ref
    family_name: Name
    first_name: Name
    cost_centre: CostCentre
    street: Street | None = None
    house_no: HouseNo | None = None
    postcode: Postcode | None = None
    stadtteil_nr: str = Field(pattern=r"^\d{2}$")
    phone: Phone | None = None
    email: EmailStr | None = None
    capacity: int = Field(ge=1, le=5, description="at most 5 children (Lastenheft 3.5.2)")
    status: Status = "active"
    permit_valid_to: date | None = None
    iban: Iban | None = None
    remark: LongText | None = None


ChildminderPatch = partial(ChildminderFields, "ChildminderPatch")


class ChildminderOut(Out, ChildminderFields):
    id: int


class StadtteilOut(Out):
    nr: str
    name: str
    bezirk: str
    art: str
    plz: str
