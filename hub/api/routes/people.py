"""Families, children, guardians and care contracts: personal data, scoped per tenant.

Every query below runs through the tenant scoping of ``ekita.core.scoping``; a
record outside the caller's scope answers 404, exactly as an absent one.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ekita.core.access import Permission, redact
from ekita.core.errors import RuleViolation
from ekita.core.models import CareContract, Child, Family, Guardian, GuardianContact, Pkn
from ekita.core.models.contracts import ContractTerm
from ekita.core.schemas.common import Page
from ekita.core.schemas.contracts import (
    ContractFields,
    ContractOut,
    ContractPatch,
    TermChange,
    TermOut,
)
from ekita.core.schemas.people import (
    ChildFields,
    ChildOut,
    ChildPatch,
    ContactIn,
    ContactOut,
    FamilyIn,
    FamilyOut,
    GuardianIn,
    GuardianLink,
    GuardianLinkOut,
    GuardianOut,
    GuardianPatch,
    PknChange,
    PknOut,
)
from ekita.core.services import contracts as contract_svc
from ekita.core.services import people as svc
from ekita.core.services import terms as term_svc
from ekita.core.services.base import load, page, require
from ekita.core.tracking import today
from ekita.hub.api.deps import DB, Pages, PathId, QueryId, Who, WriteDB

router = APIRouter(tags=["people and contracts"])


def paged(items: list, total: int, pages: Pages) -> dict:
    return {"items": items, "total": total, "limit": pages.limit, "offset": pages.offset}


def child_out(child: Child, who: Who) -> dict:
    values = ChildOut.model_validate(child).model_dump()
    values["pkn"] = next((p.number for p in child.pkns if p.active), None)
    return redact(values, Child.__sensitive__, who.role)


def guardian_out(guardian: Guardian, who: Who) -> dict:
    values = GuardianOut.model_validate(guardian).model_dump()
    return redact(values, Guardian.__sensitive__, who.role)


@router.get("/families", response_model=Page[FamilyOut])
def list_families(session: DB, pages: Pages, number: str | None = None) -> dict:
    require(session, Permission.PEOPLE_READ)
    stmt = select(Family).order_by(Family.id)
    if number:
        stmt = stmt.where(Family.number == number)
    return paged(*page(session, stmt, pages.limit, pages.offset), pages)


@router.post("/families", response_model=FamilyOut, status_code=201)
def create_family(session: WriteDB, body: FamilyIn) -> Family:
    family = svc.create_family(session, body.model_dump())
    session.commit()
    return family


@router.get("/families/{family_id}", response_model=FamilyOut)
def get_family(session: DB, family_id: PathId) -> Family:
    require(session, Permission.PEOPLE_READ)
    return load(session, Family, family_id)


@router.get("/children", response_model=Page[ChildOut])
def list_children(session: DB, who: Who, pages: Pages, family_id: QueryId = None,
                  q: Annotated[str | None, Query(description="part of the family name")] = None,
                  born_after: date | None = None, pkn: str | None = None) -> dict:
    require(session, Permission.PEOPLE_READ)
    stmt = select(Child).options(selectinload(Child.pkns)).order_by(Child.id)
    if family_id is not None:
        stmt = stmt.where(Child.family_id == family_id)
    if q:
        stmt = stmt.where(Child.family_name.ilike(f"%{q}%"))
    if born_after:
        stmt = stmt.where(Child.birth_date > born_after)
    if pkn:
        stmt = stmt.where(Child.id.in_(select(Pkn.child_id).where(Pkn.number == pkn)))
    items, total = page(session, stmt, pages.limit, pages.offset)
    return paged([child_out(c, who) for c in items], total, pages)


@router.post("/children", response_model=ChildOut, status_code=201)
def create_child(session: WriteDB, who: Who, body: ChildFields) -> dict:
    child = svc.create_child(session, body.model_dump())
    session.commit()
    return child_out(load(session, Child, child.id), who)


@router.get("/children/{child_id}", response_model=ChildOut)
def get_child(session: DB, who: Who, child_id: PathId) -> dict:
    require(session, Permission.PEOPLE_READ)
    return child_out(load(session, Child, child_id), who)


@router.patch("/children/{child_id}", response_model=ChildOut)
def update_child(session: WriteDB, who: Who, child_id: PathId, body: ChildPatch) -> dict:  # type: ignore[valid-type]
    child = svc.update_child(session, child_id, body.model_dump(exclude_unset=True))
    session.commit()
    return child_out(child, who)


@router.get("/children/{child_id}/pkns", response_model=list[PknOut])
def list_pkns(session: DB, child_id: PathId) -> list[Pkn]:
    require(session, Permission.PEOPLE_READ)
    return load(session, Child, child_id).pkns


@router.post("/children/{child_id}/pkn-change", response_model=PknOut, status_code=201)
def change_pkn(session: WriteDB, child_id: PathId, body: PknChange) -> Pkn:
    new = svc.change_pkn(session, child_id, body.family_id, body.valid_from)
    session.commit()
    return new


@router.post("/children/{child_id}/guardians", response_model=GuardianLinkOut, status_code=201)
def link_guardian(session: WriteDB, child_id: PathId, body: GuardianLink) -> object:
    link = svc.link_guardian(session, child_id, body.model_dump())
    session.commit()
    return link


@router.get("/guardians", response_model=Page[GuardianOut])
def list_guardians(session: DB, who: Who, pages: Pages, family_id: QueryId = None) -> dict:
    require(session, Permission.PEOPLE_READ)
    stmt = select(Guardian).options(selectinload(Guardian.contacts)).order_by(Guardian.id)
    if family_id is not None:
        stmt = stmt.where(Guardian.family_id == family_id)
    items, total = page(session, stmt, pages.limit, pages.offset)
    return paged([guardian_out(g, who) for g in items], total, pages)


@router.post("/guardians", response_model=GuardianOut, status_code=201)
def create_guardian(session: WriteDB, who: Who, body: GuardianIn) -> dict:
    guardian = svc.create_guardian(session, body.model_dump())
    session.commit()
    return guardian_out(guardian, who)


@router.get("/guardians/{guardian_id}", response_model=GuardianOut)
def get_guardian(session: DB, who: Who, guardian_id: PathId) -> dict:
    require(session, Permission.PEOPLE_READ)
    return guardian_out(load(session, Guardian, guardian_id), who)


@router.patch("/guardians/{guardian_id}", response_model=GuardianOut)
def update_guardian(session: WriteDB, who: Who, guardian_id: PathId, body: GuardianPatch) -> dict:  # type: ignore[valid-type]
    guardian = svc.update_guardian(session, guardian_id, body.model_dump(exclude_unset=True))
    session.commit()
    return guardian_out(guardian, who)


@router.post("/guardians/{guardian_id}/contacts", response_model=ContactOut, status_code=201)
def add_contact(session: WriteDB, guardian_id: PathId, body: ContactIn) -> GuardianContact:
    contact = svc.add_contact(session, guardian_id, body.model_dump())
    session.commit()
    return contact


@router.delete("/contacts/{contact_id}", status_code=204)
def delete_contact(session: WriteDB, contact_id: PathId) -> Response:
    svc.delete_contact(session, contact_id)
    session.commit()
    return Response(status_code=204)


@router.get("/contracts", response_model=Page[ContractOut])
def list_contracts(session: DB, pages: Pages, child_id: QueryId = None,
                   facility_id: QueryId = None,
                   active_on: Annotated[date | None, Query(description="running on")] = None
                   ) -> dict:
    require(session, Permission.PEOPLE_READ)
    stmt = select(CareContract).order_by(CareContract.id)
    if child_id is not None:
        stmt = stmt.where(CareContract.child_id == child_id)
    if facility_id is not None:
        stmt = stmt.where(CareContract.facility_id == facility_id)
    if active_on is not None:
        stmt = stmt.where(CareContract.start_date <= active_on,
                          (CareContract.end_date.is_(None)) | (CareContract.end_date >= active_on))
    return paged(*page(session, stmt, pages.limit, pages.offset), pages)


@router.post("/contracts", response_model=ContractOut, status_code=201)
def create_contract(session: WriteDB, body: ContractFields) -> CareContract:
    contract = contract_svc.create_contract(session, body.model_dump())
    session.commit()
    return contract


@router.get("/contracts/{contract_id}", response_model=ContractOut)
def get_contract(session: DB, contract_id: PathId,
                 on: Annotated[date | None, Query(
                     description="the term valid that day (issue 13 item 1); default today")]
                 = None) -> ContractOut:
    require(session, Permission.PEOPLE_READ)
    return _contract_on(session, load(session, CareContract, contract_id), on)


def _contract_on(session: Session, contract: CareContract, on: date | None) -> ContractOut:
    """The contract with the care type, hours and reserved place of the term valid ``on``."""
    out = ContractOut.model_validate(contract)
    day = on or today()
    term = term_svc.term_on(session, contract.id, day)
    if term is None:
        return out
    stored = session.scalar(select(ContractTerm).where(
        ContractTerm.contract_id == contract.id, ContractTerm.valid_from <= day)
        .order_by(ContractTerm.valid_from.desc()).limit(1))
    shown = TermOut.model_validate(stored) if stored is not None else TermOut(
        contract_id=contract.id, valid_from=contract.start_date, valid_to=contract.end_date,
        care_type=term.care_type, daily_hours=term.daily_hours,
        company_reserved_place=term.company_reserved_place)
    return out.model_copy(update={"care_type": term.care_type, "daily_hours": term.daily_hours,
                                  "company_reserved_place": term.company_reserved_place,
                                  "term": shown})


@router.patch("/contracts/{contract_id}", response_model=ContractOut)
def update_contract(session: WriteDB, contract_id: PathId, body: ContractPatch,  # type: ignore[valid-type]
                    requested_on: Annotated[date | None, Query(
                        description="when the request for an hour change arrived")] = None,
                    override_reason: Annotated[str | None, Query(
                        max_length=500, description="accept an hour change at short notice "
                        "(Anlage B §9(3)/(4)) for this reason")] = None) -> ContractOut:
    contract = contract_svc.update_contract(session, contract_id,
                                            body.model_dump(exclude_unset=True),
                                            requested_on=requested_on,
                                            override_reason=override_reason)
    session.commit()
    return _contract_on(session, contract, session.info.get("valid_from"))


@router.get("/contracts/{contract_id}/terms", response_model=list[TermOut])
def list_terms(session: DB, contract_id: PathId) -> list[ContractTerm]:
    """The contract's terms in date order (issue 13 item 1)."""
    require(session, Permission.PEOPLE_READ)
    load(session, CareContract, contract_id)
    return list(session.scalars(select(ContractTerm).where(
        ContractTerm.contract_id == contract_id).order_by(ContractTerm.valid_from)))


@router.post("/contracts/{contract_id}/terms", response_model=list[TermOut], status_code=201)
def add_term(session: WriteDB, contract_id: PathId, body: TermChange) -> list[ContractTerm]:
    """A dated change of term fields; answers the contract's terms after it."""
    changes = body.model_dump(include=set(term_svc.TERM_FIELDS), exclude_none=True)
    if not changes:
        raise RuleViolation("name at least one of " + ", ".join(term_svc.TERM_FIELDS),
                            record="contract_term", field="care_type",
                            rule="a term change changes a term field")
    session.info["valid_from"] = body.valid_from
    contract_svc.add_term(session, contract_id, body.valid_from, changes,
                          requested_on=body.requested_on, override_reason=body.override_reason)
    session.commit()
    return list_terms(session, contract_id)
