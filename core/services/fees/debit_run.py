"""The monthly debit run (Sollstellungslauf, fees.md §11.1–2, Lastenheft 3.10.9).

On the last day of a month, for the following month: one SOLL line per contract, payer
PKN and fee type with an amount, for municipal facilities and childminding. The whole
run — lines, SAP-FI messages, debtor records, trailer and the run's figures — commits in
one transaction (decisions F8): a run killed midway leaves nothing, and a rerun of a
period that has its run adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ekita.core import crypto
from ekita.core.access import Permission
from ekita.core.models import CareContract, Guardian
from ekita.core.models.enums import PayerKind
from ekita.core.models.exchange import JobRun
from ekita.core.models.fees import (
    DebitRun,
    DebitRunKind,
    FeeType,
    LineKind,
    PaymentMethod,
    PaymentSetup,
)
from ekita.core.services.base import require
from ekita.core.services.fees import posting
from ekita.core.services.fees.assessment import Assessment, MonthAssessor
from ekita.core.services.fees.rules import add_months, month_start, period_of
from ekita.core.services.fees.statutes import StatuteBook


@dataclass
class RunResult:
    """What a run did (or, dry, would do): the figures SAP reconciles against."""

    period: str
    kind: str
    run_id: int | None
    record_count: int
    control_sum_cents: int
    quarantined: int = 0
    created: bool = True
    dry_run: bool = False
    seq: int = 0
    lines: list[dict[str, Any]] = field(default_factory=list, repr=False)


def next_period(today: date) -> str:
    """S11: the run on the last day of a month is for the following month."""
    return period_of(add_months(today.replace(day=1), 1))


def soll_line(a: Assessment, period: str, fee_type: FeeType, amount: int, due: date
              ) -> dict[str, Any]:
    line = {"pkn": a.pkn, "contract_id": a.contract_id, "payer_guardian_id": a.payer_guardian_id,
            "cost_centre": a.cost_centre or "-", "period": period, "fee_type": fee_type,
            "line_kind": LineKind.SOLL, "correction_no": 0, "amount_cents": amount,
            "due_date": due}
    line["external_ref"] = posting.external_ref(line)
    return line


def _record(session: Session, run: DebitRun, lines: list[dict[str, Any]], quarantined: int,
            job_run: JobRun | None) -> None:
    """Write the run's lines and messages and put its figures on the run and the JobRun."""
    session.add(run)
    session.flush([run])
    for line in lines:
        line["run_id"] = run.id
    posting.post_lines(session, lines, job_run)
    post_debtors(session, lines, job_run)
    posting.post_trailer(session, run.id, run.period, run.record_count, run.control_sum_cents,
                         job_run)
    if job_run is not None:
        job_run.records_in += run.record_count
        job_run.quarantined += quarantined
        job_run.control_sum_cents = (job_run.control_sum_cents or 0) + run.control_sum_cents
        run.job_run_id = job_run.id


def run_debit(session: Session, period: str, *, dry_run: bool = False,
              job_run: JobRun | None = None) -> RunResult:
    """The debit run of ``period``; a second call for the same period adds nothing."""
    require(session, Permission.FEES_WRITE)
    first = month_start(period)
    existing = session.scalar(select(DebitRun).where(
        DebitRun.period == period, DebitRun.kind == DebitRunKind.SOLL, DebitRun.seq == 0))
    if existing is not None:
        return RunResult(period, DebitRunKind.SOLL, existing.id, existing.record_count,
                         existing.control_sum_cents, created=False, dry_run=dry_run)
    book = StatuteBook(session)
    assessor = MonthAssessor(session, first, book=book)
    due = first.replace(day=assessor.statute.params.due_day)
    lines: list[dict[str, Any]] = []
    quarantined = 0
    for a in assessor.all(debit_scope_only=True):
        amounts = a.lines()
        if not amounts:
            continue
        if a.pkn is None:  # no PKN, no receivable (3.10.1.7): listed for the fee office
            quarantined += 1
            continue
        lines.extend(soll_line(a, period, t, v, due) for t, v in amounts.items())
    total = sum(line["amount_cents"] for line in lines)
    result = RunResult(period, DebitRunKind.SOLL, None, len(lines), total, quarantined,
                       dry_run=dry_run, lines=lines)
    if dry_run:
        return result
    run = DebitRun(period=period, kind=DebitRunKind.SOLL, seq=0, record_count=len(lines),
                   control_sum_cents=total)
    _record(session, run, lines, quarantined, job_run)
    result.run_id = run.id
    return result


# ------------------------------------------------------------------------------ debtors


def _chunks(ids: set[int], size: int = 10000) -> list[list[int]]:
    """Id lists small enough for one statement's parameters."""
    ordered = sorted(ids)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def post_debtors(session: Session, lines: list[dict[str, Any]], job_run: JobRun | None) -> None:
    """One ``debtor`` message per PKN and version of its data (interfaces.md §5); an
    unchanged debtor has the same key and is not sent again."""
    payer_of = {line["pkn"]: line["payer_guardian_id"] for line in lines}
    if not payer_of:
        return
    payer_ids = set(payer_of.values())
    cols = (Guardian.id, Guardian.family_name, Guardian.first_name, Guardian.birth_date,
            Guardian.street, Guardian.house_no, Guardian.postcode, Guardian.town)
    guardians: dict[int, dict[str, Any]] = {}
    payers = select(CareContract.payer_guardian_id).distinct().scalar_subquery()
    for row in session.execute(select(*cols).where(Guardian.id.in_(payers))):
        if row[0] not in payer_ids:
            continue
        guardians[row[0]] = {
            "family_name": row[1], "first_name": row[2],
            "birth_date": row[3].isoformat() if row[3] else None, "street": row[4],
            "house_no": row[5], "postcode": row[6], "town": row[7]}
    setups = {s.guardian_id: s for ids in _chunks(payer_ids) for s in session.scalars(
        select(PaymentSetup).where(PaymentSetup.guardian_id.in_(ids)))}
    kinds = dict(session.execute(
        select(CareContract.payer_guardian_id, func.min(CareContract.payer_kind))
        .group_by(CareContract.payer_guardian_id)).all())
    rows = []
    for pkn, guardian_id in sorted(payer_of.items()):
        payload = debtor_payload(pkn, guardians[guardian_id], setups.get(guardian_id),
                                 kinds.get(guardian_id))
        version = posting.debtor_version(payload)
        rows.append((f"{pkn}:{version}", payload))
    posting.post_messages(session, "debtor", rows, job_run)


def debtor_payload(pkn: str, guardian: dict[str, Any], setup: PaymentSetup | None,
                   payer_kind: PayerKind | None) -> dict[str, Any]:
    """The DebtorRecord of interfaces.md §5; the IBAN travels encrypted."""
    if setup is not None:
        method = setup.payment_method
    else:
        method = (PaymentMethod.SELF_PAYER if payer_kind == PayerKind.SELF_PAYER
                  else PaymentMethod.DIRECT_DEBIT)
    mandate = None
    if setup is not None and setup.iban_encrypted:
        mandate = {"reference": setup.mandate_reference,
                   "signed_on": setup.mandate_signed_on.isoformat()
                   if setup.mandate_signed_on else None,
                   # bank data travels as ciphertext, like the IBAN (issue 12 item 3)
                   "iban_encrypted": setup.iban_encrypted,
                   "bic_encrypted": crypto.encrypt(setup.bic) if setup.bic else None,
                   "holder_encrypted": crypto.encrypt(setup.holder) if setup.holder else None}
    return {"pkn": pkn, "guardian": guardian, "payment_method": str(method),
            "mandate": mandate}
