"""Occupancy on a key date and the 12-month forecast (Lastenheft 3.6.10, 3.7.6, 3.12.1.1–2;
placement.md §16).

Everything comes from one ``PlaceLedger`` (contracts, reservations, capacities and the
planned Krippe → Kindergarten and school transitions, loaded once) and is summed in
memory per facility, Stadtteil, Stadtbezirk/Ortschaft, carrier or the whole city. Per
care type a row holds approved places, occupied places (of them company places), active
reservations and free places (capacity − occupied − reserved; negative = over-occupied).
One more row per group and key date, care type ``all``, adds the company-reserved places
(Belegrechte) separately: reserved, used, unused, and the places free for placement
(free − unused company places, placement.md §14.7).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from ekita.core.models import CareContract, Child, Facility
from ekita.core.models.enums import CareType
from ekita.core.services.placement.occupancy import (
    KINDERGARTEN_TYPES,
    ONE_DAY,
    SCHOOL_LEAVING,
    TO_KINDERGARTEN,
    FacilityInfo,
    PlaceLedger,
    age_in_months,
    month_anniversary,
    school_leaving_day,
)
from ekita.core.services.placement.rules import PlacementRules

ALL = "all"


class GroupBy(StrEnum):
    FACILITY = "facility"
    STADTTEIL = "stadtteil"
    STADTBEZIRK = "stadtbezirk"
    CARRIER = "carrier"
    CITY = "city"


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day (31 Jan → 28/29 Feb)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def key_dates(start: date, months: int) -> list[date]:
    """``start`` and the same day of each following month: ``months`` key dates."""
    return [add_months(start, i) for i in range(months)]


def group_of(info: FacilityInfo, by: GroupBy) -> tuple[str, str]:
    """(key, label) of the facility's group."""
    match by:
        case GroupBy.FACILITY:
            return str(info.id), info.name
        case GroupBy.STADTTEIL:
            return info.stadtteil_nr, info.stadtteil
        case GroupBy.STADTBEZIRK:
            return info.stadtbezirk, info.stadtbezirk
        case GroupBy.CARRIER:
            return str(info.carrier_id), info.carrier_name
    return "city", "Dresden"


def percent(part: int, whole: int) -> Decimal | None:
    if whole <= 0:
        return None
    return (Decimal(part * 100) / whole).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass
class ForecastRow:
    """Figures of one group, care type (or ``all``) and key date."""

    group: str
    label: str
    on: date
    care_type: str
    capacity: int = 0
    occupied: int = 0
    company_occupied: int = 0
    reserved: int = 0
    free: int = 0
    company_reserved_places: int | None = None
    company_unused: int | None = None
    free_for_placement: int | None = None
    facilities: set[int] = field(default_factory=set, repr=False)

    @property
    def occupancy_pct(self) -> Decimal | None:
        return percent(self.occupied, self.capacity)

    def as_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "facilities"}
        out["facility_count"] = len(self.facilities)
        out["occupancy_pct"] = self.occupancy_pct
        return out


def forecast(ledger: PlaceLedger, dates: Iterable[date], by: GroupBy = GroupBy.FACILITY,
             care_types: Collection[CareType] | None = None,
             facility_ids: Collection[int] | None = None) -> list[ForecastRow]:
    """Rows per group, key date and care type, then one ``all`` row per group and date."""
    days = list(dates)
    wanted = None if facility_ids is None else set(facility_ids)
    rows: dict[tuple[str, date, str], ForecastRow] = {}

    def row(key: str, label: str, day: date, care_type: str) -> ForecastRow:
        found = rows.get((key, day, care_type))
        if found is None:
            found = rows[(key, day, care_type)] = ForecastRow(key, label, day, care_type)
        return found

    for fid, info in ledger.facilities.items():
        if wanted is not None and fid not in wanted:
            continue
        key, label = group_of(info, by)
        types = [t for t in ledger.care_types(fid) if care_types is None or t in care_types]
        for day in days:
            total = row(key, label, day, ALL)
            total.facilities.add(fid)
            for care_type in types:
                k = (fid, care_type)
                capacity = _at(ledger.capacity, k, day)
                occupied = _at(ledger.occupied, k, day)
                reserved = _at(ledger.reserved, k, day)
                company = _at(ledger.company_occupied, k, day)
                r = row(key, label, day, care_type.value)
                r.facilities.add(fid)
                for target in (r, total):
                    target.company_occupied += company
                    target.capacity += capacity
                    target.occupied += occupied
                    target.reserved += reserved
                    target.free += capacity - occupied - reserved
            unused = _at(ledger.company_unused, fid, day)
            total.company_reserved_places = ((total.company_reserved_places or 0)
                                             + info.company_reserved_places)
            total.company_unused = (total.company_unused or 0) + unused
    for r in rows.values():
        if r.care_type == ALL:
            r.free_for_placement = r.free - (r.company_unused or 0)
    order = {t.value: i for i, t in enumerate(CareType)} | {ALL: len(CareType)}
    return sorted(rows.values(), key=lambda r: (r.label, r.group, r.on, order[r.care_type]))


def _at(table: dict, key: object, day: date) -> int:
    steps = table.get(key)
    return steps.at(day) if steps is not None else 0


def load_forecast(session: Session, start: date, months: int, rules: PlacementRules,
                  by: GroupBy = GroupBy.FACILITY,
                  facility_ids: Collection[int] | None = None,
                  care_types: Collection[CareType] | None = None) -> list[ForecastRow]:
    """Load the ledger for the key dates (one query per table) and compute the forecast."""
    dates = key_dates(start, months)
    ledger = PlaceLedger.load(session, start, dates[-1], rules, facility_ids)
    return forecast(ledger, dates, by, care_types)


# ---------------------------------------------------------------- transition lists


def _running(on: date, types: Collection[CareType], facility_ids: Collection[int] | None
             ) -> Select:
    """Contracts of the care types running on ``on``, with the child (one query)."""
    stmt = (
        select(CareContract.id, CareContract.facility_id, Facility.name, CareContract.care_type,
               Child.id, Child.family_name, Child.first_name,
               Child.birth_date, Child.school_deferred)
        .join(Child, Child.id == CareContract.child_id)
        .join(Facility, Facility.id == CareContract.facility_id)
        .where(CareContract.care_type.in_(list(types)), CareContract.start_date <= on,
               or_(CareContract.end_date.is_(None), CareContract.end_date >= on))
        .order_by(Facility.name, Child.birth_date, Child.id)
    )
    if facility_ids is not None:
        stmt = stmt.where(CareContract.facility_id.in_(sorted(facility_ids)))
    return stmt


def kindergarten_switch_list(session: Session, on: date,
                             facility_ids: Collection[int] | None = None) -> list[dict]:
    """Krippe children who have completed their 34th to 36th month on the key date, with the
    earliest and the latest change date (Lastenheft 3.6.16; placement.md §16.3)."""
    out = []
    for cid, fid, fname, care_type, child, family, first, birth, _ in (
            session.connection().execute(_running(on, TO_KINDERGARTEN, facility_ids))):
        months = age_in_months(birth, on + ONE_DAY)  # completed by the end of the key date
        if 34 <= months <= 36:
            out.append({"contract_id": cid, "facility_id": fid, "facility": fname,
                        "care_type": care_type.value,
                        "to_care_type": TO_KINDERGARTEN[care_type].value,
                        "child_id": child, "family_name": family, "first_name": first,
                        "birth_date": birth, "completed_months": months,
                        "earliest_change": month_anniversary(birth, 34),
                        "latest_change": month_anniversary(birth, 36)})
    return out


def school_entry_list(session: Session, on: date, rules: PlacementRules,
                      facility_ids: Collection[int] | None = None) -> list[dict]:
    """Kindergarten children expected to start school at the next school year after ``on``
    (age 6 by the configured cut-off; last year's Schulrücksteller included), with their
    last day in the Kindergarten (Lastenheft 3.6.17; placement.md §16.4)."""
    school_start = date(on.year, *SCHOOL_LEAVING)
    if on > school_start:
        school_start = date(on.year + 1, *SCHOOL_LEAVING)
    out = []
    for cid, fid, fname, care_type, child, family, first, birth, deferred in (
            session.connection().execute(_running(on, KINDERGARTEN_TYPES, facility_ids))):
        leaves = school_leaving_day(birth, rules.school_entry_cutoff, deferred)
        if leaves == school_start:
            out.append({"contract_id": cid, "facility_id": fid, "facility": fname,
                        "care_type": care_type.value, "child_id": child,
                        "family_name": family, "first_name": first, "birth_date": birth,
                        "school_deferred": bool(deferred), "last_day": leaves - ONE_DAY})
    return out
