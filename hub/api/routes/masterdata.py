"""Carriers, facilities, care offers, childminding and districts."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from ekita.core.access import Permission, redact
from ekita.core.models import (
    CareOffer,
    Carrier,
    Childminder,
    ChildmindingOffice,
    Facility,
    Stadtteil,
)
from ekita.core.models.enums import CareType
from ekita.core.schemas.common import Page
from ekita.core.schemas.masterdata import (
    CareOfferFields,
    CareOfferOut,
    CareOfferPatch,
    CarrierFields,
    CarrierOut,
    CarrierPatch,
    ChildminderFields,
    ChildminderOut,
    ChildminderPatch,
    ChildmindingOfficeFields,
    ChildmindingOfficeOut,
    FacilityFields,
    FacilityOut,
    FacilityPatch,
    StadtteilOut,
)
from ekita.core.services import masterdata as svc
from ekita.core.services.base import load, page, require
from ekita.hub.api.deps import DB, Pages, PathId, QueryId, Who, WriteDB

router = APIRouter(tags=["master data"])


def facility_out(f: Facility) -> FacilityOut:
    return FacilityOut.model_validate(
        {**{k: getattr(f, k) for k in FacilityOut.model_fields if hasattr(f, k)},
         "stadtteil": f.stadtteil.name, "stadtbezirk": f.stadtteil.bezirk,
         "carrier_name": f.carrier.name, "carrier_category": f.carrier.category})


@router.get("/stadtteile", response_model=list[StadtteilOut])
def list_stadtteile(session: DB) -> list[Stadtteil]:
    require(session, Permission.MASTERDATA_READ)
    return list(session.scalars(select(Stadtteil).order_by(Stadtteil.nr)))


@router.get("/carriers", response_model=Page[CarrierOut])
def list_carriers(session: DB, pages: Pages, q: str | None = None) -> dict:
    require(session, Permission.MASTERDATA_READ)
    stmt = select(Carrier).order_by(Carrier.name, Carrier.id)
    if q:
        stmt = stmt.where(Carrier.name.ilike(f"%{q}%"))
    items, total = page(session, stmt, pages.limit, pages.offset)
    return {"items": items, "total": total, "limit": pages.limit, "offset": pages.offset}


@router.post("/carriers", response_model=CarrierOut, status_code=201)
def create_carrier(session: WriteDB, body: CarrierFields) -> Carrier:
    carrier = svc.create_carrier(session, body.model_dump())
    session.commit()
    return carrier


@router.get("/carriers/{carrier_id}", response_model=CarrierOut)
def get_carrier(session: DB, carrier_id: PathId) -> Carrier:
    require(session, Permission.MASTERDATA_READ)
    return load(session, Carrier, carrier_id)


@router.patch("/carriers/{carrier_id}", response_model=CarrierOut)
def update_carrier(session: WriteDB, carrier_id: PathId, body: CarrierPatch) -> Carrier:  # type: ignore[valid-type]
    carrier = svc.update_carrier(session, carrier_id, body.model_dump(exclude_unset=True))
    session.commit()
    return carrier


@router.get("/facilities", response_model=Page[FacilityOut])
def list_facilities(
    session: DB, pages: Pages,
    stadtteil: Annotated[str | None, Query(description="statistical district number")] = None,
    stadtbezirk: Annotated[str | None, Query(description="Stadtbezirk or Ortschaft")] = None,
    carrier_id: QueryId = None,
    care_type: CareType | None = None,
    integration: bool | None = None,
    q: Annotated[str | None, Query(description="part of the name")] = None,
    on: Annotated[date | None, Query(description="care type offered on this date")] = None,
) -> dict:
    require(session, Permission.MASTERDATA_READ)
    stmt = svc.facility_query(stadtteil=stadtteil, stadtbezirk=stadtbezirk,
                              carrier_id=carrier_id, care_type=care_type,
                              integration=integration, q=q, on=on)
    items, total = page(session, stmt, pages.limit, pages.offset)
    return {"items": [facility_out(f) for f in items], "total": total, "limit": pages.limit,
            "offset": pages.offset}


@router.post("/facilities", response_model=FacilityOut, status_code=201)
def create_facility(session: WriteDB, body: FacilityFields) -> FacilityOut:
    facility = svc.create_facility(session, body.model_dump())
    session.commit()
    return facility_out(load(session, Facility, facility.id))


@router.get("/facilities/{facility_id}", response_model=FacilityOut)
def get_facility(session: DB, facility_id: PathId) -> FacilityOut:
    require(session, Permission.MASTERDATA_READ)
    return facility_out(load(session, Facility, facility_id))


@router.patch("/facilities/{facility_id}", response_model=FacilityOut)
def update_facility(session: WriteDB, facility_id: PathId, body: FacilityPatch) -> FacilityOut:  # type: ignore[valid-type]
    facility = svc.update_facility(session, facility_id, body.model_dump(exclude_unset=True))
    session.commit()
    return facility_out(facility)


@router.delete("/facilities/{facility_id}", status_code=204)
def delete_facility(session: WriteDB, facility_id: PathId) -> Response:
    svc.delete_facility(session, facility_id)
    session.commit()
    return Response(status_code=204)


@router.get("/facilities/{facility_id}/care-offers", response_model=list[CareOfferOut])
def list_care_offers(session: DB, facility_id: PathId,
                     on: Annotated[date | None, Query(description="valid on this date")] = None
                     ) -> list[CareOffer]:
    require(session, Permission.MASTERDATA_READ)
    offers = load(session, Facility, facility_id).care_offers
    if on is not None:
        offers = [o for o in offers if o.valid_from <= on and (o.valid_to is None
                                                                 or o.valid_to >= on)]
    return offers


@router.post("/facilities/{facility_id}/care-offers", response_model=CareOfferOut,
             status_code=201)
def add_care_offer(session: WriteDB, facility_id: PathId, body: CareOfferFields) -> CareOffer:
    offer = svc.add_care_offer(session, facility_id, body.model_dump())
    session.commit()
    return offer


@router.patch("/care-offers/{offer_id}", response_model=CareOfferOut)
def update_care_offer(session: WriteDB, offer_id: PathId, body: CareOfferPatch) -> CareOffer:  # type: ignore[valid-type]
    offer = svc.update_care_offer(session, offer_id, body.model_dump(exclude_unset=True))
    session.commit()
    return offer


@router.delete("/care-offers/{offer_id}", status_code=204)
def delete_care_offer(session: WriteDB, offer_id: PathId) -> Response:
    svc.delete_care_offer(session, offer_id)
    session.commit()
    return Response(status_code=204)


@router.get("/childminding-offices", response_model=list[ChildmindingOfficeOut])
def list_offices(session: DB) -> list[ChildmindingOffice]:
    require(session, Permission.MASTERDATA_READ)
    return list(session.scalars(select(ChildmindingOffice).order_by(ChildmindingOffice.id)))


@router.post("/childminding-offices", response_model=ChildmindingOfficeOut, status_code=201)
def create_office(session: WriteDB, body: ChildmindingOfficeFields) -> ChildmindingOffice:
    office = svc.create_office(session, body.model_dump())
    session.commit()
    return office


def childminder_out(cm: Childminder, who: Who) -> dict:
    values = ChildminderOut.model_validate(cm).model_dump()
    return redact(values, Childminder.__sensitive__, who.role)


@router.get("/childminders", response_model=Page[ChildminderOut])
def list_childminders(session: DB, who: Who, pages: Pages, office_id: QueryId = None,
                      stadtteil: str | None = None) -> dict:
    require(session, Permission.MASTERDATA_READ)
    stmt = select(Childminder).order_by(Childminder.family_name, Childminder.id)
    if office_id is not None:
        stmt = stmt.where(Childminder.office_id == office_id)
    if stadtteil:
        stmt = stmt.where(Childminder.stadtteil_nr == stadtteil)
    items, total = page(session, stmt, pages.limit, pages.offset)
    return {"items": [childminder_out(c, who) for c in items], "total": total,
            "limit": pages.limit, "offset": pages.offset}


@router.post("/childminders", response_model=ChildminderOut, status_code=201)
def create_childminder(session: WriteDB, who: Who, body: ChildminderFields) -> dict:
    cm = svc.create_childminder(session, body.model_dump())
    session.commit()
    return childminder_out(cm, who)


@router.get("/childminders/{cm_id}", response_model=ChildminderOut)
def get_childminder(session: DB, who: Who, cm_id: PathId) -> dict:
    require(session, Permission.MASTERDATA_READ)
    return childminder_out(load(session, Childminder, cm_id), who)


@router.patch("/childminders/{cm_id}", response_model=ChildminderOut)
def update_childminder(session: WriteDB, who: Who, cm_id: PathId, body: ChildminderPatch) -> dict:  # type: ignore[valid-type]
    cm = svc.update_childminder(session, cm_id, body.model_dump(exclude_unset=True))
    session.commit()
    return childminder_out(cm, who)
