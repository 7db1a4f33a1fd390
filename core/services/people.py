"""Families, the PKN, children, guardians and their links (3.14.1.1–3, 3.10.1.7).

EB Kita (``people:create``) registers families, children and guardians;
carriers and facility leads change the records of the children in their care
(the scoping makes everything else invisible to them).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ekita.core.access import Permission
from ekita.core.errors import Conflict, RuleViolation
from ekita.core.models import Child, ChildGuardian, Family, Guardian, GuardianContact, Pkn
from ekita.core.services.base import apply, load, require
from ekita.core.services.registries import assign_district

FIRST_FAMILY_NUMBER = 100000


def create_family(session: Session, data: dict[str, Any]) -> Family:
    require(session, Permission.PEOPLE_CREATE)
    number = data.get("number") or next_family_number(session)
    if session.scalar(select(Family.id).where(Family.number == number)) is not None:
        raise Conflict(
            f"family number {number} is taken",
            record="family",
            field="number",
            rule="family numbers are unique",
        )
    family = Family(number=number, remark=data.get("remark"))
    session.add(family)
    session.flush()
    return family


def next_family_number(session: Session) -> str:
    highest = session.scalar(select(func.max(Family.number)))
    return str(max(int(highest or 0) + 1, FIRST_FAMILY_NUMBER)).zfill(6)


def _next_pkn(session: Session, family: Family) -> str:
    """The family's six digits plus the next unused two-digit child number (D13)."""
    used = session.scalars(select(Pkn.number).where(Pkn.family_id == family.id)).all()
    numbers = [int(n[6:]) for n in used]
    child_no = max(numbers, default=0) + 1
    if child_no > 99:
        raise RuleViolation(
            f"family {family.number} has no child number left",
            record="pkn",
            field="number",
            rule="2 digits per child (D13)",
        )
    return f"{family.number}{child_no:02d}"


def _check_child(session: Session, child: Child) -> None:
    if child.birth_date > date.today():
        raise RuleViolation(
            "birth date lies in the future",
            record="child",
            field="birth_date",
            rule="children are registered once born (placement handles unborn)",
        )


def create_child(
    session: Session, data: dict[str, Any], *, pkn_valid_from: date | None = None
) -> Child:
    require(session, Permission.PEOPLE_CREATE)
    family = load(session, Family, data["family_id"], field="family_id")
    child = Child(**data)
    _check_child(session, child)
    session.add(child)
    session.flush()
    session.add(
        Pkn(
            number=_next_pkn(session, family),
            child_id=child.id,
            family_id=family.id,
            valid_from=pkn_valid_from or child.birth_date,
            active=True,
        )
    )
    session.flush()
    assign_district(session, "child", child)
    return child


def update_child(session: Session, child_id: int, data: dict[str, Any]) -> Child:
    require(session, Permission.PEOPLE_WRITE)
    child = load(session, Child, child_id)
    if "family_id" in data and data["family_id"] != child.family_id:
        raise RuleViolation(
            "a child changes family only through a PKN change",
            record="child",
            field="family_id",
            rule="POST /children/{id}/pkn-change (3.10.1.7)",
        )
    apply(child, data)
    _check_child(session, child)
    session.flush()
    assign_district(session, "child", child, set(data))
    return child


def active_pkn(session: Session, child_id: int) -> Pkn | None:
    return session.scalars(select(Pkn).where(Pkn.child_id == child_id, Pkn.active)).first()


def change_pkn(session: Session, child_id: int, family_id: int, valid_from: date) -> Pkn:
    """Give the child a PKN in another family; the old one is inactivated and points to it."""
    require(session, Permission.PEOPLE_CREATE)
    child = load(session, Child, child_id)
    family = load(session, Family, family_id, field="family_id")
    old = active_pkn(session, child_id)
    if old is not None and old.family_id == family.id:
        raise Conflict(
            f"child {child_id} already has PKN {old.number} in family {family.number}",
            record="pkn",
            field="family_id",
            rule="a PKN change moves to another family",
        )
    if old is not None and valid_from <= old.valid_from:
        raise RuleViolation(
            f"the new PKN must start after {old.valid_from}",
            record="pkn",
            field="valid_from",
            rule="PKN validities follow each other",
        )
    new = Pkn(
        number=_next_pkn(session, family),
        child_id=child.id,
        family_id=family.id,
        valid_from=valid_from,
        active=True,
    )
    session.add(new)
    session.flush()
    if old is not None:
        old.active = False
        old.valid_to = valid_from - timedelta(days=1)
        old.successor_id = new.id
    child.family_id = family.id
    session.flush()
    return new


def create_guardian(session: Session, data: dict[str, Any]) -> Guardian:
    require(session, Permission.PEOPLE_CREATE)
    load(session, Family, data["family_id"], field="family_id")
    contacts = data.pop("contacts", [])
    guardian = Guardian(**data, contacts=[GuardianContact(**c) for c in contacts])
    session.add(guardian)
    session.flush()
    assign_district(session, "guardian", guardian)
    return guardian


def update_guardian(session: Session, guardian_id: int, data: dict[str, Any]) -> Guardian:
    require(session, Permission.PEOPLE_WRITE)
    guardian = load(session, Guardian, guardian_id)
    apply(guardian, data)
    session.flush()
    assign_district(session, "guardian", guardian, set(data))
    return guardian


def add_contact(session: Session, guardian_id: int, data: dict[str, Any]) -> GuardianContact:
    require(session, Permission.PEOPLE_WRITE)
    load(session, Guardian, guardian_id)
    contact = GuardianContact(guardian_id=guardian_id, **data)
    session.add(contact)
    session.flush()
    return contact


def delete_contact(session: Session, contact_id: int) -> None:
    require(session, Permission.PEOPLE_WRITE)
    session.delete(load(session, GuardianContact, contact_id))
    session.flush()


def link_guardian(session: Session, child_id: int, data: dict[str, Any]) -> ChildGuardian:
    require(session, Permission.PEOPLE_CREATE)
    load(session, Child, child_id)
    load(session, Guardian, data["guardian_id"], field="guardian_id")
    exists = session.scalar(
        select(ChildGuardian.id).where(
            ChildGuardian.child_id == child_id, ChildGuardian.guardian_id == data["guardian_id"]
        )
    )
    if exists is not None:
        raise Conflict(
            f"guardian {data['guardian_id']} is already linked to child {child_id}",
            record="child_guardian",
            field="guardian_id",
            rule="one link per pair",
        )
    link = ChildGuardian(child_id=child_id, **data)
    session.add(link)
    session.flush()
    return link


def guardian_ids_of(session: Session, child_id: int) -> set[int]:
    return set(
        session.scalars(select(ChildGuardian.guardian_id).where(ChildGuardian.child_id == child_id))
    )
