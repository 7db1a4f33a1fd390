"""Placement statistics: placed places (Lastenheft 3.12.1.3) and unmet demand (3.12.1.5).

Both count children (an application may hold siblings) and are cut by region (the child's
home Stadtteil, its Stadtbezirk/Ortschaft, or the city), by age band at the desired start
(under 1, 1–2, 2–2.75, over 2.75 years) and, for placements, by the preference that got
the place. Only aggregates leave this module (data-protection S1): no names, no ids.
The rows are read through the connection with an explicit facility filter for tenants,
so the counts do not depend on which personal records the caller may open.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from sqlalchemy import and_, exists, func, or_, select, true
from sqlalchemy.orm import Session

from ekita.core.models import (
    Application,
    ApplicationChild,
    CareContract,
    Child,
    Stadtteil,
    WaitingListEntry,
)
from ekita.core.models.placement import ApplicationState, InactiveReason, WaitingStatus
from ekita.core.services.placement.occupancy import age_in_months

CITY = "Dresden"
UNKNOWN = "unbekannt"
NO_PREFERENCE = "none"


class Region(StrEnum):
    STADTTEIL = "stadtteil"
    STADTBEZIRK = "stadtbezirk"
    CITY = "city"


def age_band(months: int) -> str:
    """Lastenheft 3.12.1.3 bands: under 1, 1–2, 2–2.75 (33 months), over 2.75 years."""
    if months < 12:
        return "under_1"
    if months < 24:
        return "1_to_2"
    if months < 33:
        return "2_to_2.75"
    return "over_2.75"


AGE_BANDS = ("under_1", "1_to_2", "2_to_2.75", "over_2.75")


def _region(level: Region, nr: str | None, name: str | None, bezirk: str | None) -> str:
    if level == Region.CITY:
        return CITY
    if nr is None:
        return UNKNOWN
    return f"{nr} {name}" if level == Region.STADTTEIL else str(bezirk)


def _one(value: float | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _mean(values: list[int]) -> Decimal | None:
    return _one(statistics.fmean(values)) if values else None


def _median(values: list[int]) -> Decimal | None:
    return _one(statistics.median(values)) if values else None


@dataclass
class _Cell:
    children: int = 0
    waits: list[int] = field(default_factory=list)
    ages_desired: list[int] = field(default_factory=list)
    ages_real: list[int] = field(default_factory=list)
    hours: Decimal = Decimal("0.00")
    in_pool: int = 0


def _home() -> tuple:
    return (Child.birth_date, Child.stadtteil_nr, Stadtteil.name, Stadtteil.bezirk)


def placed(session: Session, period_from: date, period_to: date, level: Region = Region.CITY,
           facility_ids: Collection[int] | None = None, show_preference: bool = True
           ) -> dict:
    """Children placed through the procedure whose contract was signed in the period
    (application marked placed on a day of ``period_from``..``period_to``), plus the new
    company-place contracts of the period separately (3.12.1.3)."""
    conn = session.connection()
    only = true() if facility_ids is None else Application.placed_facility_id.in_(
        sorted(facility_ids))
    stmt = (
        select(Application.desired_start, Application.placed_start, Application.placed_rank,
               Application.daily_hours, *_home())
        .join(ApplicationChild, ApplicationChild.application_id == Application.id)
        .join(Child, Child.id == ApplicationChild.child_id)
        .outerjoin(Stadtteil, Stadtteil.nr == Child.stadtteil_nr)
        .where(Application.state == ApplicationState.INACTIVE,
               Application.inactive_reason == InactiveReason.PLACED,
               Application.inactivated_on.between(period_from, period_to), only)
    )
    cells: dict[tuple[str, str, str | None], _Cell] = defaultdict(_Cell)
    for desired, real, rank, hours, birth, nr, name, bezirk in conn.execute(stmt):
        months = age_in_months(birth, desired) if birth <= desired else 0
        preference = (str(rank) if rank else NO_PREFERENCE) if show_preference else None
        cell = cells[(_region(level, nr, name, bezirk), age_band(months), preference)]
        cell.children += 1
        cell.ages_desired.append(months)
        cell.hours += hours
        if real is not None:
            cell.waits.append((real - desired).days)
            cell.ages_real.append(age_in_months(birth, real) if birth <= real else 0)
    rows = [
        {"region": region, "age_band": band, "preference": preference,
         "children": c.children, "waiting_days_mean": _mean(c.waits),
         "waiting_days_median": _median(c.waits),
         "waiting_days_max": max(c.waits) if c.waits else None,
         "age_months_desired_mean": _mean(c.ages_desired),
         "age_months_real_mean": _mean(c.ages_real), "daily_hours_total": c.hours}
        for (region, band, preference), c in cells.items()
    ]
    rows.sort(key=lambda r: (r["region"], AGE_BANDS.index(r["age_band"]),
                             r["preference"] or ""))
    return {"period_from": period_from, "period_to": period_to, "by": level.value,
            "rows": rows,
            "company_places": _company(session, period_from, period_to, level, facility_ids)}


def _company(session: Session, period_from: date, period_to: date, level: Region,
             facility_ids: Collection[int] | None) -> list[dict]:
    """New contracts on company-reserved places (Belegrechte), by region and age band."""
    concluded = func.coalesce(CareContract.signed_on, CareContract.start_date)
    only = true() if facility_ids is None else CareContract.facility_id.in_(
        sorted(facility_ids))
    stmt = (
        select(CareContract.start_date, CareContract.daily_hours, *_home())
        .join(Child, Child.id == CareContract.child_id)
        .outerjoin(Stadtteil, Stadtteil.nr == Child.stadtteil_nr)
        .where(CareContract.company_reserved_place.is_(True),
               concluded.between(period_from, period_to), only)
    )
    cells: dict[tuple[str, str], _Cell] = defaultdict(_Cell)
    for start, hours, birth, nr, name, bezirk in session.connection().execute(stmt):
        months = age_in_months(birth, start) if birth <= start else 0
        cell = cells[(_region(level, nr, name, bezirk), age_band(months))]
        cell.children += 1
        cell.hours += hours
    return sorted(
        ({"region": region, "age_band": band, "contracts": c.children,
          "daily_hours_total": c.hours} for (region, band), c in cells.items()),
        key=lambda r: (r["region"], AGE_BANDS.index(r["age_band"])))


def unmet(session: Session, on: date, level: Region = Region.CITY,
          facility_ids: Collection[int] | None = None) -> dict:
    """Children of active applications whose desired start is on or before ``on``: demand
    not met by that key date (3.12.1.5). Tenants see the applications waiting at, or under
    review by, their facilities."""
    conn = session.connection()
    only = true()
    if facility_ids is not None:
        ids = sorted(facility_ids)
        waiting = exists().where(
            WaitingListEntry.application_id == Application.id,
            WaitingListEntry.facility_id.in_(ids),
            WaitingListEntry.status.in_([WaitingStatus.WAITING, WaitingStatus.OFFERED]))
        only = or_(Application.current_facility_id.in_(ids), waiting)
    stmt = (
        select(Application.desired_start, Application.state, *_home())
        .join(ApplicationChild, ApplicationChild.application_id == Application.id)
        .join(Child, Child.id == ApplicationChild.child_id)
        .outerjoin(Stadtteil, Stadtteil.nr == Child.stadtteil_nr)
        .where(and_(Application.state != ApplicationState.INACTIVE,
                    Application.desired_start <= on), only)
    )
    cells: dict[tuple[str, str], _Cell] = defaultdict(_Cell)
    for desired, state, birth, nr, name, bezirk in conn.execute(stmt):
        months = age_in_months(birth, desired) if birth <= desired else 0
        cell = cells[(_region(level, nr, name, bezirk), age_band(months))]
        cell.children += 1
        cell.waits.append((on - desired).days)
        cell.ages_real.append(age_in_months(birth, on) if birth <= on else 0)
        cell.in_pool += state == ApplicationState.POOL
    rows = [
        {"region": region, "age_band": band, "children": c.children, "in_pool": c.in_pool,
         "waiting_days_mean": _mean(c.waits), "waiting_days_median": _median(c.waits),
         "waiting_days_max": max(c.waits) if c.waits else None,
         "age_months_mean": _mean(c.ages_real)}
        for (region, band), c in cells.items()
    ]
    rows.sort(key=lambda r: (r["region"], AGE_BANDS.index(r["age_band"])))
    return {"on": on, "by": level.value, "rows": rows}
