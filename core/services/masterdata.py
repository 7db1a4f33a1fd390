"""Carriers, facilities, care offers and childminding (3.7.1, 3.14.1.4–9).

Only EB Kita (``masterdata:write``) creates carriers and facilities and changes
capacities; carriers and facility leads maintain the contact and concept data of
their own facilities (3.14.1.5).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from ekita.core.access import Permission, Principal
from ekita.core.errors import Conflict, Forbidden, RuleViolation
from ekita.core.models import (
    CareContract,
    CareOffer,
    Carrier,
    Childminder,
    ChildmindingOffice,
    Facility,
    Stadtteil,
)
from ekita.core.models.enums import FACILITY_CARE_TYPES, CareType, FacilityStatus, Role
from ekita.core.schemas.masterdata import CARRIER_OWNER_FIELDS, FACILITY_OWNER_FIELDS
from ekita.core.services.base import apply, load, require
from ekita.core.services.registries import assign_district
from ekita.core.tracking import principal_of

# -- carriers -------------------------------------------------------------------------------


def create_carrier(session: Session, data: dict[str, Any]) -> Carrier:
    require(session, Permission.MASTERDATA_WRITE)
    carrier = Carrier(**data)
    session.add(carrier)
    session.flush()
    return carrier


def update_carrier(session: Session, carrier_id: int, data: dict[str, Any]) -> Carrier:
    carrier = load(session, Carrier, carrier_id)
    p = principal_of(session)
    if not p.can(Permission.MASTERDATA_WRITE):
        own = p.can(Permission.OWN_CARRIER_EDIT) and p.carrier_id == carrier_id
        if not own:
            raise Forbidden(
                f"carrier {carrier_id} is not yours",
                record="carrier",
                rule="carriers edit only their own data (3.15.2)",
            )
        _only_fields(data, CARRIER_OWNER_FIELDS, "carrier")
    apply(carrier, data)
    session.flush()
    return carrier


# -- facilities -----------------------------------------------------------------------------


def _check_stadtteil(session: Session, nr: str, record: str) -> None:
    """Every Dresden address lies in one of the statistical districts (3.14.1.10)."""
    if session.get(Stadtteil, nr) is None:
        raise RuleViolation(f"unknown Stadtteil {nr!r}", record=record, field="stadtteil_nr",
                            rule="one of the 64 statistical districts")


def _check_facility(session: Session, f: Facility) -> None:
    _check_stadtteil(session, f.stadtteil_nr, "facility")
    if f.opens_at and f.closes_at and f.opens_at >= f.closes_at:
        raise RuleViolation(
            "opening time must be before closing time",
            record="facility",
            field="closes_at",
            rule="opens_at < closes_at",
        )
    if f.status == FacilityStatus.TEMPORARILY_CLOSED and f.closure_from is None:
        raise RuleViolation(
            "a temporary closure needs its start date",
            record="facility",
            field="closure_from",
            rule="temporary closure has dates (3.7.1.3)",
        )
    if f.closure_from and f.closure_to and f.closure_to < f.closure_from:
        raise RuleViolation(
            "closure ends before it starts",
            record="facility",
            field="closure_to",
            rule="closure_from <= closure_to",
        )


def _owns_facility(p: Principal, f: Facility) -> bool:
    if not p.can(Permission.OWN_FACILITY_EDIT):
        return False
    if p.role == Role.FACILITY_LEAD:
        return p.facility_id == f.id
    return p.carrier_id == f.carrier_id


def _only_fields(data: dict[str, Any], allowed: frozenset[str], record: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise Forbidden(
            f"your role may not change {', '.join(extra)} of a {record}",
            record=record,
            field=extra[0],
            rule="only EB Kita changes these fields (3.14.1.5)",
        )


def create_facility(session: Session, data: dict[str, Any]) -> Facility:
    require(session, Permission.MASTERDATA_WRITE)
    load(session, Carrier, data["carrier_id"], field="carrier_id")
    facility = Facility(**data)
    _check_facility(session, facility)
    session.add(facility)
    session.flush()
    assign_district(session, "facility", facility)
    return facility


def update_facility(session: Session, facility_id: int, data: dict[str, Any]) -> Facility:
    facility = load(session, Facility, facility_id)
    p = principal_of(session)
    if not p.can(Permission.MASTERDATA_WRITE):
        if not _owns_facility(p, facility):
            raise Forbidden(
                f"facility {facility_id} is not yours",
                record="facility",
                rule="carriers and leads edit only their own facilities (R1, R2)",
            )
        _only_fields(data, FACILITY_OWNER_FIELDS, "facility")
    if "carrier_id" in data:
        load(session, Carrier, data["carrier_id"], field="carrier_id")
    apply(facility, data)
    _check_facility(session, facility)
    session.flush()
    assign_district(session, "facility", facility, set(data))
    return facility


def facility_query(
    *,
    stadtteil: str | None = None,
    stadtbezirk: str | None = None,
    carrier_id: int | None = None,
    care_type: CareType | None = None,
    integration: bool | None = None,
    q: str | None = None,
    on: date | None = None,
) -> Select[tuple[Facility]]:
    """Facilities filtered as the public search and the ZVS need them (3.3.1)."""
    stmt = select(Facility).order_by(Facility.name, Facility.id)
    if stadtteil:
        stmt = stmt.where(Facility.stadtteil_nr == stadtteil)
    if stadtbezirk:
        districts = select(Stadtteil.nr).where(
            or_(Stadtteil.bezirk == stadtbezirk, Stadtteil.bezirk.like(f"%{stadtbezirk}%"))
        )
        stmt = stmt.where(Facility.stadtteil_nr.in_(districts))
    if carrier_id is not None:
        stmt = stmt.where(Facility.carrier_id == carrier_id)
    if integration is not None:
        stmt = stmt.where(Facility.integration_facility == integration)
    if q:
        stmt = stmt.where(Facility.name.ilike(f"%{q}%"))
    if care_type is not None:
        day = on or date.today()
        offers = select(CareOffer.facility_id).where(
            CareOffer.care_type == care_type,
            CareOffer.valid_from <= day,
            or_(CareOffer.valid_to.is_(None), CareOffer.valid_to >= day),
        )
        stmt = stmt.where(Facility.id.in_(offers))
    return stmt


# -- care offers ----------------------------------------------------------------------------


def _check_offer(session: Session, offer: CareOffer) -> None:
    if offer.care_type not in FACILITY_CARE_TYPES:
        raise RuleViolation(
            f"a facility cannot offer {offer.care_type}",
            record="care_offer",
            field="care_type",
            rule="childminding is offered by childminders",
        )
    if offer.valid_to is not None and offer.valid_to < offer.valid_from:
        raise RuleViolation(
            "valid_to is before valid_from",
            record="care_offer",
            field="valid_to",
            rule="valid_from <= valid_to",
        )
    far = date.max
    overlapping = session.scalars(
        select(CareOffer).where(
            CareOffer.facility_id == offer.facility_id,
            CareOffer.care_type == offer.care_type,
            CareOffer.id != (offer.id or -1),
            CareOffer.valid_from <= (offer.valid_to or far),
            or_(CareOffer.valid_to.is_(None), CareOffer.valid_to >= offer.valid_from),
        )
    ).first()
    if overlapping is not None:
        raise Conflict(
            f"{offer.care_type} at facility {offer.facility_id} already has capacity "
            f"{overlapping.valid_from}..{overlapping.valid_to or 'open'} (care_offer "
            f"{overlapping.id}); validity periods of one offer must not overlap",
            record="care_offer",
            field="valid_from",
            rule="no overlapping validity for the same offer (3.7.1.2)",
        )


def add_care_offer(session: Session, facility_id: int, data: dict[str, Any]) -> CareOffer:
    require(session, Permission.MASTERDATA_WRITE)
    load(session, Facility, facility_id)
    offer = CareOffer(facility_id=facility_id, **data)
    _check_offer(session, offer)
    session.add(offer)
    session.flush()
    return offer


def update_care_offer(session: Session, offer_id: int, data: dict[str, Any]) -> CareOffer:
    require(session, Permission.MASTERDATA_WRITE)
    offer = load(session, CareOffer, offer_id)
    apply(offer, data)
    _check_offer(session, offer)
    session.flush()
    return offer


def delete_care_offer(session: Session, offer_id: int) -> None:
    """Remove a capacity entered in error; one that running contracts rely on stays."""
    require(session, Permission.MASTERDATA_WRITE)
    offer = load(session, CareOffer, offer_id)
    used = session.scalar(
        select(CareContract.id).where(
            CareContract.facility_id == offer.facility_id,
            CareContract.care_type == offer.care_type,
            CareContract.start_date <= (offer.valid_to or date.max),
            or_(CareContract.end_date.is_(None), CareContract.end_date >= offer.valid_from),
        ).limit(1))
    if used is not None:
        raise Conflict(f"care contract {used} relies on care_offer {offer_id}; end the offer "
                       "with valid_to instead", record="care_offer", field="id",
                       rule="capacities of running contracts stay (3.7.1.2)")
    session.delete(offer)
    session.flush()


def delete_facility(session: Session, facility_id: int) -> None:
    """Only EB Kita deletes facilities, and only ones without contracts (else: close them)."""
    require(session, Permission.MASTERDATA_WRITE)
    facility = load(session, Facility, facility_id)
    if session.scalar(select(CareContract.id).where(CareContract.facility_id == facility_id)
                      .limit(1)) is not None:
        raise Conflict(f"facility {facility_id} has care contracts; set status 'closed' instead",
                       record="facility", field="id",
                       rule="facilities with contracts are closed, not deleted (3.14.1.5)")
    for offer in facility.care_offers:
        session.delete(offer)
    session.delete(facility)
    session.flush()


def offer_on(
    session: Session, facility_id: int, care_type: CareType, day: date
) -> CareOffer | None:
    return session.scalars(
        select(CareOffer).where(
            CareOffer.facility_id == facility_id,
            CareOffer.care_type == care_type,
            CareOffer.valid_from <= day,
            or_(CareOffer.valid_to.is_(None), CareOffer.valid_to >= day),
        )
    ).first()


# -- childminding ---------------------------------------------------------------------------


def create_office(session: Session, data: dict[str, Any]) -> ChildmindingOffice:
    require(session, Permission.MASTERDATA_WRITE)
    office = ChildmindingOffice(**data)
    session.add(office)
    session.flush()
    return office


def _check_childminder(session: Session, cm: Childminder) -> None:
    if not 1 <= cm.capacity <= 5:
        raise RuleViolation(
            f"capacity {cm.capacity} is outside 1..5",
            record="childminder",
            field="capacity",
            rule="a childminder cares for at most 5 (3.5.2)",
        )
    _check_stadtteil(session, cm.stadtteil_nr, "childminder")
    load(session, ChildmindingOffice, cm.office_id, field="office_id")


def create_childminder(session: Session, data: dict[str, Any]) -> Childminder:
    require(session, Permission.MASTERDATA_WRITE)
    cm = Childminder(**data)
    _check_childminder(session, cm)
    session.add(cm)
    session.flush()
    return cm


def update_childminder(session: Session, cm_id: int, data: dict[str, Any]) -> Childminder:
    require(session, Permission.MASTERDATA_WRITE)
    cm = load(session, Childminder, cm_id)
    apply(cm, data)
    _check_childminder(session, cm)
    session.flush()
    return cm
