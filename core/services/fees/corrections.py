"""Corrections after a run (fees.md §11.3–4, Lastenheft 3.10.3, 3.10.5, 3.10.9).

For every month that has its debit run: ``delta = recomputed − booked`` per PKN,
contract and fee type (booked = SOLL + every earlier correction). A positive delta is a
back-charge (NACHFORDERUNG), a negative one a credit (GUTSCHRIFT), each with the next
correction number. Running it again finds nothing: what is booked then equals what is
due. A late income proof, a withdrawn single-parent status, an exit, a new statute and
reported extra care all come through here. The dry run is the "offene Änderungen" list.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ekita.core.access import Permission
from ekita.core.models.exchange import JobRun
from ekita.core.models.fees import DebitRun, DebitRunKind, FeeType, LineKind, ReceivableLine
from ekita.core.services.base import require
from ekita.core.services.fees import posting
from ekita.core.services.fees.assessment import MonthAssessor
from ekita.core.services.fees.debit_run import RunResult, _record
from ekita.core.services.fees.rules import add_months, month_start, period_of
from ekita.core.services.fees.statutes import StatuteBook

Key = tuple[str, int, str]  # pkn, contract id, fee type


def debited_periods(session: Session) -> list[str]:
    return list(session.scalars(select(DebitRun.period).where(
        DebitRun.kind == DebitRunKind.SOLL).order_by(DebitRun.period)))


def _booked(session: Session, period: str) -> dict[Key, tuple[int, int, int, str]]:
    """Per key: (sum booked, highest correction number, payer, cost centre)."""
    rows = session.execute(
        select(ReceivableLine.pkn, ReceivableLine.contract_id, ReceivableLine.fee_type,
               func.sum(ReceivableLine.amount_cents), func.max(ReceivableLine.correction_no),
               func.max(ReceivableLine.payer_guardian_id), func.max(ReceivableLine.cost_centre))
        .where(ReceivableLine.period == period)
        .group_by(ReceivableLine.pkn, ReceivableLine.contract_id, ReceivableLine.fee_type))
    return {(pkn, cid, str(ft)): (int(total), int(no), payer, cc)
            for pkn, cid, ft, total, no, payer, cc in rows}


def pending_corrections(session: Session, periods: list[str] | None = None, *,
                        on: date | None = None) -> list[dict[str, Any]]:
    """Every correction line due now (not yet written): the "offene Änderungen" (§11.6)."""
    require(session, Permission.FEES_READ)
    on = on or date.today()
    book = StatuteBook(session)
    wanted = set(periods) if periods else None
    due_date = add_months(on.replace(day=1), 1).replace(day=15)
    lines: list[dict[str, Any]] = []
    for period in debited_periods(session):
        if wanted is not None and period not in wanted:
            continue
        assessor = MonthAssessor(session, month_start(period), book=book)
        due: dict[Key, tuple[int, int, str]] = {}
        for a in assessor.all(debit_scope_only=True):
            if a.pkn is None:
                continue
            for fee_type, amount in a.lines().items():
                due[(a.pkn, a.contract_id, str(fee_type))] = (amount, a.payer_guardian_id,
                                                              a.cost_centre or "-")
        booked = _booked(session, period)
        for key in sorted(set(due) | set(booked)):
            now_due, payer, centre = due.get(key, (0, 0, ""))
            total, last_no, booked_payer, booked_centre = booked.get(key, (0, 0, 0, ""))
            delta = now_due - total
            if delta == 0:
                continue
            line = {"pkn": key[0], "contract_id": key[1],
                    "payer_guardian_id": payer or booked_payer,
                    "cost_centre": centre or booked_centre, "period": period,
                    "fee_type": FeeType(key[2]),
                    "line_kind": LineKind.NACHFORDERUNG if delta > 0 else LineKind.GUTSCHRIFT,
                    "correction_no": last_no + 1, "amount_cents": delta,
                    "due_date": due_date}
            line["external_ref"] = posting.external_ref(line)
            lines.append(line)
    return lines


def run_corrections(session: Session, periods: list[str] | None = None, *,
                    on: date | None = None, dry_run: bool = False,
                    job_run: JobRun | None = None) -> RunResult:
    """Write the pending corrections as one correction run (numbered per booking month)."""
    require(session, Permission.FEES_WRITE)
    on = on or date.today()
    lines = pending_corrections(session, periods, on=on)
    booking = period_of(on)
    total = sum(line["amount_cents"] for line in lines)
    result = RunResult(booking, DebitRunKind.KORREKTUR, None, len(lines), total,
                       created=bool(lines) and not dry_run, dry_run=dry_run, lines=lines)
    if dry_run or not lines:
        return result
    seq = (session.scalar(select(func.max(DebitRun.seq)).where(
        DebitRun.period == booking, DebitRun.kind == DebitRunKind.KORREKTUR)) or 0) + 1
    run = DebitRun(period=booking, kind=DebitRunKind.KORREKTUR, seq=seq,
                   record_count=len(lines), control_sum_cents=total)
    _record(session, run, lines, 0, job_run)
    result.run_id, result.seq = run.id, seq
    return result


def by_period(lines: list[dict[str, Any]]) -> dict[str, int]:
    """Sum of correction amounts per affected month (for the CLI and API summaries)."""
    sums: dict[str, int] = defaultdict(int)
    for line in lines:
        sums[line["period"]] += line["amount_cents"]
    return dict(sums)
