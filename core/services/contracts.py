"""Care contracts (3.14.2.2): child, facility or childminder, period, hours, payer."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from ekita.core.access import Permission, Principal
from ekita.core.errors import Forbidden, RuleViolation
from ekita.core.models import CareContract, Child, Childminder, Facility, Guardian
from ekita.core.models.contracts import ContractTerm
from ekita.core.models.enums import CareType, Role
from ekita.core.services import terms
from ekita.core.services.base import apply, load, require
from ekita.core.services.masterdata import offer_on
from ekita.core.services.people import guardian_ids_of
from ekita.core.tracking import today


def _may_contract_at(p: Principal, facility: Facility | None) -> bool:
    if p.role == Role.FACILITY_LEAD:
        return facility is not None and facility.id == p.facility_id
    if p.role == Role.CARRIER:
        return facility is not None and facility.carrier_id == p.carrier_id
    return True


def _check(session: Session, c: CareContract) -> None:
    def bad(message: str, field: str, rule: str) -> RuleViolation:
        return RuleViolation(message, record="care_contract", field=field, rule=rule)

    if (c.facility_id is None) == (c.childminder_id is None):
        raise bad(
            "name either a facility or a childminder",
            "facility_id",
            "a contract is with one facility or one childminder",
        )
    if c.end_date is not None and c.end_date < c.start_date:
        raise bad("end_date is before start_date", "end_date", "start_date <= end_date")
    low, high = CareType(c.care_type).tier_range
    if not low <= c.daily_hours <= high:
        raise bad(
            f"{c.daily_hours} h is outside {low}..{high} h for {c.care_type}",
            "daily_hours",
            "care-time tiers (Anlage B §4)",
        )
    load(session, Child, c.child_id, field="child_id")
    if c.childminder_id is not None:
        load(session, Childminder, c.childminder_id, field="childminder_id")
        if c.care_type != CareType.KINDERTAGESPFLEGE:
            raise bad(
                "a childminder contract is of care type kindertagespflege",
                "care_type",
                "childminding (3.5)",
            )
    else:
        facility = load(session, Facility, c.facility_id, field="facility_id")
        if offer_on(session, facility.id, c.care_type, c.start_date) is None:
            raise bad(
                f"facility {facility.id} offers no {c.care_type} on {c.start_date}",
                "care_type",
                "the facility offers the care type at the start (3.7.1.2)",
            )
        if c.company_reserved_place and facility.company_reserved_places == 0:
            raise bad(
                f"facility {facility.id} has no company-reserved places",
                "company_reserved_place",
                "Belegrecht needs reserved places (3.6.2)",
            )
    load(session, Guardian, c.payer_guardian_id, field="payer_guardian_id")
    if c.payer_guardian_id not in guardian_ids_of(session, c.child_id):
        raise bad(
            f"guardian {c.payer_guardian_id} is not a guardian of child {c.child_id}",
            "payer_guardian_id",
            "the payer is one of the child's guardians",
        )


def _authorise(session: Session, c: CareContract) -> None:
    p = require(session, Permission.CONTRACTS_WRITE)
    facility = session.get(Facility, c.facility_id) if c.facility_id else None
    if not _may_contract_at(p, facility):
        raise Forbidden(
            "contracts only at your own facilities",
            record="care_contract",
            field="facility_id",
            rule="tenants act only on their own data (R1, R2)",
        )


def create_contract(session: Session, data: dict[str, Any]) -> CareContract:
    """A new contract with its first term over the whole period (issue 13 item 1)."""
    contract = CareContract(**data)
    _authorise(session, contract)
    _check(session, contract)
    session.add(contract)
    session.flush()
    terms.first_term(session, contract)
    return contract


def update_contract(session: Session, contract_id: int, data: dict[str, Any], *,
                    requested_on: date | None = None, override_reason: str | None = None
                    ) -> CareContract:
    """Change a contract. Term fields (care type, hours, reserved place) change from the
    session's ``valid_from`` (the API's ``?valid_from=``; default today) as a new term,
    under the notice rule for hours (issue 13 items 1, 2); the contract's own columns
    then mirror the term valid today."""
    contract = load(session, CareContract, contract_id)
    terms.rows_of(session, contract)  # a contract from before terms gets its first one
    data = dict(data)  # the caller's dict stays as it was
    changes = {k: data.pop(k) for k in terms.TERM_FIELDS if k in data}
    apply(contract, data)
    _authorise(session, contract)
    _check(session, contract)  # clear errors before anything is flushed
    terms.fit_to_period(session, contract)
    if changes:
        day = session.info.get("valid_from") or today()
        term = terms.change(session, contract, day, changes, requested_on=requested_on,
                            override_reason=override_reason)
        _settle_term(session, contract, term, changes)
    session.flush()
    return contract


def add_term(session: Session, contract_id: int, valid_from: date, changes: dict[str, Any], *,
             requested_on: date | None = None, override_reason: str | None = None
             ) -> ContractTerm | None:
    """``POST /contracts/{id}/terms``: the same as a dated PATCH of term fields."""
    contract = load(session, CareContract, contract_id)
    _authorise(session, contract)
    term = terms.change(session, contract, valid_from, changes, requested_on=requested_on,
                        override_reason=override_reason)
    _settle_term(session, contract, term, changes)
    session.flush()
    return term


def _settle_term(session: Session, contract: CareContract, term: ContractTerm | None,
                 changes: dict[str, Any]) -> None:
    """After a term change: the facility offers the new care type from the term's start,
    the contract's columns mirror today's term, and the contract still holds its rules."""
    _check_term_offer(session, contract, term, changes)
    terms.sync_mirror(session, contract)
    _check(session, contract)


def _check_term_offer(session: Session, contract: CareContract, term: ContractTerm | None,
                      changes: dict[str, Any]) -> None:
    """A new care type must be offered by the facility from the day it applies (3.7.1.2)."""
    if term is None or "care_type" not in changes:
        return
    care_type = CareType(changes["care_type"])
    if contract.childminder_id is not None:
        if care_type != CareType.KINDERTAGESPFLEGE:
            raise RuleViolation("a childminder contract is of care type kindertagespflege",
                                record="contract_term", field="care_type",
                                rule="childminding (3.5)")
        return
    if offer_on(session, contract.facility_id, care_type, term.valid_from) is None:
        raise RuleViolation(
            f"facility {contract.facility_id} offers no {care_type} on {term.valid_from}",
            record="contract_term", field="care_type",
            rule="the facility offers the care type (3.7.1.2)")
