"""Fee facts, extra care and payment setup: the fee office's case data (fees.md §5–§9).

Every change here is audited (``Tracked``); a retroactive change shows up in the next
corrections run, not by editing booked lines.
"""

from __future__ import annotations

from datetime import date

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core import crypto
from ekita.core.access import Permission
from ekita.core.errors import RuleViolation
from ekita.core.models import CareContract, Child, Guardian
from ekita.core.models.fees import ExtraCare, FactKind, FeeFact, PaymentMethod, PaymentSetup
from ekita.core.schemas.fees import ExtraCareIn, FactIn, PaymentSetupIn
from ekita.core.services.base import load, require

#: R12: waivers and reductions are decided by EB Kita only.
DECISIONS = {FactKind.WAIVER, FactKind.REDUCTION}


def _check_period(valid_from: date, valid_to: date | None, record: str) -> None:
    if valid_to is not None and valid_to < valid_from:
        raise RuleViolation("valid_to lies before valid_from", record=record, field="valid_to",
                            rule="fees.md §9.2: decisions are time-limited periods")


def add_fact(session: Session, data: FactIn) -> FeeFact:
    require(session, Permission.FEES_WAIVER if data.kind in DECISIONS else Permission.FEES_WRITE)
    load(session, Child, data.child_id, field="child_id")
    if data.contract_id is not None:
        contract = load(session, CareContract, data.contract_id, field="contract_id")
        if contract.child_id != data.child_id:
            raise RuleViolation("the contract belongs to another child", record="fee_fact",
                                field="contract_id", rule="fees.md §7: a fact of the child")
    _check_period(data.valid_from, data.valid_to, "fee_fact")
    if data.kind in (FactKind.OVERRIDE, FactKind.REDUCTION) and data.amount_cents is None:
        raise RuleViolation(f"a {data.kind} needs amount_cents", record="fee_fact",
                            field="amount_cents", rule="Lastenheft 3.10.1, fees.md §9")
    if data.kind == FactKind.WAIVER and data.valid_to is None:
        raise RuleViolation("a waiver is always time-limited", record="fee_fact",
                            field="valid_to", rule="fees.md §9.2 (B §13(1)), 3.10.3: max. 1 year")
    fact = FeeFact(**data.model_dump())
    session.add(fact)
    session.flush()
    return fact


def end_fact(session: Session, fact_id: int, valid_to: date) -> FeeFact:
    """End a fact, also retroactively (e.g. a single-parent status found unjustified)."""
    fact = load(session, FeeFact, fact_id)
    require(session, Permission.FEES_WAIVER if fact.kind in DECISIONS else Permission.FEES_WRITE)
    _check_period(fact.valid_from, valid_to, "fee_fact")
    fact.valid_to = valid_to
    session.flush()
    return fact


def withdraw_fact(session: Session, fact_id: int) -> None:
    """Withdraw a fact entirely (never justified): it no longer applies to any month."""
    fact = load(session, FeeFact, fact_id)
    require(session, Permission.FEES_WAIVER if fact.kind in DECISIONS else Permission.FEES_WRITE)
    session.delete(fact)
    session.flush()


def record_extra_care(session: Session, data: ExtraCareIn) -> ExtraCare:
    """A facility's report of extra care or non-pickup for one day (3.6.13)."""
    require(session, Permission.FEES_WRITE)
    load(session, CareContract, data.contract_id, field="contract_id")
    if not data.exceeded_tiers and not data.not_picked_up:
        raise RuleViolation("nothing to charge: no exceeded tier and no non-pickup",
                            record="fee_extra_care", field="exceeded_tiers",
                            rule="fees.md §8")
    row = ExtraCare(**data.model_dump())
    session.add(row)
    session.flush()
    return row


def set_payment(session: Session, data: PaymentSetupIn) -> PaymentSetup:
    """Create or replace a payer's payment setup; the IBAN is validated and encrypted."""
    require(session, Permission.FEES_WRITE)
    load(session, Guardian, data.guardian_id, field="guardian_id")
    encrypted = None
    if data.payment_method == PaymentMethod.DIRECT_DEBIT:
        if not data.iban or not data.mandate_reference:
            raise RuleViolation("direct debit needs an IBAN and a SEPA mandate reference",
                                record="payment_setup", field="iban" if not data.iban
                                else "mandate_reference", rule="Anlage I/J: SEPA mandate")
        try:
            iban = IBAN(data.iban)
        except SchwiftyException as exc:
            raise RuleViolation("the IBAN is not valid", record="payment_setup", field="iban",
                                rule="ISO 13616 (checked with schwifty)") from exc
        encrypted = crypto.encrypt(iban.compact)
    setup = session.scalar(select(PaymentSetup).where(
        PaymentSetup.guardian_id == data.guardian_id))
    if setup is None:
        setup = PaymentSetup(guardian_id=data.guardian_id)
        session.add(setup)
    setup.payment_method = data.payment_method
    setup.iban_encrypted = encrypted
    setup.bic = data.bic
    setup.holder = data.holder
    setup.mandate_reference = data.mandate_reference
    setup.mandate_signed_on = data.mandate_signed_on
    session.flush()
    return setup


def masked_iban(setup: PaymentSetup) -> str | None:
    """For roles with the bank right: the IBAN with all but the last 4 digits hidden."""
    if not setup.iban_encrypted:
        return None
    clear = crypto.decrypt(setup.iban_encrypted)
    return clear[:4] + "*" * (len(clear) - 8) + clear[-4:]
