"""Collective fee notices at a fee switch (Lastenheft 3.10.14.2, fees.md §14 item 4).

When the fee tables change on the 1st of a month, every payer of a child in a municipal
facility or childminding (the fees the city sets, 3.10.2) gets a new notice: one letter
per payer, the single-child or siblings variant by the number of children that payer
pays for, the direct-debit or self-payer variant by the payer's payment setup. The
amounts are the month's assessment (``MonthAssessor``), so waivers, reductions and
overrides are in them ("Folgebescheide aktualisiert").

``plan`` reads; ``issue`` renders and files one notice in the payer's family file under
the business key ``fee-notice:<effective>:<guardian>``, so a repeated or interrupted run
files nothing twice (decisions F17).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core import crypto
from ekita.core.access import Permission
from ekita.core.errors import RuleViolation
from ekita.core.models import CareContract, Child, Facility, Guardian
from ekita.core.models.documents import DocumentType, FiledDocument
from ekita.core.models.fees import PaymentMethod, PaymentSetup
from ekita.core.services.base import require
from ekita.core.services.documents.family_file import Store
from ekita.core.services.documents.generate import Generation, generate_and_file
from ekita.core.services.documents.letterhead import Letterhead
from ekita.core.services.fees.assessment import MonthAssessor
from ekita.core.services.fees.cases import masked_iban
from ekita.core.services.fees.rules import month_start, period_of

RULE = "Lastenheft 3.10.14.2: fee switch on the 1st of a month with collective notices"


@dataclass(frozen=True)
class ChildFee:
    contract_id: int
    child_id: int
    name: str
    pkn: str | None
    care_hours: Decimal
    cost_centre: str
    facility: str
    amount_cents: int


@dataclass(frozen=True)
class Notice:
    """One payer's notice: who gets it, for which children, and which variant."""

    guardian_id: int
    family_id: int
    children: tuple[ChildFee, ...]
    direct_debit: bool

    @property
    def doc_type(self) -> DocumentType:
        single = len(self.children) == 1
        if self.direct_debit:
            return (DocumentType.FEE_NOTICE_SINGLE_DEBIT if single
                    else DocumentType.FEE_NOTICE_SIBLINGS_DEBIT)
        return (DocumentType.FEE_NOTICE_SINGLE_SELF if single
                else DocumentType.FEE_NOTICE_SIBLINGS_SELF)

    def business_key(self, effective: date) -> str:
        return f"fee-notice:{effective.isoformat()}:{self.guardian_id}"


def _euro(amount_cents: int) -> Decimal:
    return Decimal(amount_cents) / 100


def plan(session: Session, effective: date, payer: int | None = None) -> list[Notice]:
    """Every notice the switch on ``effective`` (a 1st of a month) needs, without rendering;
    with ``payer``, only that guardian's (the assessment then loads their households)."""
    require(session, Permission.FEES_READ)
    first = month_start(period_of(effective))
    if first != effective:
        raise RuleViolation(f"the fee switch is on the 1st of a month, not {effective}",
                            record="fee_notice", field="effective", rule=RULE)
    # Assessed contracts only: excluded children and a child's second contract carry no
    # fee (group None); a full waiver is a notice of 0,00 € all the same.
    scope = None if payer is None else list(session.scalars(
        select(CareContract.id).where(CareContract.payer_guardian_id == payer)))
    fees = [a for a in MonthAssessor(session, first, contract_ids=scope).all(
        debit_scope_only=True) if a.group is not None
        and (payer is None or a.payer_guardian_id == payer)]
    if not fees:
        return []
    contract_ids = [a.contract_id for a in fees]
    facility_of = dict(session.execute(
        select(CareContract.id, Facility.name)
        .outerjoin(Facility, Facility.id == CareContract.facility_id)
        .where(CareContract.id.in_(contract_ids))).all())
    names = {row[0]: f"{row[1]} {row[2]}" for row in session.execute(
        select(Child.id, Child.first_name, Child.family_name)
        .where(Child.id.in_({a.child_id for a in fees})))}
    payers = {a.payer_guardian_id for a in fees}
    family_of = dict(session.execute(
        select(Guardian.id, Guardian.family_id).where(Guardian.id.in_(payers))).all())
    debit = set(session.scalars(select(PaymentSetup.guardian_id).where(
        PaymentSetup.guardian_id.in_(payers),
        PaymentSetup.payment_method == PaymentMethod.DIRECT_DEBIT)))
    by_payer: dict[int, list[ChildFee]] = defaultdict(list)
    for a in sorted(fees, key=lambda a: (a.payer_guardian_id, a.child_id)):
        # the hours of the term the month is assessed with, not today's (issue 13 item 3)
        facility = facility_of[a.contract_id]
        by_payer[a.payer_guardian_id].append(ChildFee(
            a.contract_id, a.child_id, names[a.child_id], a.pkn, a.daily_hours, a.cost_centre,
            facility or a.cost_centre, a.amount_cents))
    return [Notice(g, family_of[g], tuple(children), g in debit)
            for g, children in sorted(by_payer.items())]


def _bank(setup: PaymentSetup) -> tuple[str, str]:
    """Masked IBAN and the bank's name (schwifty's registry; else the BIC) for the letter."""
    try:
        bank = IBAN(crypto.decrypt(setup.iban_encrypted or "")).bank_name
    except SchwiftyException:
        bank = None
    return masked_iban(setup) or "", bank or setup.bic or "Ihrer Bank"


def fields(session: Session, notice: Notice, effective: date, issued_on: date,
           letterhead: Letterhead) -> dict[str, Any]:
    """The template fields of one notice (the letter shows the IBAN masked)."""
    guardian = session.get(Guardian, notice.guardian_id)
    assert guardian is not None
    name = f"{guardian.first_name} {guardian.family_name}"
    street = " ".join(p for p in (guardian.street, guardian.house_no) if p)
    town = " ".join(p for p in (guardian.postcode, guardian.town) if p)
    out: dict[str, Any] = {
        "recipient_name": name, "recipient_street": street, "recipient_town": town,
        "salutation": f"Guten Tag {name}", "pkn": notice.children[0].pkn or "",
        **letterhead.fields(), "issued_on": issued_on,
        "period": effective.strftime("%d.%m.%Y"),
    }
    if len(notice.children) == 1:
        child = notice.children[0]
        out |= {"child_name": child.name, "care_hours": child.care_hours,
                "cost_centre_name": child.facility, "amount": _euro(child.amount_cents)}
    else:
        out |= {"children": [{"name": c.name, "care_hours": c.care_hours,
                              "cost_centre_name": c.facility, "amount": _euro(c.amount_cents)}
                             for c in notice.children],
                "amount_total": _euro(sum(c.amount_cents for c in notice.children))}
    if notice.direct_debit:
        setup = session.scalar(select(PaymentSetup).where(
            PaymentSetup.guardian_id == notice.guardian_id))
        assert setup is not None
        out["iban"], out["bank"] = _bank(setup)
    return out


def issue(session: Session, notice: Notice, effective: date, *, issued_on: date,
          letterhead: Letterhead, tenant: str = "city", target: Store = "internal"
          ) -> tuple[FiledDocument, bool]:
    """Render and file one notice; an already filed one (same key) is returned as is."""
    require(session, Permission.FEES_WRITE)
    key = notice.business_key(effective)
    filed = session.scalar(select(FiledDocument).where(FiledDocument.business_key == key))
    if filed is not None:  # a rerun after an interruption: no rendering, no second copy
        return filed, False
    child = notice.children[0]
    subject = Generation(
        family_id=notice.family_id, business_key=key,
        reference_date=effective, child_id=child.child_id if len(notice.children) == 1
        else None, pkn=child.pkn, cost_centre=child.cost_centre, valid_from=effective)
    return generate_and_file(session, notice.doc_type,
                             fields(session, notice, effective, issued_on, letterhead),
                             subject, tenant=tenant, target=target)
