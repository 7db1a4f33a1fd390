"""Corrections that explain themselves (issue 13 item 8, fees.md §11.3–4).

A pending correction says what is booked for a payer's month, what is due now, the
difference, and why: the change-log rows of what the month's fee is made of — the
contract's dated terms, the contract itself, the child's fee facts (waivers, reductions,
single-parent status …) and sibling links, the contract's extra care and the statutes —
that are valid on or before the month's end and were recorded after the month was last
booked (its newest debit or correction run). The fee office sees which fact changed,
valid from when and entered by whom, instead of a bare amount. Values of sensitive
fields are masked for roles that may not see them. Read-only: booking stays with
``run_corrections``, so a rerun books nothing twice and then explains nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ekita.core.access import Permission, redact
from ekita.core.db.base import Tracked
from ekita.core.models import CareContract, ContractTerm
from ekita.core.models.audit import AuditEvent
from ekita.core.models.fees import (
    DebitRun,
    ExtraCare,
    FeeFact,
    FeeStatute,
    ReceivableLine,
    SiblingLink,
)
from ekita.core.services.base import require
from ekita.core.services.fees.corrections import pending_corrections
from ekita.core.services.fees.rules import month_end, month_start
from ekita.core.services.terms import TERM_FIELDS
from ekita.core.tracking import entity_name, jsonable, principal_of

Key = tuple[str, int, str]  # period, contract id, pkn

# The entities whose changes can move a month's fee, by table name (for their __sensitive__).
SOURCES: dict[str, type[Tracked]] = {entity_name(c): c for c in (
    ContractTerm, CareContract, FeeFact, SiblingLink, ExtraCare, FeeStatute)}


@dataclass
class Explained:
    """One payer's month with a pending correction, and the changes behind it."""

    period: str
    contract_id: int
    pkn: str
    booked_cents: int
    new_cents: int
    booked_at: datetime | None
    causes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def difference_cents(self) -> int:
        return self.new_cents - self.booked_cents

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period, "contract_id": self.contract_id, "pkn": self.pkn,
                "booked_cents": self.booked_cents, "new_cents": self.new_cents,
                "difference_cents": self.difference_cents,
                "booked_at": self.booked_at.isoformat() if self.booked_at else None,
                "causes": self.causes}


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC timestamps; PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _booked(session: Session, key: Key) -> tuple[int, datetime | None]:
    """What the month holds for the contract and PKN, and when it was last booked."""
    period, contract_id, pkn = key
    total, booked_at = session.execute(
        select(func.coalesce(func.sum(ReceivableLine.amount_cents), 0),
               func.max(DebitRun.created_at))
        .join(DebitRun, DebitRun.id == ReceivableLine.run_id)
        .where(ReceivableLine.period == period, ReceivableLine.contract_id == contract_id,
               ReceivableLine.pkn == pkn)).one()
    return int(total), _aware(booked_at) if booked_at else None


def _sources(session: Session, contract_id: int) -> list[tuple[str, list[int] | None]]:
    """(entity, ids) of the records that make the contract's fee; None = every record."""
    child_id = session.scalar(select(CareContract.child_id).where(
        CareContract.id == contract_id))
    ids = {
        "contract_term": list(session.scalars(select(ContractTerm.id).where(
            ContractTerm.contract_id == contract_id))),
        "care_contract": [contract_id],
        "fee_fact": list(session.scalars(select(FeeFact.id).where(
            FeeFact.child_id == child_id))),
        "fee_sibling_link": list(session.scalars(select(SiblingLink.id).where(or_(
            SiblingLink.child_id == child_id, SiblingLink.sibling_id == child_id)))),
        "fee_extra_care": list(session.scalars(select(ExtraCare.id).where(
            ExtraCare.contract_id == contract_id))),
    }
    return [*ids.items(), ("fee_statute", None)]


def _new_term(session: Session, ev: AuditEvent) -> dict[str, list[Any]]:
    """A term opened by a dated change reads as that change: only the term fields that
    differ from the term it follows, with that term's value as "before"."""
    if ev.action != "create":
        return ev.changes
    term = session.get(ContractTerm, ev.entity_id)
    prior = None if term is None else session.scalar(select(ContractTerm).where(
        ContractTerm.contract_id == term.contract_id,
        ContractTerm.valid_to == term.valid_from - timedelta(days=1)))
    if prior is None:
        return ev.changes
    old = {k: jsonable(getattr(prior, k)) for k in TERM_FIELDS}
    return {k: [old[k], new] for k, (_b, new) in ev.changes.items()
            if k in TERM_FIELDS and not _same(k, old[k], new)}


def _same(name: str, a: Any, b: Any) -> bool:
    """Logged hours may read "6" or "6.00": equal as numbers."""
    if name == "daily_hours" and a is not None and b is not None:
        return Decimal(str(a)) == Decimal(str(b))
    return a == b


def causes(session: Session, contract_id: int, period: str,
           booked_at: datetime | None) -> list[dict[str, Any]]:
    """The change-log rows valid by the month's end and recorded after its booking, one
    per changed field, in business order; sensitive values masked for the caller's role."""
    role = principal_of(session).role
    last = month_end(month_start(period))
    out: list[dict[str, Any]] = []
    for entity, ids in _sources(session, contract_id):
        if ids is not None and not ids:
            continue
        stmt = (select(AuditEvent).where(AuditEvent.entity == entity,
                                         AuditEvent.valid_from <= last)
                .order_by(AuditEvent.valid_from, AuditEvent.id))
        if ids is not None:
            stmt = stmt.where(AuditEvent.entity_id.in_(ids))
        sensitive = getattr(SOURCES[entity], "__sensitive__", {})
        for ev in session.scalars(stmt):
            if booked_at is not None and _aware(ev.recorded_at) <= booked_at:
                continue
            changes = _new_term(session, ev) if entity == "contract_term" else ev.changes
            before = redact({k: v[0] for k, v in changes.items()}, sensitive, role)
            after = redact({k: v[1] for k, v in changes.items()}, sensitive, role)
            for name in sorted(changes):
                if name == "id":
                    continue
                out.append({"entity": entity, "entity_id": ev.entity_id, "action": ev.action,
                            "field": name, "before": before.get(name),
                            "after": after.get(name),
                            "valid_from": ev.valid_from.isoformat(), "actor": ev.actor,
                            "recorded_at": _aware(ev.recorded_at).isoformat()})
    out.sort(key=lambda c: (c["valid_from"], c["recorded_at"]))
    return out


def explained_corrections(session: Session, periods: list[str] | None = None, *,
                          on: date | None = None) -> list[Explained]:
    """Every pending correction per month, contract and PKN (fee types summed), with its
    booked and new amount and the changes that explain it (issue 13 item 8)."""
    require(session, Permission.FEES_READ)
    deltas: dict[Key, int] = defaultdict(int)
    for line in pending_corrections(session, periods, on=on):
        deltas[(line["period"], line["contract_id"], line["pkn"])] += line["amount_cents"]
    found = []
    for key in sorted(deltas):
        total, booked_at = _booked(session, key)
        found.append(Explained(key[0], key[1], key[2], total, total + deltas[key], booked_at,
                               causes(session, key[1], key[0], booked_at)))
    return found
