"""Dated contract terms (issue 13 items 1–3): what a contract says on a given day.

A contract's terms tile its period (both ends inclusive) without gap or overlap. Every
consumer that needs the care type, the hours or the reserved-place flag of a day or a
month reads them here — ``term_on`` for one day, ``terms_in`` for a period — never the
contract's own columns, which only mirror the term valid today for readers not yet
converted (decisions: contract terms).

A change valid from a day closes the running term the day before and opens the next; a
changed field is carried into the later terms that still had the old value, so a later
change already recorded (a future one, entered first) keeps its own value, as replaying
the change log in business order would. Hour changes of the city's contracts need two
months' notice to the 1st of a month (Anlage B §9(3)/(4); Hort one month, 002 §5(3))
unless an override names its reason; a change of care type brings its own hours and a
change valid from the contract's start corrects the contract as concluded: neither is
held to the notice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import event, exists, inspect, or_, select
from sqlalchemy.orm import Session

from ekita.core.errors import RuleViolation
from ekita.core.models import CareContract, Carrier, ContractTerm, Facility
from ekita.core.models.enums import CareType, CarrierCategory
from ekita.core.tracking import today

TERM_FIELDS = ("care_type", "daily_hours", "company_reserved_place")
NOTICE_RULE = "Anlage B §9(3)/(4): two months' notice, to the 1st of a calendar month"
HORT_NOTICE_RULE = "002 §5(3): Hort hours change in whole months, one month's notice"
HORT = {CareType.HORT, CareType.INTEGRATION_HORT}
_CHUNK = 10000  # ids per statement, well inside every driver's parameter limit


@dataclass(frozen=True)
class Term:
    """A term as consumers see it: clipped to the period asked for and to the contract."""

    contract_id: int
    valid_from: date
    valid_to: date  # inclusive; clipped, so never open
    care_type: CareType
    daily_hours: Decimal
    company_reserved_place: bool

    @property
    def days(self) -> int:
        return (self.valid_to - self.valid_from).days + 1


def predominant(terms: list[Term]) -> Term:
    """The term valid on most days of the period; a tie goes to the earlier one
    (issue 13 items 3 and 5: a month is assessed with what was valid on most of its days)."""
    return max(terms, key=lambda t: (t.days, -t.valid_from.toordinal()))


def _clip(contract_id: int, lo: date, hi: date | None, first: date, last: date,
          values: tuple[Any, Any, Any]) -> Term | None:
    start, end = max(lo, first), min(hi or last, last)
    if start > end:
        return None
    return Term(contract_id, start, end, CareType(values[0]), Decimal(values[1]),
                bool(values[2]))


def terms_in(session: Session, first: date, last: date,
             contract_ids: Iterable[int] | None = None) -> dict[int, list[Term]]:
    """Per contract, its terms overlapping ``first..last``, clipped to it and to the
    contract's period, in date order. A contract without stored terms (rows bulk-written
    outside the services) reads as one term made of its own columns."""
    ids = None if contract_ids is None else sorted(set(contract_ids))
    chunks: list[list[int] | None] = [None] if ids is None else [
        ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
    out: dict[int, list[Term]] = defaultdict(list)
    t, c = ContractTerm, CareContract
    overlap = (c.start_date <= last, or_(c.end_date.is_(None), c.end_date >= first))
    for chunk in chunks:
        stored = (select(t.contract_id, t.valid_from, t.valid_to, t.care_type, t.daily_hours,
                         t.company_reserved_place, c.start_date, c.end_date)
                  .join(c, c.id == t.contract_id)
                  .where(*overlap, t.valid_from <= last,
                         or_(t.valid_to.is_(None), t.valid_to >= first))
                  .order_by(t.contract_id, t.valid_from))
        legacy = (select(c.id, c.start_date, c.end_date, c.care_type, c.daily_hours,
                         c.company_reserved_place)
                  .where(*overlap, ~exists().where(t.contract_id == c.id)))
        if chunk is not None:
            stored = stored.where(t.contract_id.in_(chunk))
            legacy = legacy.where(c.id.in_(chunk))
        for cid, lo, hi, care, hours, reserved, start, end in session.execute(stored):
            ends = [d for d in (hi, end) if d is not None]
            lo, hi = max(lo, start), min(ends) if ends else None
            term = _clip(cid, lo, hi, first, last, (care, hours, reserved))
            if term is not None:
                out[cid].append(term)
        for cid, start, end, care, hours, reserved in session.execute(legacy):
            term = _clip(cid, start, end, first, last, (care, hours, reserved))
            if term is not None:
                out[cid].append(term)
    return dict(out)


def term_on(session: Session, contract_id: int, day: date) -> Term | None:
    """The term valid on ``day``; None outside the contract's period."""
    found = terms_in(session, day, day, [contract_id]).get(contract_id)
    return found[0] if found else None


# ------------------------------------------------------------------------------ changes


def earliest_change(requested_on: date, care_type: CareType) -> date:
    """The first day an hour change requested on ``requested_on`` may take effect: the
    first 1st of a month at least two months later (T17: requested 10 March → 1 June);
    for Hort one month (002 §5(3))."""
    months = 1 if care_type in HORT else 2
    month = requested_on.month - 1 + months
    later = requested_on.replace(day=1, year=requested_on.year + month // 12,
                                 month=month % 12 + 1)
    if requested_on.day == 1:
        return later
    month = later.month  # the next 1st after requested_on + n months
    return later.replace(year=later.year + month // 12, month=month % 12 + 1)


def _city_contract(session: Session, contract: CareContract) -> bool:
    """The city's contracts (municipal facilities, childminding: 3.10.2) follow Anlage B."""
    if contract.facility_id is None:
        return True
    category = session.scalar(select(Carrier.category).join(
        Facility, Facility.carrier_id == Carrier.id).where(Facility.id == contract.facility_id))
    return category == CarrierCategory.MUNICIPAL


def rows_of(session: Session, contract: CareContract) -> list[ContractTerm]:
    """The contract's stored terms in date order; a contract without any gets its first
    term from its own columns (contracts written before terms, or in bulk)."""
    rows = list(session.scalars(select(ContractTerm).where(
        ContractTerm.contract_id == contract.id).order_by(ContractTerm.valid_from)))
    if not rows:
        rows = [first_term(session, contract)]
    return rows


def first_term(session: Session, contract: CareContract, *, flush: bool = True
               ) -> ContractTerm:
    """The one term of a new contract, over its whole period."""
    term = ContractTerm(contract_id=contract.id, valid_from=contract.start_date,
                        valid_to=contract.end_date, care_type=contract.care_type,
                        daily_hours=contract.daily_hours,
                        company_reserved_place=bool(contract.company_reserved_place))
    session.add(term)
    if flush:
        session.flush([term])
    return term


def preload(session: Session, contracts: list[CareContract]) -> dict[int, list[ContractTerm]]:
    """The stored terms of many contracts in one query, in date order; a contract without
    any gets its first term from its own columns (added, flushed with the caller's)."""
    found: dict[int, list[ContractTerm]] = {c.id: [] for c in contracts}
    for term in session.scalars(select(ContractTerm).where(
            ContractTerm.contract_id.in_(list(found))).order_by(ContractTerm.valid_from)):
        found[term.contract_id].append(term)
    for contract in contracts:
        if not found[contract.id]:
            found[contract.id] = [first_term(session, contract, flush=False)]
    return found


def _bad(message: str, field: str, rule: str) -> RuleViolation:
    return RuleViolation(message, record="contract_term", field=field, rule=rule)


def _check_notice(session: Session, contract: CareContract, cover: ContractTerm, day: date,
                  requested_on: date | None, override_reason: str | None) -> str | None:
    """Refuse a short-notice hour change unless an override gives its reason; return the
    reason to keep on the new term."""
    requested = requested_on or today()
    if requested > today():
        raise _bad(f"requested_on {requested} is in the future", "requested_on",
                   "a request is dated when it was received")
    if day <= contract.start_date or not _city_contract(session, contract):
        return None  # the contract as concluded, or a carrier's own contract
    earliest = earliest_change(requested, CareType(cover.care_type))
    if day >= earliest and day.day == 1:
        return None
    reason = (override_reason or "").strip()
    if reason:
        return reason
    rule = HORT_NOTICE_RULE if cover.care_type in HORT else NOTICE_RULE
    raise _bad(f"an hour change requested on {requested} takes effect on a 1st of a month "
               f"from {earliest} on, not {day}; give override_reason to accept it anyway",
               "valid_from", rule)


def change(session: Session, contract: CareContract, day: date, changes: dict[str, Any], *,
           requested_on: date | None = None, override_reason: str | None = None,
           rows: list[ContractTerm] | None = None) -> ContractTerm | None:
    """Apply term-field ``changes`` valid from ``day`` (issue 13 item 1); None if nothing
    changes. A day before the contract's start applies from the start. Bulk writers pass
    the contract's ``rows`` (``preload``) instead of one query per contract."""
    unknown = set(changes) - set(TERM_FIELDS)
    if unknown:
        raise _bad(f"{sorted(unknown)} are not term fields", sorted(unknown)[0],
                   f"a term holds {', '.join(TERM_FIELDS)}")
    day = max(day, contract.start_date)
    if contract.end_date is not None and day > contract.end_date:
        raise _bad(f"valid_from {day} is after the contract's end {contract.end_date}",
                   "valid_from", "a term lies within its contract's period")
    rows = rows if rows is not None else rows_of(session, contract)
    index = next(i for i in range(len(rows)) if rows[i].valid_from <= day
                 and (i + 1 == len(rows) or rows[i + 1].valid_from > day))
    cover = rows[index]
    real = {k: v for k, v in changes.items() if getattr(cover, k) != v}
    if not real:
        return None
    reason = None
    if "daily_hours" in real and "care_type" not in real:  # a new care type brings its hours
        reason = _check_notice(session, contract, cover, day, requested_on, override_reason)
    if cover.valid_from < day:
        start = ContractTerm(contract_id=contract.id, valid_from=day, valid_to=cover.valid_to,
                             **{k: getattr(cover, k) for k in TERM_FIELDS})
        cover.valid_to = day - timedelta(days=1)
        session.add(start)
        rows.insert(index + 1, start)
        index += 1
    else:
        start = cover
    start.override_reason = reason
    for key, value in real.items():
        old = getattr(start, key)
        for row in rows[index:]:
            if getattr(row, key) != old:
                break  # a later change of this field stands
            setattr(row, key, value)
    for row in rows[index:]:
        _check_term(row)
    session.flush()
    return start


def _check_term(row: ContractTerm) -> None:
    low, high = CareType(row.care_type).tier_range
    if not low <= Decimal(row.daily_hours) <= high:
        raise _bad(f"{row.daily_hours} h from {row.valid_from} is outside {low}..{high} h "
                   f"for {row.care_type}", "daily_hours", "care-time tiers (Anlage B §4)")


def fit_to_period(session: Session, contract: CareContract, *, flush: bool = True,
                  rows: list[ContractTerm] | None = None) -> None:
    """After a change of the contract's start or end: terms outside it go, the first and
    the last term reach its ends, so the terms tile the period again. Given ``rows``
    (``preload``), they are fitted in place."""
    given = rows
    if rows is None:
        rows = rows_of(session, contract) if flush else list(session.scalars(
            select(ContractTerm).where(ContractTerm.contract_id == contract.id)
            .order_by(ContractTerm.valid_from)))
    if not rows:
        return
    start, end = contract.start_date, contract.end_date
    kept = [r for r in rows if (end is None or r.valid_from <= end)
            and (r.valid_to is None or r.valid_to >= start)]
    if not kept:  # the period moved past every term: the nearest one carries on
        kept = [rows[0] if end is not None and rows[0].valid_from > end else rows[-1]]
    for row in rows:
        if row not in kept:
            if inspect(row).persistent:
                session.delete(row)
            else:
                session.expunge(row)
    kept[0].valid_from = start
    kept[-1].valid_to = end
    if given is not None:
        given[:] = kept
    if flush:
        session.flush()


@event.listens_for(Session, "before_flush")
def _fit_on_period_change(session: Session, _ctx: Any, _instances: Any) -> None:
    """Writers that move a contract's start or end directly (an exit, 3.6.15) keep its
    terms tiling the period too."""
    for obj in list(session.dirty):
        if not isinstance(obj, CareContract):
            continue
        state = inspect(obj)
        if any(state.attrs[k].history.has_changes() for k in ("start_date", "end_date")):
            if obj.end_date is not None and obj.end_date < obj.start_date:
                continue  # refused by the contract's own rule
            with session.no_autoflush:
                fit_to_period(session, obj, flush=False)


def sync_mirror(session: Session, contract: CareContract, on: date | None = None) -> None:
    """Copy the term valid on ``on`` (default today; clamped into the contract's period)
    onto the contract's own columns, which readers not yet converted still use."""
    day = on or today()
    day = max(day, contract.start_date)
    if contract.end_date is not None:
        day = min(day, contract.end_date)
    rows = rows_of(session, contract)
    current = next((r for r in reversed(rows) if r.valid_from <= day), rows[0])
    for key in TERM_FIELDS:
        if getattr(contract, key) != getattr(current, key):
            setattr(contract, key, getattr(current, key))


def sync_mirrors(session: Session, on: date | None = None) -> int:
    """The daily step that lets a future term take over the mirror from its first day
    (job ``contracts.term_mirror``): every contract whose term valid ``on`` differs from
    its own columns, so a day the job did not run is caught up. Returns how many changed."""
    day = on or today()
    changed = 0
    stmt = select(CareContract).join(ContractTerm, ContractTerm.contract_id == CareContract.id
                                     ).where(
        ContractTerm.valid_from <= day,
        or_(ContractTerm.valid_to.is_(None), ContractTerm.valid_to >= day),
        or_(*(getattr(ContractTerm, k) != getattr(CareContract, k) for k in TERM_FIELDS)))
    for contract in session.scalars(stmt).unique():
        before = tuple(getattr(contract, k) for k in TERM_FIELDS)
        sync_mirror(session, contract, day)
        changed += before != tuple(getattr(contract, k) for k in TERM_FIELDS)
    session.flush()
    return changed
