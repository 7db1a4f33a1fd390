"""The monthly lost-fee overview (entgangene Elternbeiträge; fees.md §15.1, 3.10.12.1).

For the fees the city sets (municipal facilities and childminding, 3.10.2), what the
month's discounts and exemptions cost, absolute and as a share of the fees had every
child paid as a first child of a couple ("base"). The parts telescope along the steps of
the assessment, so ``base − charged`` is exactly their sum:

- siblings (Zählkind 2 pays 60 %, from 3 free: B §10(5)),
- single parents (10 points: B §10(6)),
- half month (B §10(1)),
- income-based waivers and reductions (B §13) and manual overrides (3.10.1),
- no-fee cases: foster or residential care, heilpädagogische Plätze (B §10(7), §13(4)).

The figure goes monthly to cost accounting (Anlage H no. 68).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.orm import Session

from ekita.core.access import Permission
from ekita.core.services.base import require
from ekita.core.services.fees.assessment import MonthAssessor
from ekita.core.services.fees.rules import month_start

PARTS = ("siblings", "single_parents", "half_month", "waivers", "overrides", "no_fee_cases")


@dataclass
class LostFees:
    period: str
    contracts: int = 0
    base_cents: int = 0
    charged_cents: int = 0
    siblings: int = 0
    single_parents: int = 0
    half_month: int = 0
    waivers: int = 0
    overrides: int = 0
    no_fee_cases: int = 0

    @property
    def lost_cents(self) -> int:
        return sum(getattr(self, part) for part in PARTS)

    def percent(self, cents: int) -> Decimal:
        """Share of the base, in per cent, two places, rounded half-up."""
        if not self.base_cents:
            return Decimal("0.00")
        return (Decimal(cents) * 100 / Decimal(self.base_cents)).quantize(
            Decimal("0.01"), ROUND_HALF_UP)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        parts = {p: {"cents": out.pop(p), "percent": str(self.percent(getattr(self, p)))}
                 for p in PARTS}
        return {**out, "lost_cents": self.lost_cents,
                "lost_percent": str(self.percent(self.lost_cents)), "parts": parts}


def lost_fees(session: Session, period: str) -> LostFees:
    """The overview of one month (``YYYY-MM``), from that month's assessment."""
    require(session, Permission.FEES_READ)
    report = LostFees(period)
    for a in MonthAssessor(session, month_start(period)).all(debit_scope_only=True):
        if a.group is None:  # no fee: an excluded child, or the child's second contract
            report.no_fee_cases += a.base_cents
            report.base_cents += a.base_cents
            report.contracts += bool(a.base_cents)
            continue
        report.contracts += 1
        report.base_cents += a.base_cents
        report.charged_cents += a.amount_cents
        report.siblings += a.base_cents - a.after_siblings_cents
        report.single_parents += a.after_siblings_cents - a.discounted_cents
        report.half_month += a.discounted_cents - a.computed_cents
        after = a.computed_cents - a.amount_cents
        if a.overridden:
            report.overrides += after
        else:
            report.waivers += after
    return report
