"""Statute versions with validity (fees.md §3, §14): tables are data, checked by D1–D5.

The 9-hour fee of a care type is given directly (``full9``) or follows from the operating
costs and the parents' share (3.10.13, B §11(1)) within the corridor of SächsKitaG §15(2);
every cell of the fee table is marked published, derived or overridden (decision D10).

A new version starts on a 1st of month (B §10(4): at the earliest on 1 September for a
yearly adjustment); the previous open version ends the day before. Months already
debited are recomputed by the corrections run (``corrections.run_corrections``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.access import Permission
from ekita.core.errors import Conflict, NotFound, RuleViolation
from ekita.core.models.documents import FiledDocument
from ekita.core.models.fees import FeeStatute, ReceivableLine
from ekita.core.schemas.fees import CostBasis, StatuteChange, StatuteIn, StatuteParams
from ekita.core.services.base import load, require
from ekita.core.services.fees.rules import (
    CARE_TYPE_NAMES,
    SHARE_CORRIDOR,
    CellOrigin,
    Discounts,
    FeeGroup,
    full_fee,
    money,
    nine_hour_fee,
    parents_fee,
)

_H = ["10", "9", "8", "7", "6", "4.5"]
_HORT_H = ["9", "8", "7", "6", "5"]

#: Anlage C "Konfiguration Elternbeiträge" (fees.md §3), € per month:
#: hours → [1st, 2nd, 1st single parent, 2nd single parent].
PUBLISHED_2011: dict[FeeGroup, dict[str, list[str]]] = {
    FeeGroup.KK: dict(zip(_H, [
        ["210.40", "126.24", "189.36", "105.20"], ["189.36", "113.62", "170.42", "94.68"],
        ["168.32", "100.99", "151.49", "84.16"], ["147.28", "88.37", "132.55", "73.64"],
        ["126.24", "75.74", "113.62", "63.12"], ["94.68", "56.81", "85.21", "47.34"]],
        strict=True)),
    FeeGroup.KG: dict(zip(_H, [
        ["146.81", "88.09", "132.13", "73.41"], ["132.13", "79.28", "118.92", "66.07"],
        ["117.45", "70.47", "105.71", "58.73"], ["102.77", "61.66", "92.49", "51.39"],
        ["88.09", "52.85", "79.28", "44.05"], ["66.07", "39.64", "59.46", "33.04"]],
        strict=True)),
    FeeGroup.HORT: dict(zip(_HORT_H, [
        ["118.34", "71.00", "106.51", "59.17"], ["105.19", "63.11", "94.67", "52.60"],
        ["92.04", "55.22", "82.84", "46.02"], ["78.89", "47.33", "71.00", "39.45"],
        ["65.74", "39.44", "59.17", "32.87"]], strict=True)),
    FeeGroup.FOERD: dict(zip(_HORT_H, [
        ["146.88", "88.13", "132.19", "73.44"], ["130.56", "78.34", "117.50", "65.28"],
        ["114.24", "68.54", "102.82", "57.12"], ["97.92", "58.75", "88.13", "48.96"],
        ["81.60", "48.96", "73.44", "40.80"]], strict=True)),
}

#: B §11(1) shares (23/30/30/25 %) of the operating costs for 2010. The seed does not print
#: the costs; they are the 9-hour fees × 100 / share, rounded half-up to the cent, which
#: give the published 9-hour fees back exactly (decisions F19).
COST_BASIS_2011: dict[str, dict[str, str]] = {
    "KK": {"operating_costs": "823.30", "parents_share_pct": "23"},
    "KG": {"operating_costs": "440.43", "parents_share_pct": "30"},
    "HORT": {"operating_costs": "394.47", "parents_share_pct": "30"},
    "FOERD": {"operating_costs": "587.52", "parents_share_pct": "25"},
}

#: The statute "Vom 23. Juni 2011" (Anlage B; 28 June 2011 is the date it was signed).
DEFAULT_2011 = {
    "name": "Elternbeitragssatzung vom 23. Juni 2011",
    "valid_from": date(2011, 9, 1),
    "params": {
        "full9": {"KK": "189.36", "KG": "132.13", "HORT": "118.34", "FOERD": "146.88"},
        "cost_basis": COST_BASIS_2011,
        # B §4 offers 4.5–11 h (Hort 5–11 h); 11 h (KK/KG), 10–11 h (Hort/Förd.) by D1 (F3).
        "tiers": {"KK": ["4.5", "6", "7", "8", "9", "10", "11"],
                  "KG": ["4.5", "6", "7", "8", "9", "10", "11"],
                  "HORT": ["5", "6", "7", "8", "9", "10", "11"],
                  "FOERD": ["5", "6", "7", "8", "9", "10", "11"]},
        "published": {g.value: rows for g, rows in PUBLISHED_2011.items()},
    },
}


@dataclass(frozen=True)
class Statute:
    """A loaded statute version, ready for the arithmetic."""

    id: int
    valid_from: date
    valid_to: date | None
    params: StatuteParams

    @property
    def discounts(self) -> Discounts:
        p = self.params
        return Discounts(p.second_child_pct, p.single_parent_pct, p.free_from_rank)

    def tier(self, group: FeeGroup, hours: Decimal) -> Decimal:
        """The booked tier: the smallest offered tier not below the contracted hours (F4)."""
        offered = sorted(self.params.tiers.get(group, []))
        for tier in offered:
            if hours <= tier:
                return tier
        if not offered:
            raise RuleViolation(f"statute {self.id} has no tiers for {group}",
                                record="fee_statute", field="params.tiers",
                                rule="fees.md §3: tiers per care type")
        return offered[-1]

    def full(self, group: FeeGroup, hours: Decimal) -> Decimal:
        """The full fee of the booked tier: the version's override of that cell (D10), else
        D1 from the 9-hour fee."""
        tier = self.tier(group, hours)
        override = _at_tier(self.params.overrides.get(group, {}), tier)
        return override if override is not None else full_fee(self.params.full9[group], tier)

    def cell_origin(self, group: FeeGroup, tier: Decimal, column: int = 0) -> CellOrigin:
        """Where a cell comes from (D10): columns 0–3 are 1st, 2nd, 1st and 2nd single
        parent; an overridden tier's discounted columns follow from it by D2–D5."""
        if _at_tier(self.params.published.get(group, {}), tier) is not None:
            return CellOrigin.PUBLISHED
        if column == 0 and _at_tier(self.params.overrides.get(group, {}), tier) is not None:
            return CellOrigin.OVERRIDDEN
        return CellOrigin.DERIVED

    def fee_origin(self, group: FeeGroup, tier: Decimal, rank: int | None,
                   single: bool) -> CellOrigin | None:
        """The origin of the cell charged for a rank; None from the free rank (no cell)."""
        rank = rank or 1
        if rank >= self.params.free_from_rank:
            return None
        return self.cell_origin(group, tier, (1 if rank == 2 else 0) + (2 if single else 0))

    def cells(self) -> dict[str, dict[str, list[dict[str, object]]]]:
        """Every cell of the table, offered and printed tiers, with its origin (D10)."""
        d, out = self.discounts, {}
        for group in FeeGroup:
            tiers = set(self.params.tiers.get(group, [])) | {
                money(h) for h in self.params.published.get(group, {})}
            if group not in self.params.full9 or not tiers:
                continue
            rows = {}
            for tier in sorted(tiers):
                full = self.full(group, tier) if tier in self.params.tiers.get(group, []) \
                    else full_fee(self.params.full9[group], tier)
                amounts = [parents_fee(full, rank, single, d) for rank, single in _COLUMNS]
                rows[_key(tier)] = [{"amount": amount, "origin": self.cell_origin(group, tier, i)}
                                    for i, amount in enumerate(amounts)]
            out[group.value] = rows
        return out


_COLUMNS = [(1, False), (2, False), (1, True), (2, True)]
T = TypeVar("T")


def _key(tier: Decimal) -> str:
    """"4.5", "9", "10": the tier as the tables name it."""
    return format(tier.normalize(), "f")


def _at_tier(cells: dict[str, T], tier: Decimal) -> T | None:
    """The entry of a table keyed by hours ("4.5", "9") for a tier, if there is one."""
    for hours, value in cells.items():
        if money(hours) == tier:
            return value
    return None


_BASIS_RULE = "Lastenheft 3.10.13, B §11(1): 9-hour fee = operating costs × share, half-up"
_D10 = "decision D10: a version may override a cell that would otherwise be derived"


def _check_corridor(group: FeeGroup, basis: CostBasis) -> None:
    low, high = SHARE_CORRIDOR[group]
    if not low <= basis.parents_share_pct <= high:
        raise RuleViolation(
            f"{CARE_TYPE_NAMES[group]}: a parents' share of {basis.parents_share_pct} % is "
            f"outside {low}–{high} % of the operating costs", record="fee_statute",
            field=f"params.cost_basis.{group}.parents_share_pct",
            rule=f"SächsKitaG §15(2) (Anlage A): {CARE_TYPE_NAMES[group]} {low}–{high} %")


def _check_overrides(params: StatuteParams) -> None:
    """D10: only an offered tier's full fee that no printed row and no full9 fixes."""
    for group, cells in params.overrides.items():
        offered = params.tiers.get(group, [])
        for hours, _amount in cells.items():
            field = f"params.overrides.{group}.{hours}"
            tier = money(hours)
            if tier not in offered:
                raise RuleViolation(f"{group} offers no {hours} h tier to override",
                                    record="fee_statute", field=field, rule=_D10)
            if _at_tier(params.published.get(group, {}), tier) is not None:
                raise RuleViolation(f"{group} {hours} h is a published cell; correct "
                                    "params.published instead", record="fee_statute",
                                    field=field, rule=_D10)
            if tier == 9:
                raise RuleViolation(f"the {group} 9-hour fee is set by full9 or cost_basis",
                                    record="fee_statute", field=field, rule=_D10)


def resolve_params(params: StatuteParams) -> StatuteParams:
    """Check a version's parameters and fill in the 9-hour fees that follow from the cost
    basis; the answer is what is stored. One clear error names the first problem."""
    full9 = dict(params.full9)
    for group, basis in params.cost_basis.items():
        _check_corridor(group, basis)
        derived = nine_hour_fee(basis.operating_costs, basis.parents_share_pct)
        if group in full9 and full9[group] != derived:
            raise RuleViolation(
                f"{CARE_TYPE_NAMES[group]}: full9 {full9[group]} differs from "
                f"{basis.operating_costs} × {basis.parents_share_pct} % = {derived}",
                record="fee_statute", field=f"params.full9.{group}", rule=_BASIS_RULE)
        full9[group] = derived
    for group, tiers in params.tiers.items():
        if tiers and group not in full9:
            raise RuleViolation(f"{CARE_TYPE_NAMES[group]} has tiers but no 9-hour fee",
                                record="fee_statute", field=f"params.full9.{group}",
                                rule="fees.md §3: full9 or cost_basis per care type")
    resolved = params.model_copy(update={"full9": full9})
    _check_overrides(resolved)
    check_published(resolved)
    return resolved


def check_published(params: StatuteParams) -> None:
    """Every published table value must follow from the 9-hour fee by D1–D5 (fees.md §4)."""
    d = Discounts(params.second_child_pct, params.single_parent_pct, params.free_from_rank)
    for group, rows in params.published.items():
        if group not in params.full9:
            raise RuleViolation(f"published table {group} without a 9-hour fee",
                                record="fee_statute", field=f"params.full9.{group}",
                                rule="fees.md §4 D1")
        for hours, row in rows.items():
            full = full_fee(params.full9[group], money(hours))
            expected = [parents_fee(full, 1, False, d), parents_fee(full, 2, False, d),
                        parents_fee(full, 1, True, d), parents_fee(full, 2, True, d)]
            for column, (given, derived) in enumerate(zip(row, expected, strict=True)):
                if given != derived:
                    raise RuleViolation(
                        f"published {group} {hours} h column {column + 1}: {given} differs "
                        f"from the derived {derived}", record="fee_statute",
                        field=f"params.published.{group}.{hours}", rule="fees.md §4 D1–D5")


def _as_statute(row: FeeStatute) -> Statute:
    return Statute(row.id, row.valid_from, row.valid_to, StatuteParams.model_validate(row.params))


def create_statute(session: Session, data: StatuteIn) -> FeeStatute:
    """Add a version from a 1st of month; the open previous version ends the day before."""
    require(session, Permission.FEES_WRITE)
    if data.valid_from.day != 1:
        raise RuleViolation("a statute version starts on the 1st of a month",
                            record="fee_statute", field="valid_from",
                            rule="fees.md §14.4: automatic switch at a 1st of month")
    params = resolve_params(data.params)
    rows = list(session.scalars(select(FeeStatute).order_by(FeeStatute.valid_from)))
    if any(r.valid_from >= data.valid_from for r in rows):
        raise Conflict(f"a statute version from {data.valid_from} or later exists",
                       record="fee_statute", field="valid_from",
                       rule="fees.md §14: versions follow each other")
    for row in rows:
        if row.valid_to is None or row.valid_to >= data.valid_from:
            row.valid_to = data.valid_from - timedelta(days=1)
    statute = FeeStatute(name=data.name, valid_from=data.valid_from,
                         params=params.model_dump(mode="json"))
    session.add(statute)
    session.flush()
    return statute


def _in_use(session: Session, row: FeeStatute) -> str | None:
    """Why a version can no longer change: months booked under it, or notices issued."""
    first = row.valid_from.strftime("%Y-%m")
    booked = select(ReceivableLine.period).where(ReceivableLine.period >= first)
    if row.valid_to is not None:
        booked = booked.where(ReceivableLine.period <= row.valid_to.strftime("%Y-%m"))
    if session.scalar(booked.limit(1)) is not None:
        return "months under it are debited"
    noticed = select(FiledDocument.id).where(
        FiledDocument.business_key.like(f"fee-notice:{row.valid_from.isoformat()}:%"))
    if session.scalar(noticed.limit(1)) is not None:
        return "collective notices for its switch are filed"
    return None


def _unused(session: Session, statute_id: int) -> FeeStatute:
    row = load(session, FeeStatute, statute_id, field="statute_id")
    reason = _in_use(session, row)
    if reason:
        raise Conflict(f"statute version {statute_id} cannot change: {reason}; add a successor "
                       "version instead (the corrections run settles booked months)",
                       record="fee_statute", field="statute_id",
                       rule="fees.md §11.3–4, §14.4: booked fees change through corrections")
    return row


def update_statute(session: Session, statute_id: int, change: StatuteChange) -> FeeStatute:
    """Correct a version's name or tables before anything is booked or noticed under it."""
    require(session, Permission.FEES_WRITE)
    row = _unused(session, statute_id)
    if change.params is not None:
        row.params = resolve_params(change.params).model_dump(mode="json")
    if change.name is not None:
        row.name = change.name
    session.flush()
    return row


def delete_statute(session: Session, statute_id: int) -> None:
    """Withdraw the latest version before it is used; its predecessor runs on open-ended."""
    require(session, Permission.FEES_WRITE)
    row = _unused(session, statute_id)
    later = session.scalar(select(FeeStatute.id).where(FeeStatute.valid_from > row.valid_from)
                           .limit(1))
    if later is not None:
        raise Conflict(f"statute version {statute_id} has a successor ({later}); withdraw that "
                       "first", record="fee_statute", field="statute_id",
                       rule="fees.md §14: versions follow each other without gaps")
    previous = session.scalar(select(FeeStatute).where(FeeStatute.valid_from < row.valid_from)
                              .order_by(FeeStatute.valid_from.desc()).limit(1))
    if previous is not None and previous.valid_to == row.valid_from - timedelta(days=1):
        previous.valid_to = None
    session.delete(row)
    session.flush()


def load_default(session: Session) -> FeeStatute | None:
    """Seed the 2011 statute (Anlage B/C) unless a version exists; None when one did."""
    require(session, Permission.FEES_WRITE)
    if session.scalar(select(FeeStatute.id).limit(1)) is not None:
        return None
    return create_statute(session, StatuteIn.model_validate(DEFAULT_2011))


def describe(row: FeeStatute) -> dict[str, object]:
    """A version as the API shows it: its data and every table cell with its origin. A row
    whose params were not written by these services (no tiers) is shown as stored, with
    no cells, rather than failing the whole list."""
    try:
        cells = _as_statute(row).cells()
    except ValidationError:
        cells = {}
    return {"id": row.id, "name": row.name, "valid_from": row.valid_from,
            "valid_to": row.valid_to, "params": row.params, "cells": cells}


def get_statute(session: Session, statute_id: int) -> FeeStatute:
    require(session, Permission.FEES_READ)
    return load(session, FeeStatute, statute_id, field="statute_id")


def list_statutes(session: Session) -> list[FeeStatute]:
    require(session, Permission.FEES_READ)
    return list(session.scalars(select(FeeStatute).order_by(FeeStatute.valid_from)))


class StatuteBook:
    """All versions, loaded once per run; ``at(month)`` finds the valid one."""

    def __init__(self, session: Session) -> None:
        self.versions = [_as_statute(r) for r in
                         session.scalars(select(FeeStatute).order_by(FeeStatute.valid_from))]

    def at(self, month: date) -> Statute:
        for statute in reversed(self.versions):
            if statute.valid_from <= month and (statute.valid_to is None
                                                or month <= statute.valid_to):
                return statute
        raise NotFound(f"no fee statute valid on {month}", record="fee_statute",
                       field="valid_from", rule="fees.md §14.4: statutes carry validity")
