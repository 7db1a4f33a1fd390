"""Free places: capacity minus contracts, reservations and planned transitions (placement.md §5,
§14.7, §16; Lastenheft 3.2.1, 3.6.10, 3.6.16, 3.6.17).

``PlaceLedger.load`` reads capacities, contracts, children's birth dates and reservations
once (one query per table, through the connection, so tenant scoping does not thin the
counts: free places are aggregate figures) and answers every later question in memory.
Each figure is a step function over days; a question costs a few binary searches, which
is what lets the tick route 20,000 applications within seconds.

Planned transitions (3.6.10):

* a Krippe child moves to the Kindergarten on the day it has completed
  ``rules.kindergarten_switch_month`` months; its Krippe place is free from then on and,
  when its facility offers the Kindergarten care type that day, a Kindergarten place there
  is taken (unless a contract of the child already covers it);
* a Kindergarten child leaves on 31 July of the year in which it has completed its 6th
  year by ``rules.school_entry_cutoff`` (30 June or 30 September); a Schulrücksteller
  (``Child.school_deferred``) one year later.

Company-reserved places (Belegrechte, 3.6.2) belong to the facility, not to a care type:
the places of it not used by a company contract are deducted from the free places of
every care type of the facility (§14.7 read literally) and reported separately.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, or_, select, true
from sqlalchemy.orm import Session

from ekita.core.models import CareContract, CareOffer, Child, Facility, Reservation, Stadtteil
from ekita.core.models.carriers import Carrier
from ekita.core.models.enums import CareType, FacilityStatus
from ekita.core.models.placement import ReservationStatus
from ekita.core.services.placement.rules import PlacementRules

ONE_DAY = timedelta(days=1)
SCHOOL_AGE_MONTHS = 72
# placement.md §16.5: the school year starts on 1 August; Kindergarten places are free then.
SCHOOL_LEAVING = (8, 1)

TO_KINDERGARTEN: dict[CareType, CareType] = {
    CareType.KRIPPE: CareType.KINDERGARTEN,
    CareType.INTEGRATION_KRIPPE: CareType.INTEGRATION_KINDERGARTEN,
}
KINDERGARTEN_TYPES = frozenset(
    {CareType.KINDERGARTEN, CareType.INTEGRATION_KINDERGARTEN, CareType.HEILPAEDAGOGISCH}
)


# ---------------------------------------------------------------- age arithmetic


def age_in_months(birth: date, on: date) -> int:
    """Completed months of life at the start of ``on`` (12 × years on every birthday).

    A month of life ends on the day before its monthly anniversary (BGB §187(2), §188(2));
    where the anniversary day does not exist in a month (born on the 31st), the month ends
    on that month's last day, so the next one starts on the 1st of the month after.
    """
    months = (on.year - birth.year) * 12 + on.month - birth.month
    return months - 1 if on.day < birth.day else months


def month_anniversary(birth: date, months: int) -> date:
    """The first day on which the child has completed ``months`` months of life."""
    y, m = divmod(birth.month - 1 + months, 12)
    year, month = birth.year + y, m + 1
    try:
        return date(year, month, birth.day)
    except ValueError:  # no such day in that month: the month of life ends on its last day
        return date(year + month // 12, month % 12 + 1, 1)


def completed_by(birth: date, months: int, day: date) -> bool:
    """Has the child completed ``months`` months of life by the end of ``day``?

    "das 6. Lebensjahr zum 30.06. vollendet": a child born on 1 July completes it at the end
    of 30 June (BGB §187(2)), so it counts for the 30 June cut-off.
    """
    return age_in_months(birth, day + ONE_DAY) >= months


def school_leaving_day(birth: date, cutoff: str, deferred: bool = False) -> date:
    """First day without the Kindergarten place: 1 August of the school-entry year (3.6.17).

    The school-entry year is the first year by whose cut-off (``"06-30"`` or ``"09-30"``)
    the child has completed its 6th year; a deferred child (Schulrücksteller) enters a
    year later.
    """
    month, day = (int(part) for part in cutoff.split("-"))
    year = birth.year + 6
    if not completed_by(birth, SCHOOL_AGE_MONTHS, date(year, month, day)):
        year += 1
    if deferred:
        year += 1
    return date(year, *SCHOOL_LEAVING)


# ---------------------------------------------------------------- step functions


class Steps:
    """A piecewise constant function of the day, built from (day, delta) changes."""

    __slots__ = ("days", "values")

    def __init__(self, deltas: dict[date, int]) -> None:
        self.days: list[date] = sorted(d for d, v in deltas.items() if v)
        self.values: list[int] = []
        total = 0
        for day in self.days:
            total += deltas[day]
            self.values.append(total)

    def at(self, day: date) -> int:
        i = bisect.bisect_right(self.days, day) - 1
        return self.values[i] if i >= 0 else 0

    def changes_in(self, first: date, last: date) -> list[date]:
        """Days in ``(first, last]`` on which the value changes."""
        lo = bisect.bisect_right(self.days, first)
        hi = bisect.bisect_right(self.days, last)
        return self.days[lo:hi]


EMPTY = Steps({})


def _period(deltas: dict[date, int], start: date, end_: date | None, amount: int,
            window_start: date) -> None:
    """Add ``amount`` from ``start`` through ``end_`` (inclusive; None = open)."""
    deltas[max(start, window_start)] += amount
    if end_ is not None:
        deltas[end_ + ONE_DAY] -= amount


@dataclass(frozen=True)
class FacilityInfo:
    """What the reports need of a facility, loaded with the ledger."""

    id: int
    name: str
    carrier_id: int
    carrier_name: str
    stadtteil_nr: str
    stadtteil: str
    stadtbezirk: str
    company_reserved_places: int
    flexible_capacity: bool
    status: FacilityStatus
    closure_from: date | None


@dataclass
class PlaceLedger:
    """Capacity, contracts, reservations and planned transitions, loaded once for a date range."""

    start: date
    end: date
    rules: PlacementRules
    facilities: dict[int, FacilityInfo] = field(default_factory=dict)
    capacity: dict[tuple[int, CareType], Steps] = field(default_factory=dict)
    occupied: dict[tuple[int, CareType], Steps] = field(default_factory=dict)
    company_occupied: dict[tuple[int, CareType], Steps] = field(default_factory=dict)
    reserved: dict[tuple[int, CareType], Steps] = field(default_factory=dict)
    company_unused: dict[int, Steps] = field(default_factory=dict)
    _net: dict[tuple[int, CareType | None], Steps] = field(default_factory=dict)
    _reservation_deltas: dict[tuple[int, CareType], dict[date, int]] = field(
        default_factory=dict)
    _types: dict[int, set[CareType]] = field(default_factory=lambda: defaultdict(set))
    # Answers of free_within: many applications share a desired start (1 August).
    _within: dict[tuple[int, CareType, date, int], int] = field(default_factory=dict)

    # ------------------------------------------------------------ loading

    @classmethod
    def load(cls, session: Session, start: date, end: date, rules: PlacementRules,
             facility_ids: Collection[int] | None = None) -> PlaceLedger:
        """Read everything for the days ``start``..``end`` (inclusive) in four queries."""
        if end < start:
            raise ValueError(f"ledger range {start}..{end} is empty")
        session.flush()  # pending reservations and contracts of this unit of work count too
        conn = session.connection()
        ledger = cls(start, end, rules)
        ids = None if facility_ids is None else sorted(set(facility_ids))

        def only(column):  # type: ignore[no-untyped-def]
            return true() if ids is None else column.in_(ids)

        fac = (
            select(Facility.id, Facility.name, Facility.carrier_id, Carrier.name,
                   Facility.stadtteil_nr, Stadtteil.name, Stadtteil.bezirk,
                   Facility.company_reserved_places, Facility.flexible_capacity,
                   Facility.status, Facility.closure_from)
            .join(Carrier, Carrier.id == Facility.carrier_id)
            .join(Stadtteil, Stadtteil.nr == Facility.stadtteil_nr)
            .where(only(Facility.id))
        )
        for row in conn.execute(fac):
            ledger.facilities[row[0]] = FacilityInfo(*row)

        offers = select(CareOffer.facility_id, CareOffer.care_type, CareOffer.approved_places,
                        CareOffer.valid_from, CareOffer.valid_to).where(
            and_(CareOffer.valid_from <= end,
                        or_(CareOffer.valid_to.is_(None), CareOffer.valid_to >= start)),
            only(CareOffer.facility_id))
        contracts = (
            select(CareContract.facility_id, CareContract.child_id, CareContract.care_type,
                   CareContract.start_date, CareContract.end_date,
                   CareContract.company_reserved_place, Child.birth_date, Child.school_deferred)
            .join(Child, Child.id == CareContract.child_id)
            .where(CareContract.facility_id.is_not(None),
                   and_(CareContract.start_date <= end,
                               or_(CareContract.end_date.is_(None),
                                   CareContract.end_date >= start)),
                   only(CareContract.facility_id))
        )
        reservations = select(Reservation.facility_id, Reservation.care_type,
                              Reservation.starts_on).where(
            Reservation.status == ReservationStatus.ACTIVE,
            Reservation.facility_id.is_not(None), Reservation.starts_on <= end,
            only(Reservation.facility_id))
        ledger._build(conn.execute(offers).all(), conn.execute(contracts).all(),
                      conn.execute(reservations).all())
        return ledger

    def _build(self, offers: Iterable, contracts: Iterable, reservations: Iterable) -> None:
        start = self.start
        cap: dict[tuple[int, CareType], dict[date, int]] = defaultdict(lambda: defaultdict(int))
        occ: dict[tuple[int, CareType], dict[date, int]] = defaultdict(lambda: defaultdict(int))
        company: dict[tuple[int, CareType], dict[date, int]] = defaultdict(
            lambda: defaultdict(int))
        company_total: dict[int, dict[date, int]] = defaultdict(lambda: defaultdict(int))
        for fid, care_type, places, valid_from, valid_to in offers:
            _period(cap[(fid, care_type)], valid_from, valid_to, places, start)

        offer_steps: dict[tuple[int, CareType], Steps] = {}

        def offers_on(fid: int, care_type: CareType, day: date) -> bool:
            key = (fid, care_type)
            if key not in offer_steps:
                offer_steps[key] = Steps(cap[key]) if key in cap else EMPTY
            return offer_steps[key].at(day) > 0

        rows = list(contracts)
        kindergarten_children = {child for _, child, ct, *_ in rows if ct in KINDERGARTEN_TYPES}
        for fid, child, care_type, begin, finish, is_company, birth, deferred in rows:
            stop = finish
            if care_type in TO_KINDERGARTEN:
                moves = month_anniversary(birth, self.rules.kindergarten_switch_month)
                if begin < moves and (finish is None or finish >= moves):
                    stop = moves - ONE_DAY
                    target = TO_KINDERGARTEN[care_type]
                    if (child not in kindergarten_children and moves <= self.end
                            and offers_on(fid, target, moves)):
                        _period(occ[(fid, target)], moves, None, 1, start)
            elif care_type in KINDERGARTEN_TYPES:
                leaves = school_leaving_day(birth, self.rules.school_entry_cutoff, deferred)
                if begin < leaves and (finish is None or finish >= leaves):
                    stop = leaves - ONE_DAY
            if stop is not None and stop < start:
                continue  # the planned transition happened before the range
            _period(occ[(fid, care_type)], begin, stop, 1, start)
            if is_company:
                _period(company[(fid, care_type)], begin, stop, 1, start)
                _period(company_total[fid], begin, stop, 1, start)

        for fid, care_type, starts_on in reservations:
            deltas = self._reservation_deltas.setdefault((fid, care_type), defaultdict(int))
            deltas[max(starts_on, start)] += 1

        self.capacity = {k: Steps(v) for k, v in cap.items()}
        self.occupied = {k: Steps(v) for k, v in occ.items()}
        self.reserved = {k: Steps(v) for k, v in self._reservation_deltas.items()}
        self.company_occupied = {k: Steps(v) for k, v in company.items()}
        for fid, info in self.facilities.items():
            if info.company_reserved_places:
                used = Steps(company_total[fid]) if fid in company_total else EMPTY
                self.company_unused[fid] = self._unused(info.company_reserved_places, used)
        self._rebuild_net(set(self.capacity) | set(self.occupied) | set(self.reserved))

    def _unused(self, places: int, used: Steps) -> Steps:
        """max(0, places − used) as a step function."""
        deltas: dict[date, int] = defaultdict(int)
        previous = 0
        for day in [self.start, *used.days]:
            value = max(0, places - used.at(day))
            deltas[day] += value - previous
            previous = value
        return Steps(deltas)

    def _rebuild_net(self, keys: Iterable[tuple[int, CareType]]) -> None:
        """capacity − occupied − reserved per care type, and per facility for flexible ones."""
        touched = set()
        for key in keys:
            self._types[key[0]].add(key[1])
            deltas: dict[date, int] = defaultdict(int)
            for steps, sign in ((self.capacity.get(key), 1), (self.occupied.get(key), -1),
                                (self.reserved.get(key), -1)):
                if steps is not None:
                    before = 0
                    for day, value in zip(steps.days, steps.values, strict=True):
                        deltas[day] += sign * (value - before)
                        before = value
            self._net[key] = Steps(deltas)
            touched.add(key[0])
        for fid in touched:
            info = self.facilities.get(fid)
            if info is not None and info.flexible_capacity:
                total: dict[date, int] = defaultdict(int)
                for care_type in self._types[fid]:
                    steps = self._net[(fid, care_type)]
                    before = 0
                    for day, value in zip(steps.days, steps.values, strict=True):
                        total[day] += value - before
                        before = value
                self._net[(fid, None)] = Steps(total)

    # ------------------------------------------------------------ questions

    def _check(self, day: date) -> None:
        if not self.start <= day <= self.end:
            raise ValueError(f"{day} is outside the loaded range {self.start}..{self.end}")

    def offered(self, facility_id: int, care_type: CareType, on: date) -> bool:
        """Does the facility have approved places of the care type that day?"""
        self._check(on)
        return self.capacity.get((facility_id, care_type), EMPTY).at(on) > 0

    def free(self, facility_id: int, care_type: CareType, on: date) -> int:
        """Free places (negative: over-occupied) of the care type on ``on`` (§14.7, D8)."""
        self._check(on)
        info = self.facilities.get(facility_id)
        if info is None:
            return 0
        if info.flexible_capacity:
            if not self.offered(facility_id, care_type, on):
                return 0
            value = self._net.get((facility_id, None), EMPTY).at(on)
        else:
            value = self._net.get((facility_id, care_type), EMPTY).at(on)
        value -= self.company_unused.get(facility_id, EMPTY).at(on)
        if (info.status == FacilityStatus.CLOSED and info.closure_from is not None
                and on >= info.closure_from):
            return min(value, 0)  # §14.4: no placements after a permanent closure
        return value

    def free_within(self, facility_id: int, care_type: CareType, start: date,
                    grace_days: int) -> int:
        """Most free places on any day of [start, start + grace] (placement.md §5)."""
        known = self._within.get((facility_id, care_type, start, grace_days))
        if known is not None:
            return known
        last = min(start + timedelta(days=grace_days), self.end)
        self._check(start)
        candidates = {start}
        for steps in (self._net.get((facility_id, care_type)),
                      self._net.get((facility_id, None)),
                      self.capacity.get((facility_id, care_type)),
                      self.company_unused.get(facility_id)):
            if steps is not None:
                candidates.update(steps.changes_in(start, last))
        found = max(self.free(facility_id, care_type, day) for day in candidates)
        self._within[(facility_id, care_type, start, grace_days)] = found
        return found

    def add_reservation(self, facility_id: int, care_type: CareType, starts_on: date,
                        count: int = 1) -> None:
        """Count a reservation made after loading (keeps one tick's answers consistent)."""
        key = (facility_id, care_type)
        deltas = self._reservation_deltas.setdefault(key, defaultdict(int))
        deltas[max(starts_on, self.start)] += count
        self.reserved[key] = Steps(deltas)
        self._rebuild_net([key])
        self._within.clear()

    def care_types(self, facility_id: int) -> list[CareType]:
        """Care types with capacity, contracts or reservations at the facility in the range."""
        return sorted(self._types.get(facility_id, ()), key=list(CareType).index)
