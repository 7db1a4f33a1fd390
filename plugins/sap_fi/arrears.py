"""The arrears return flow (interfaces.md §5 F6, fees.md §12, Lastenheft 3.10.10).

SAP reports open items per payer (PKN) in an arrears file (``xsd/arrears.xsd``). The file
is taken in through the inbox (``accept_inbound``: the same file twice is applied once)
and each payer's case is updated; a payer more than two months behind is on the finance
worklist. The file is a full snapshot: a payer on the list who is missing from a newer
file has paid and is marked cleared. EB Kita records "termination started" (known only
inside EB Kita, data-protection R11) and, in the exceptional case, the termination; then
the contract ends on the termination date, the place is free from the next day, and the
facility lead is informed through a ``ContractTerminated`` domain event (no reason, no
arrears figures: she needs the free place, not the payer's debts).

The file is hostile input (issue 12 item 6): it is capped (``input_caps.sap_arrears``),
spooled to a temporary file while hashed, validated in a first streaming pass (XSD, no
DOCTYPE, one record per PKN) and applied in a second, in batches, so memory stays flat
whatever the number of payers and a bad file changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import IO, Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.access import Principal
from ekita.core.errors import Conflict, NotFound, RuleViolation
from ekita.core.models.arrears import ArrearsCase, ArrearsStatus
from ekita.core.models.contracts import CareContract
from ekita.core.models.events import DomainEvent
from ekita.core.models.exchange import Cursor
from ekita.core.models.people import Pkn
from ekita.core.outbox import accept_inbound
from ekita.hub.inputs import Source, Spooled, cap_for, iter_xml, spool_capped
from ekita.plugins.sap_fi.idoc import PACKAGE
from ekita.plugins.sap_fi.xmltools import schema

XSD = "arrears.xsd"
RULE = "Lastenheft 3.10.10: arrears of more than 2 months"
#: Statuses that keep a case on the worklist while SAP reports it behind.
WORKLIST_STATES = (ArrearsStatus.OPEN, ArrearsStatus.TERMINATION_STARTED)
RECORD = "arrears_file"
#: Payers applied per flush: bounded memory, few round trips.
BATCH = 1000


@dataclass(frozen=True)
class ArrearsRecord:
    """One payer's open items as SAP reports them (interfaces.md §5 ArrearsRecord)."""

    pkn: str
    debtor_no: str | None
    months_overdue: int
    amount_overdue_cents: int
    oldest_due_date: date


@dataclass(frozen=True)
class ArrearsFile:
    as_of: date
    records: list[ArrearsRecord]


@dataclass(frozen=True)
class ImportResult:
    applied: bool  # False: the same file was taken in before, nothing changed
    as_of: date
    records: int
    on_worklist: int
    cleared: int
    stale: bool = False  # older than a file already applied: recorded, nothing changed


#: Remembers the newest file date applied, so a late older file changes nothing.
CURSOR = "sap_fi.arrears.as_of"


def render_arrears(records: Iterable[ArrearsRecord], as_of: date) -> bytes:
    """An arrears file as SAP (here: the sandbox SAP peer) sends it."""
    root = etree.Element("ARREARS", AS_OF=as_of.isoformat(), VERSION="1")
    for rec in records:
        item = etree.SubElement(root, "ITEM")
        etree.SubElement(item, "PKN").text = rec.pkn
        if rec.debtor_no:
            etree.SubElement(item, "DEBTOR_NO").text = rec.debtor_no
        etree.SubElement(item, "MONTHS_OVERDUE").text = str(rec.months_overdue)
        etree.SubElement(item, "AMOUNT_OVERDUE_CENTS").text = str(rec.amount_overdue_cents)
        etree.SubElement(item, "OLDEST_DUE_DATE").text = rec.oldest_due_date.isoformat()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _items(stream: IO[bytes]) -> Iterator[etree._Element]:
    """The root (at its start), then each ITEM: streamed, XSD-checked, no DOCTYPE."""
    return iter_xml(stream, record=RECORD, tag="ITEM", schema=schema(PACKAGE, XSD))


def _record(item: etree._Element) -> ArrearsRecord:
    return ArrearsRecord(
        pkn=item.findtext("PKN"), debtor_no=item.findtext("DEBTOR_NO"),
        months_overdue=int(item.findtext("MONTHS_OVERDUE")),
        amount_overdue_cents=int(item.findtext("AMOUNT_OVERDUE_CENTS")),
        oldest_due_date=date.fromisoformat(item.findtext("OLDEST_DUE_DATE")))


@dataclass(frozen=True)
class _Checked:
    as_of: date
    pkns: frozenset[str]
    records: int


def _check(stream: IO[bytes]) -> _Checked:
    """First pass: the whole file is valid, or nothing is applied."""
    items = _items(stream)
    as_of = next(items).get("AS_OF")  # the XSD checks it by the end of the pass
    pkns: set[str] = set()
    count = 0
    for item in items:
        pkn = item.findtext("PKN")
        if pkn in pkns:
            raise RuleViolation("a PKN is listed twice in the arrears file", record=RECORD,
                                field="pkn", rule="interfaces.md §5: one ArrearsRecord per PKN")
        pkns.add(pkn)
        count += 1
    return _Checked(date.fromisoformat(as_of), frozenset(pkns), count)


def _records(stream: IO[bytes]) -> Iterator[ArrearsRecord]:
    """Second pass over a checked file."""
    items = _items(stream)
    next(items)
    return (_record(item) for item in items)


def parse_arrears(content: Source, *, max_bytes: int | None = None) -> ArrearsFile:
    """Parse and validate an inbound arrears file (no DOCTYPE, no entities, XSD-valid);
    all records in memory: for tests and small files, ``import_arrears`` streams."""
    with spool_capped(content, cap=max_bytes or cap_for("sap_arrears"), name=RECORD) as file:
        checked = _check(file.reader())
        return ArrearsFile(checked.as_of, list(_records(file.reader())))


def import_arrears(session: Session, content: Source | Spooled, source: str,
                   min_months: int = 2, *, max_bytes: int | None = None) -> ImportResult:
    """Apply an arrears file once, in the caller's transaction.

    ``content`` is the file's bytes, its path, a binary stream or an upload already
    spooled; over ``max_bytes`` (default: ``input_caps.sap_arrears``) it is refused before
    it is read whole, and nothing is applied."""
    if isinstance(content, Spooled):
        return _import_spooled(session, content, source, min_months)
    cap = max_bytes or cap_for("sap_arrears")
    with spool_capped(content, cap=cap, name=RECORD) as spooled:
        return _import_spooled(session, spooled, source, min_months)


def _import_spooled(session: Session, spooled: Spooled, source: str, min_months: int
                    ) -> ImportResult:
    checked = _check(spooled.reader())
    with session.begin_nested():  # a failure half-way leaves nothing behind
        return _apply(session, spooled, checked, source, min_months)


def _apply(session: Session, spooled: Spooled, checked: _Checked, source: str,
           min_months: int) -> ImportResult:
    as_of, count = checked.as_of, checked.records
    if accept_inbound(session, adapter="sap_fi", kind="arrears", digest=spooled.sha256,
                      source=source, record_count=count) is None:
        return ImportResult(False, as_of, count, 0, 0)
    cursor = session.get(Cursor, CURSOR)
    if cursor is None:
        cursor = Cursor(name=CURSOR, position=0)
        session.add(cursor)
    if as_of.toordinal() < cursor.position:  # a late older file: SAP's past view
        return ImportResult(True, as_of, count, 0, 0, stale=True)
    cursor.position = as_of.toordinal()
    on_list = 0
    batch: list[ArrearsRecord] = []
    for rec in _records(spooled.reader()):
        on_list += rec.months_overdue > min_months
        batch.append(rec)
        if len(batch) >= BATCH:
            _apply_batch(session, batch, as_of)
            batch = []
    _apply_batch(session, batch, as_of)
    cleared = _clear_missing(session, checked.pkns, as_of)
    return ImportResult(True, as_of, count, on_list, cleared)


def _apply_batch(session: Session, batch: list[ArrearsRecord], as_of: date) -> None:
    if not batch:
        return
    cases = {c.pkn: c for c in session.scalars(
        select(ArrearsCase).where(ArrearsCase.pkn.in_([r.pkn for r in batch])))}
    for rec in batch:
        case = cases.get(rec.pkn)
        if case is None:
            case = ArrearsCase(pkn=rec.pkn, status=ArrearsStatus.OPEN, as_of=as_of,
                               months_overdue=0, amount_overdue_cents=0,
                               oldest_due_date=rec.oldest_due_date)
            session.add(case)
        if case.status is ArrearsStatus.CLEARED:
            case.status, case.cleared_on = ArrearsStatus.OPEN, None
        case.debtor_no = rec.debtor_no
        case.months_overdue = rec.months_overdue
        case.amount_overdue_cents = rec.amount_overdue_cents
        case.oldest_due_date = rec.oldest_due_date
        case.as_of = as_of
    session.flush()  # flushed cases are weakly held: memory stays at one batch


def _clear_missing(session: Session, listed: frozenset[str], as_of: date) -> int:
    """A payer on the worklist whom the newer file does not list has paid."""
    ids = [cid for cid, pkn in session.execute(select(ArrearsCase.id, ArrearsCase.pkn).where(
        ArrearsCase.status.in_(WORKLIST_STATES))) if pkn not in listed]
    for start in range(0, len(ids), BATCH):
        for case in session.scalars(select(ArrearsCase).where(
                ArrearsCase.id.in_(ids[start:start + BATCH]))):
            case.status, case.cleared_on, case.as_of = (ArrearsStatus.CLEARED, as_of, as_of)
        session.flush()
    return len(ids)


def worklist(session: Session, min_months: int = 2) -> list[ArrearsCase]:
    """Payers more than ``min_months`` months behind, oldest debt first."""
    return list(session.scalars(
        select(ArrearsCase)
        .where(ArrearsCase.months_overdue > min_months,
               ArrearsCase.status.in_(WORKLIST_STATES))
        .order_by(ArrearsCase.oldest_due_date, ArrearsCase.pkn)))


def _case(session: Session, case_id: int) -> ArrearsCase:
    case = session.get(ArrearsCase, case_id)
    if case is None:
        raise NotFound(f"no arrears case {case_id}", record="arrears_case", field="id",
                       rule="exists")
    return case


def start_termination(session: Session, case_id: int, on: date) -> ArrearsCase:
    """Record that EB Kita started the termination process (3.10.10; R11: EB Kita only)."""
    case = _case(session, case_id)
    if case.status is not ArrearsStatus.OPEN:
        raise Conflict(f"the case is {case.status.value}, not open", record="arrears_case",
                       field="status", rule="Lastenheft 3.10.10: termination starts from open")
    case.status, case.termination_started_on = ArrearsStatus.TERMINATION_STARTED, on
    session.flush()
    return case


def _contract_of_payer(session: Session, case: ArrearsCase, contract_id: int) -> CareContract:
    contract = session.get(CareContract, contract_id)
    if contract is None:
        raise NotFound(f"no contract {contract_id}", record="care_contract", field="id",
                       rule="exists")
    family_parts = {n[:6] for n in session.scalars(
        select(Pkn.number).where(Pkn.child_id == contract.child_id))}
    if case.pkn[:6] not in family_parts:
        raise RuleViolation("the contract's child is not of the payer's family (PKN)",
                            record="arrears_case", field="contract_id",
                            rule="fees.md §10.1: the PKN's first 6 digits name the family")
    return contract


def terminate(session: Session, case_id: int, *, contract_id: int, on: date, reason: str,
              principal: Principal) -> ArrearsCase:
    """The exceptional termination for arrears: the contract ends on ``on``, the place is
    free from the next day, and the facility lead is informed (3.10.10)."""
    case = _case(session, case_id)
    if case.status is not ArrearsStatus.TERMINATION_STARTED:
        raise Conflict(f"the case is {case.status.value}; start the termination first",
                       record="arrears_case", field="status",
                       rule="Lastenheft 3.10.10: termination follows its examination")
    if not reason.strip():
        raise RuleViolation("a termination needs its reason", record="arrears_case",
                            field="reason", rule="Lastenheft 3.10.10: record the reason")
    contract = _contract_of_payer(session, case, contract_id)
    if on < contract.start_date or (contract.end_date is not None and on > contract.end_date):
        raise RuleViolation("the termination date lies outside the contract",
                            record="arrears_case", field="terminated_on",
                            rule="Lastenheft 3.10.10: place free at the termination date")
    contract.end_date = on
    case.status, case.terminated_on = ArrearsStatus.TERMINATED, on
    case.terminated_contract_id, case.termination_reason = contract.id, reason.strip()
    session.add(DomainEvent(
        kind="ContractTerminated", application_id=None, facility_id=contract.facility_id,
        occurred_on=on, actor=principal.name,
        payload={"contract_id": contract.id, "child_id": contract.child_id,
                 "terminated_on": on.isoformat(),
                 "place_free_from": (on + timedelta(days=1)).isoformat()}))
    session.flush()
    return case


def case_view(case: ArrearsCase) -> dict[str, Any]:
    """The worklist row as the API answers it (EB Kita roles only)."""
    return {"id": case.id, "pkn": case.pkn, "debtor_no": case.debtor_no,
            "months_overdue": case.months_overdue,
            "amount_overdue_cents": case.amount_overdue_cents,
            "oldest_due_date": case.oldest_due_date.isoformat(), "as_of": case.as_of.isoformat(),
            "status": case.status.value,
            "termination_started_on": _iso(case.termination_started_on),
            "terminated_on": _iso(case.terminated_on),
            "terminated_contract_id": case.terminated_contract_id}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def from_mapping(data: Mapping[str, Any]) -> ArrearsRecord:
    return ArrearsRecord(pkn=str(data["pkn"]), debtor_no=data.get("debtor_no"),
                         months_overdue=int(data["months_overdue"]),
                         amount_overdue_cents=int(data["amount_overdue_cents"]),
                         oldest_due_date=date.fromisoformat(str(data["oldest_due_date"])))
