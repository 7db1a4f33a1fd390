"""Parental fees over HTTP (fees.md; Lastenheft 3.10): fee preview, statute versions,
fee facts and decisions, extra care, payment setup, debit runs, corrections, the
"offene Änderungen" list and the collective notices of a fee switch.

Permissions (data-protection M8, R12): finance (the fee office) and admin act; ZVS reads;
facility leads and carriers get 403 on every fee route — placement roles never read
income or fee data. Clear IBANs leave only masked, and only to roles with the bank right.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from ekita.core.access import Permission, may_reveal
from ekita.core.errors import NotFound
from ekita.core.models.fees import DebitRun, FeeFact, ReceivableLine
from ekita.core.schemas.common import MAX_ID
from ekita.core.schemas.fees import (
    AssessmentOut,
    DebitRunOut,
    ExtraCareIn,
    FactEnd,
    FactIn,
    FactOut,
    PaymentSetupIn,
    Period,
    ReceivableOut,
    StatuteChange,
    StatuteIn,
    StatuteOut,
)
from ekita.core.services.base import page, require
from ekita.core.services.documents.family_file import store_for
from ekita.core.services.fees import cases, notices, statutes
from ekita.core.services.fees.assessment import Assessment, MonthAssessor
from ekita.core.services.fees.corrections import pending_corrections, run_corrections
from ekita.core.services.fees.debit_run import RunResult, run_debit
from ekita.core.services.fees.explain import explained_corrections
from ekita.core.services.fees.lost_fees import lost_fees
from ekita.core.services.fees.rules import month_start
from ekita.hub.api.deps import DB, Pages, PathId, Who, WriteDB

router = APIRouter(prefix="/fees", tags=["fees"])


def _run_out(result: RunResult) -> dict[str, Any]:
    return {"id": result.run_id, "period": result.period, "kind": str(result.kind),
            "seq": result.seq, "record_count": result.record_count,
            "control_sum_cents": result.control_sum_cents, "created": result.created,
            "quarantined": result.quarantined,
            "dry_run": result.dry_run}


@router.get("/preview", response_model=AssessmentOut)
def preview(session: DB, contract_id: Annotated[int, Query(ge=1, le=MAX_ID)],
            period: Period) -> dict:
    """The fee of a contract for a month, with the computed value and every step (3.10.1)."""
    require(session, Permission.FEES_READ)
    assessor = MonthAssessor(session, month_start(period), contract_ids=[contract_id])
    a = assessor.for_contract(contract_id)
    if a is None:
        raise NotFound(f"no contract {contract_id} in force in {period}",
                       record="care_contract", field="contract_id",
                       rule="fees.md §7.1: a fee needs a contract in force")
    return {"contract_id": a.contract_id, "period": period, "group": a.group,
            "hours": str(a.hours) if a.hours is not None else None, "rank": a.rank,
            "single_parent": a.single_parent, "full_cents": a.full_cents,
            "computed_cents": a.computed_cents, "amount_cents": a.amount_cents,
            "notes": a.notes,
            "lines": [{"fee_type": t, "amount_cents": v,
                       "computed_cents": a.computed_cents if t == "ELTERNBEITRAG" else v,
                       "detail": ""} for t, v in a.lines().items()],
            **_origins(assessor.statute, a)}


def _origins(statute: statutes.Statute, a: Assessment) -> dict[str, Any]:
    """Issue 13 item 7 (D10): whether the shown full fee and the charged cell are printed,
    derived or overridden by the version."""
    if a.group is None or a.hours is None:
        return {"full_origin": None, "fee_origin": None}
    return {"full_origin": statute.cell_origin(a.group, a.hours),
            "fee_origin": statute.fee_origin(a.group, a.hours, a.rank, a.single_parent)}


@router.get("/statutes", response_model=list[StatuteOut])
def list_statutes(session: DB) -> list:
    """Every version with its table cells marked published, derived or overridden (D10)."""
    return [statutes.describe(row) for row in statutes.list_statutes(session)]


@router.patch("/statutes/{statute_id}", response_model=StatuteOut)
def change_statute(session: WriteDB, statute_id: PathId, body: StatuteChange) -> Any:
    """Correct a version before anything is debited or noticed under it (else 409)."""
    statute = statutes.update_statute(session, statute_id, body)
    session.commit()
    return statutes.describe(statute)


@router.delete("/statutes/{statute_id}", status_code=204)
def withdraw_statute(session: WriteDB, statute_id: PathId) -> Response:
    """Withdraw the latest version before it is used; the previous one runs on."""
    statutes.delete_statute(session, statute_id)
    session.commit()
    return Response(status_code=204)


@router.post("/statutes", response_model=StatuteOut, status_code=201)
def add_statute(session: WriteDB, body: StatuteIn) -> Any:
    """A new version from a 1st of month; months already debited are then corrected."""
    statute = statutes.create_statute(session, body)
    session.commit()
    return statutes.describe(statute)


@router.post("/facts", response_model=FactOut, status_code=201)
def add_fact(session: WriteDB, body: FactIn) -> Any:
    fact = cases.add_fact(session, body)
    session.commit()
    return fact


@router.get("/facts", response_model=list[FactOut])
def list_facts(session: DB, child_id: Annotated[int, Query(ge=1, le=MAX_ID)]) -> list:
    require(session, Permission.FEES_READ)
    return list(session.scalars(select(FeeFact).where(FeeFact.child_id == child_id)
                                .order_by(FeeFact.valid_from)))


@router.patch("/facts/{fact_id}", response_model=FactOut)
def end_fact(session: WriteDB, fact_id: PathId, body: FactEnd) -> Any:
    fact = cases.end_fact(session, fact_id, body.valid_to)
    session.commit()
    return fact


@router.delete("/facts/{fact_id}", status_code=204)
def withdraw_fact(session: WriteDB, fact_id: PathId) -> Response:
    cases.withdraw_fact(session, fact_id)
    session.commit()
    return Response(status_code=204)


@router.post("/extra-care", status_code=201)
def record_extra_care(session: WriteDB, body: ExtraCareIn) -> dict:
    row = cases.record_extra_care(session, body)
    session.commit()
    return {"id": row.id}


@router.put("/payment-setups")
def set_payment(session: WriteDB, who: Who, body: PaymentSetupIn) -> dict:
    setup = cases.set_payment(session, body)
    session.commit()
    return {"guardian_id": setup.guardian_id, "payment_method": setup.payment_method,
            "iban": cases.masked_iban(setup) if may_reveal(who.role, "bank") else None,
            "mandate_reference": setup.mandate_reference}


@router.post("/debit-runs", response_model=DebitRunOut)
def debit_run(session: WriteDB, period: Period, dry_run: bool = False) -> dict:
    """The debit run of a month (3.10.9); a rerun answers the existing run, created=false."""
    result = run_debit(session, period, dry_run=dry_run)
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return _run_out(result)


@router.get("/debit-runs", response_model=list[DebitRunOut])
def list_runs(session: DB) -> list:
    require(session, Permission.FEES_READ)
    return [{"id": r.id, "period": r.period, "kind": str(r.kind), "seq": r.seq,
             "record_count": r.record_count, "control_sum_cents": r.control_sum_cents}
            for r in session.scalars(select(DebitRun).order_by(DebitRun.id))]


@router.get("/receivables")
def receivables(session: DB, pages: Pages, period: Period | None = None,
                contract_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                pkn: Annotated[str | None, Query(pattern=r"^\d{8}$")] = None) -> dict:
    require(session, Permission.FEES_READ)
    stmt = select(ReceivableLine).order_by(ReceivableLine.id)
    if period:
        stmt = stmt.where(ReceivableLine.period == period)
    if contract_id:
        stmt = stmt.where(ReceivableLine.contract_id == contract_id)
    if pkn:
        stmt = stmt.where(ReceivableLine.pkn == pkn)
    items, total = page(session, stmt, pages.limit, pages.offset)
    return {"items": [ReceivableOut.model_validate(i).model_dump(mode="json") for i in items],
            "total": total, "limit": pages.limit, "offset": pages.offset}


@router.get("/open-changes")
def open_changes(session: DB, period: Period | None = None) -> dict:
    """"Offene Änderungen" (fees.md §11.6, 3.10.5): corrections due but not yet booked."""
    lines = pending_corrections(session, [period] if period else None)
    return {"items": [{**ln, "fee_type": str(ln["fee_type"]), "line_kind": str(ln["line_kind"]),
                       "due_date": ln["due_date"].isoformat()} for ln in lines],
            "total": len(lines)}


@router.get("/corrections/explained")
def corrections_explained(session: DB, on: date | None = None) -> list[dict[str, Any]]:
    """Pending corrections per payer and month with booked, new amount, difference and the
    changes that caused them: term or fact, valid from when, entered by whom (issue 13
    item 8). Read-only; ``POST /fees/corrections`` books them."""
    return [e.as_dict() for e in explained_corrections(session, on=on)]


@router.post("/corrections", response_model=DebitRunOut)
def corrections(session: WriteDB, dry_run: bool = False) -> dict:
    """Book every pending correction as credit or back-charge (3.10.5, 3.10.9)."""
    result = run_corrections(session, dry_run=dry_run)
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return _run_out(result)


@router.get("/worklists/missing-pkn")
def missing_pkn(session: DB, period: Period) -> dict:
    """Contracts the debit run of ``period`` leaves out for want of a PKN (3.10.1.7): the
    fee office assigns one, and the next corrections run posts the month."""
    require(session, Permission.FEES_READ)
    items = [{"contract_id": a.contract_id, "child_id": a.child_id,
              "amount_cents": sum(a.lines().values())}
             for a in MonthAssessor(session, month_start(period)).all(debit_scope_only=True)
             if a.pkn is None and a.lines()]
    return {"items": items, "total": len(items)}


def _notice_out(notice: notices.Notice) -> dict[str, Any]:
    return {"guardian_id": notice.guardian_id, "family_id": notice.family_id,
            "doc_type": str(notice.doc_type), "children": len(notice.children),
            "amount_cents": sum(c.amount_cents for c in notice.children)}


@router.get("/notices")
def plan_notices(session: DB, pages: Pages, effective: date) -> dict:
    """The collective notices a fee switch on ``effective`` (a 1st) needs (3.10.14.2):
    one per payer, with its variant and monthly total; ``ekita-hub billing notices``
    renders and files them."""
    planned = notices.plan(session, effective)
    by_type = Counter(str(n.doc_type) for n in planned)
    window = planned[pages.offset:pages.offset + pages.limit]
    return {"items": [_notice_out(n) for n in window], "total": len(planned),
            "by_type": dict(sorted(by_type.items())), "limit": pages.limit,
            "offset": pages.offset}


@router.post("/notices/{guardian_id}", status_code=201)
def issue_notice(request: Request, session: WriteDB, guardian_id: PathId, effective: date,
                 response: Response) -> dict:
    """Render and file one payer's notice for the switch on ``effective`` (a re-issue after
    a correction gets its own switch date); an already filed one is answered with 200."""
    planned = notices.plan(session, effective, payer=guardian_id)
    if not planned:
        raise NotFound(f"guardian {guardian_id} pays no assessed fee in the month from "
                       f"{effective}", record="guardian", field="guardian_id",
                       rule=notices.RULE)
    settings = request.app.state.settings
    doc, created = notices.issue(session, planned[0], effective, issued_on=date.today(),
                                 letterhead=settings.letterhead,
                                 target=store_for(settings.document_store, "city"))
    session.commit()
    if not created:
        response.status_code = 200
    return {**_notice_out(planned[0]), "document_id": doc.id, "created": created}


@router.get("/reports/lost-fees")
def lost_fee_report(session: DB, period: Period) -> dict:
    """Entgangene Elternbeiträge of a month (fees.md §15.1): by cause, absolute and in %."""
    return lost_fees(session, period).as_dict()
