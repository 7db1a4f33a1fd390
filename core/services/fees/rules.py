"""The arithmetic of the statute (fees.md §3, §4, §2 G1/G3, §8): pure functions, no database.

Money is ``Decimal`` built from strings, rounded ``ROUND_HALF_UP`` to the cent; every
percentage applies to the already rounded full fee (D5). Amounts leave this module as
integer cents.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


class FeeGroup(StrEnum):
    """Fee table a contract is charged from (fees.md §2)."""

    KK = "KK"  # Krippe and all childminding (B §11(3))
    KG = "KG"
    HORT = "HORT"
    FOERD = "FOERD"  # Förderhort


def money(value: str | int | Decimal) -> Decimal:
    """A Decimal amount from a string or int (never a float: D6)."""
    if isinstance(value, float):  # pragma: no cover - a programming error
        raise TypeError("money must not be built from a float (fees.md §4 D6)")
    return Decimal(value) if not isinstance(value, Decimal) else value


def cents(amount: Decimal) -> int:
    """Integer cents of an amount already rounded to the cent."""
    return int((amount.quantize(CENT, ROUND_HALF_UP) * HUNDRED).to_integral_value())


def round_cent(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)


#: SächsKitaG §15(2) (Anlage A): the unreduced fee is 20–23 % (Krippe) or 20–30 %
#: (Kindergarten, Hort) of the operating costs; the Förderhort is a Hort (decisions F19).
SHARE_CORRIDOR: dict[FeeGroup, tuple[Decimal, Decimal]] = {
    FeeGroup.KK: (Decimal(20), Decimal(23)),
    FeeGroup.KG: (Decimal(20), Decimal(30)),
    FeeGroup.HORT: (Decimal(20), Decimal(30)),
    FeeGroup.FOERD: (Decimal(20), Decimal(30)),
}
CARE_TYPE_NAMES = {FeeGroup.KK: "Krippe (KK)", FeeGroup.KG: "Kindergarten (KG)",
                   FeeGroup.HORT: "Hort (HORT)", FeeGroup.FOERD: "Förderhort (FOERD)"}


class CellOrigin(StrEnum):
    """Where a fee table cell comes from (decision D10): the printed table, the derivation
    D1–D5, or a value this statute version sets for a cell that would be derived."""

    PUBLISHED = "published"
    DERIVED = "derived"
    OVERRIDDEN = "overridden"


def nine_hour_fee(operating_costs: Decimal, share_pct_: Decimal) -> Decimal:
    """3.10.13, B §11(1): the 9-hour full fee is the parents' share of the monthly
    operating costs, rounded half-up to the cent."""
    return round_cent(operating_costs * share_pct_ / HUNDRED)


def full_fee(full9: Decimal, hours: Decimal) -> Decimal:
    """D1: the full fee of a tier, from the 9-hour fee."""
    return round_cent(full9 * hours / Decimal(9))


@dataclass(frozen=True)
class Discounts:
    """Configurable percentages of a statute version (B §10(5),(6); 3.10.1.1)."""

    second_child_pct: Decimal = Decimal(40)  # the 2nd Zählkind pays 60 %
    single_parent_pct: Decimal = Decimal(10)
    free_from_rank: int = 3


def share_pct(rank: int, single: bool, d: Discounts) -> Decimal:
    """D4: reductions add up in percentage points (100 − 40 − 10), never multiply."""
    if rank >= d.free_from_rank:
        return Decimal(0)
    pct = HUNDRED - (d.second_child_pct if rank == 2 else 0) - (d.single_parent_pct if single
                                                                   else 0)
    return max(pct, Decimal(0))


def parents_fee(full: Decimal, rank: int, single: bool, d: Discounts) -> Decimal:
    """D2–D5: the parents' share of the already rounded full fee."""
    return round_cent(full * share_pct(rank, single, d) / HUNDRED)


def half(amount: Decimal) -> Decimal:
    """§7.2 (Interpretation): 50 % of the final amount, rounded half-up."""
    return round_cent(amount / 2)


# ------------------------------------------------------------------------------- dates


def month_start(period: str) -> date:
    """First day of a period "YYYY-MM"."""
    try:
        year, month = (int(p) for p in period.split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError) as exc:
        from ekita.core.errors import RuleViolation

        raise RuleViolation(f"period {period!r} is not YYYY-MM", record="debit_run",
                            field="period", rule="fees.md §11: a period is a month") from exc


def month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def add_months(first: date, n: int) -> date:
    index = first.year * 12 + first.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def months_completed_on(birth: date, months: int) -> date:
    """G3 (BGB §§ 187(2), 188(2)): the day from whose start ``months`` months are completed:
    the same day number ``months`` later, or the 1st of the next month when it is missing."""
    first = add_months(birth.replace(day=1), months)
    last = calendar.monthrange(first.year, first.month)[1]
    if birth.day > last:
        return add_months(first, 1)
    return first.replace(day=birth.day)


def kita_group(birth: date, month: date, from_34_months: bool = False) -> FeeGroup:
    """G1: the age at the start of the month decides; KG from the completed 3rd year, or
    from the completed 34th month where the carrier chose that option (G4)."""
    needed = 34 if from_34_months else 36
    return FeeGroup.KG if months_completed_on(birth, needed) <= month else FeeGroup.KK


# -------------------------------------------------------------------------- extra care


def extra_care_amount(exceeded_tiers: int, per_tier: Decimal, school_free_hort: bool) -> Decimal:
    """§8, B §5(1),(3): 5 € per exceeded tier; Hort on school-free days 0 €."""
    if school_free_hort:
        return Decimal("0.00")
    return round_cent(per_tier * exceeded_tiers)
