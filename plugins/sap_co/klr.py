"""The SAP-CO key-date snapshot (KLR-Lauf; Lastenheft 3.19, Anlage H no. 10; interfaces.md
§6; schedules.md: the 20th).

Per receiving cost centre (the care offer's own, else the facility's) and care type, on
the key date, for the facilities of **all** carriers (placement.md §16):

* ``CAPACITY``: approved places; ``OCCUPIED``: places taken (running contracts with the
  planned transitions); ``RESERVED``: active reservations; ``COMMITTED_6M``: places taken
  or reserved six months on ("gebundene Plätze in 6 Monaten", Anlage F) — all from the
  placement ledger (``PlaceLedger``), the same figures as the occupancy report;
* per care-time tier: ``OCCUPIED`` (children whose recorded contract falls in the tier)
  and ``HOURS`` (their contracted daily hours), so both heads and hour-weighted units
  reach SAP (interfaces.md §6 open question).

Aggregates only: no personal data leaves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ekita.core.models.contracts import CareContract
from ekita.core.models.enums import CareType
from ekita.core.models.facilities import CareOffer, Facility
from ekita.core.services.placement.forecast import add_months
from ekita.core.services.placement.occupancy import PlaceLedger
from ekita.core.services.placement.rules import PlacementRules
from ekita.core.services.terms import terms_in

CARE_LETTER = {CareType.KRIPPE: "K", CareType.KINDERGARTEN: "G", CareType.HORT: "H",
               CareType.INTEGRATION_KRIPPE: "J", CareType.INTEGRATION_KINDERGARTEN: "I",
               CareType.INTEGRATION_HORT: "X", CareType.HEILPAEDAGOGISCH: "P",
               CareType.KINDERTAGESPFLEGE: "T"}


@dataclass(frozen=True)
class KeyFigure:
    cost_centre: str
    care_type: str
    measure: str
    tier: Decimal | None
    quantity: Decimal

    def as_json(self) -> dict[str, str | None]:
        return {"cost_centre": self.cost_centre, "care_type": self.care_type,
                "measure": self.measure, "tier": None if self.tier is None else str(self.tier),
                "quantity": f"{self.quantity:.3f}"}


def tier_of(hours: Decimal, tiers: list[Decimal]) -> Decimal:
    """The smallest tier not below the contracted hours (the top tier above it)."""
    offered = sorted(tiers)
    return next((t for t in offered if hours <= t), offered[-1])


def _cost_centres(session: Session, on: date) -> dict[tuple[int, CareType], str]:
    """(facility, care type) -> receiving cost centre on the key date."""
    conn = session.connection()
    own = dict(conn.execute(select(Facility.id, Facility.cost_centre)).all())
    result: dict[tuple[int, CareType], str] = {}
    offers = conn.execute(select(CareOffer.facility_id, CareOffer.care_type,
                                 CareOffer.cost_centre).where(
        CareOffer.valid_from <= on, or_(CareOffer.valid_to.is_(None), CareOffer.valid_to >= on)))
    for fid, care_type, centre in offers:
        result[(fid, care_type)] = centre or own[fid]
    for fid, centre in own.items():
        for care_type in CareType:
            result.setdefault((fid, care_type), centre)
    return result


def snapshot(session: Session, key_date: date, rules: PlacementRules,
             tiers: list[Decimal]) -> list[KeyFigure]:
    """Every key figure of the key date, sorted; zero rows are left out."""
    later = add_months(key_date, 6)
    ledger = PlaceLedger.load(session, key_date, later, rules)
    centres = _cost_centres(session, key_date)
    sums: dict[tuple[str, str, str, Decimal | None], Decimal] = defaultdict(Decimal)
    tables = (("CAPACITY", ledger.capacity, key_date), ("OCCUPIED", ledger.occupied, key_date),
              ("RESERVED", ledger.reserved, key_date), ("COMMITTED_6M", ledger.occupied, later),
              ("COMMITTED_6M", ledger.reserved, later))
    for measure, table, day in tables:
        for (fid, care_type), steps in table.items():
            sums[(centres[(fid, care_type)], care_type.value, measure, None)] += steps.at(day)
    facility_of = dict(session.connection().execute(
        select(CareContract.id, CareContract.facility_id)
        .where(CareContract.facility_id.is_not(None), CareContract.start_date <= key_date,
               or_(CareContract.end_date.is_(None), CareContract.end_date >= key_date))).all())
    # care type and hours of the term valid on the key date (issue 13 item 3)
    for cid, (term, *_) in terms_in(session, key_date, key_date, facility_of).items():
        centre = centres[(facility_of[cid], term.care_type)]
        tier = tier_of(term.daily_hours, tiers)
        sums[(centre, term.care_type.value, "OCCUPIED", tier)] += 1
        sums[(centre, term.care_type.value, "HOURS", tier)] += term.daily_hours
    figures = [KeyFigure(c, t, m, tier, q) for (c, t, m, tier), q in sums.items() if q]
    return sorted(figures, key=lambda f: (f.cost_centre, f.care_type, f.measure,
                                          f.tier is not None, f.tier or 0))


def skf_code(figure: KeyFigure, overrides: dict[str, str], stems: dict[str, str]) -> str:
    """The statistical key figure code: configured, else stem + care letter (+ tier)."""
    tier = None if figure.tier is None else f"{figure.tier.normalize():f}"
    for key in (f"{figure.measure}:{figure.care_type}:{tier}",
                f"{figure.measure}:{figure.care_type}", figure.measure):
        if key in overrides:
            return overrides[key]
    code = stems[figure.measure] + CARE_LETTER[CareType(figure.care_type)]
    if figure.tier is not None:  # 4.5 -> "45", 9 -> "09", 11 -> "11"
        t = figure.tier
        code += f"{int(t):02d}" if t == int(t) else f"{t:f}".replace(".", "")[:2]
    return code
