"""Monthly assessment of every contract (fees.md §2, §5–§9): one bulk load per month,
then pure arithmetic per contract, every step kept visible (3.10.1).

Order of the steps: care group by age at the start of the month (G1, G4) → full fee
of the tier (D1) → parents' share by rank and single-parent status (D2–D5) →
waiver/reduction on the whole month, which keeps the fee above the regular care time
(§9.5) → half month with the case flag, 50 % of that amount (§7.2, issue 13 item 6) →
manual override (3.10.1). Extra-care fees are added separately and are never discounted
or halved (§8).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ekita.core.models import CareContract, Carrier, Child, Childminder, Facility, Guardian, Pkn
from ekita.core.models.enums import CareType, CarrierCategory
from ekita.core.models.fees import (
    ExtraCare,
    FacilityFeeOption,
    FactKind,
    FeeFact,
    FeeType,
    SiblingLink,
)
from ekita.core.services.fees.rules import (
    FeeGroup,
    cents,
    half,
    kita_group,
    month_end,
    parents_fee,
    round_cent,
)
from ekita.core.services.fees.siblings import ranks
from ekita.core.services.fees.statutes import Statute, StatuteBook
from ekita.core.services.terms import Term, predominant, terms_in

NOT_COUNTED = {FactKind.FOSTER_CARE, FactKind.HEILPAED}
KITA = {CareType.KRIPPE, CareType.KINDERGARTEN, CareType.INTEGRATION_KRIPPE,
        CareType.INTEGRATION_KINDERGARTEN}
HORT = {CareType.HORT, CareType.INTEGRATION_HORT}
REGULAR_HOURS = {FeeGroup.KK: Decimal(9), FeeGroup.KG: Decimal(9), FeeGroup.HORT: Decimal(5),
                 FeeGroup.FOERD: Decimal(5)}


@dataclass
class Assessment:
    """The fee of one contract for one month, with how it came about."""

    contract_id: int
    child_id: int
    period_start: date
    payer_guardian_id: int
    cost_centre: str
    pkn: str | None
    in_debit_scope: bool  # municipal facility or childminding (3.10.2, 3.10.9)
    group: FeeGroup | None = None
    hours: Decimal | None = None  # the statute's tier
    daily_hours: Decimal | None = None  # the contract term's hours the month is assessed with
    rank: int | None = None
    single_parent: bool = False
    full_cents: int = 0
    # The steps, for the lost-fee report (fees.md §15.1): the fee of a first, not single
    # parent's child; after the sibling discount; after the single-parent discount.
    base_cents: int = 0
    after_siblings_cents: int = 0
    discounted_cents: int = 0
    computed_cents: int = 0
    amount_cents: int = 0
    waived: bool = False  # waiver or reduction (B §13)
    overridden: bool = False
    extra_cents: dict[FeeType, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> dict[FeeType, int]:
        """Amount per fee type, zero amounts left out."""
        out = {FeeType.ELTERNBEITRAG: self.amount_cents, **self.extra_cents}
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class _Contract:
    id: int
    child_id: int
    family_id: int
    birth: date
    excluded: bool
    care_type: CareType
    start: date
    end: date | None
    hours: Decimal
    payer: int
    facility_id: int | None
    cost_centre: str
    municipal: bool
    days: int = 0  # days of the month under contract
    type_days: tuple[tuple[CareType, int], ...] = ()  # days per care type (B §10(2))


def _days_per_type(terms: list[Term]) -> tuple[tuple[CareType, int], ...]:
    days: dict[CareType, int] = defaultdict(int)
    for t in terms:
        days[t.care_type] += t.days
    return tuple(days.items())


def _primary(contracts: list[_Contract]) -> dict[int, int]:
    """One fee per child and month: the care type on most days of the month decides
    (Anlage B §10(2), school start; issue 13 item 5), then, of its contracts, the one with
    most days; ties go to the contract that started first (F15)."""
    by_child: dict[int, list[_Contract]] = defaultdict(list)
    for c in contracts:
        by_child[c.child_id].append(c)
    primary: dict[int, int] = {}
    for child_id, own in by_child.items():
        if len(own) == 1:
            primary[child_id] = own[0].id
            continue
        own.sort(key=lambda c: (c.start, c.id))
        per_type: dict[CareType, int] = defaultdict(int)
        for c in own:
            for care_type, days in c.type_days:
                per_type[care_type] += days
        order = {c.care_type: n for n, c in reversed(list(enumerate(own)))}
        wanted = max(per_type, key=lambda t: (per_type[t], -order.get(t, len(own))))
        carriers = [c for c in own if c.care_type == wanted] or own
        primary[child_id] = max(carriers, key=lambda c: (c.days, -own.index(c))).id
    return primary


@lru_cache(maxsize=65536)
def _kita_group(birth: date, first: date, option_34: bool) -> FeeGroup:
    return kita_group(birth, first, option_34)


class MonthAssessor:
    """Loads what one month needs in a few queries, then assesses contracts in memory."""

    def __init__(self, session: Session, first: date, *, book: StatuteBook | None = None,
                 contract_ids: Iterable[int] | None = None) -> None:
        self.first, self.last = first, month_end(first)
        self.statute: Statute = (book or StatuteBook(session)).at(first)
        self._fee_cache: dict[tuple[FeeGroup, Decimal, int, bool],
                              tuple[Decimal, Decimal, int, int]] = {}
        self._load(session, None if contract_ids is None else set(contract_ids))

    # ---------------------------------------------------------------- loading
    def _contract_rows(self, session: Session, families: set[int] | None) -> list[_Contract]:
        stmt = (
            select(CareContract.id, CareContract.child_id, Child.family_id, Child.birth_date,
                   Child.excluded_from_count, CareContract.care_type, CareContract.start_date,
                   CareContract.end_date, CareContract.daily_hours,
                   CareContract.payer_guardian_id, CareContract.facility_id,
                   Facility.cost_centre, Childminder.cost_centre, Carrier.category)
            .join(Child, Child.id == CareContract.child_id)
            .outerjoin(Facility, Facility.id == CareContract.facility_id)
            .outerjoin(Carrier, Carrier.id == Facility.carrier_id)
            .outerjoin(Childminder, Childminder.id == CareContract.childminder_id)
            .where(CareContract.start_date <= self.last,
                   or_(CareContract.end_date.is_(None), CareContract.end_date >= self.first))
        )
        if families is not None:
            stmt = stmt.where(Child.family_id.in_(families))
        rows = session.execute(stmt).all()
        # The term valid on most days of the month decides (issue 13 item 3; decisions:
        # contract terms): care type and hours are read from the terms, never the mirror.
        terms = terms_in(session, self.first, self.last,
                         None if families is None else [r[0] for r in rows])
        out = []
        for r in rows:
            found = terms.get(r[0])
            if not found:
                continue
            term = predominant(found)
            out.append(_Contract(
                r[0], r[1], r[2], r[3], bool(r[4]), term.care_type, r[6], r[7],
                term.daily_hours, r[9], r[10], r[11] or r[12] or "",
                r[13] == CarrierCategory.MUNICIPAL or r[10] is None,
                sum(t.days for t in found), _days_per_type(found)))
        return out

    def _load(self, session: Session, contract_ids: set[int] | None) -> None:
        first, last = self.first, self.last
        link_rows = session.execute(
            select(SiblingLink.child_id, SiblingLink.sibling_id).where(
                SiblingLink.valid_from <= last,
                or_(SiblingLink.valid_to.is_(None), SiblingLink.valid_to >= first))).all()
        linked_children = {c for row in link_rows for c in row}
        family_of: dict[int, int] = dict(session.execute(
            select(Child.id, Child.family_id).where(Child.id.in_(linked_children))).all()
        ) if linked_children else {}
        self.links = [(family_of[a], family_of[b]) for a, b in link_rows]
        families: set[int] | None = None
        if contract_ids is not None:
            families = set(session.scalars(
                select(Child.family_id).join(CareContract, CareContract.child_id == Child.id)
                .where(CareContract.id.in_(contract_ids))))
            # households linked to these (one hop is enough for the test cases; F5)
            for a, b in self.links:
                if a in families or b in families:
                    families |= {a, b}
        self.contracts = self._contract_rows(session, families)
        fact_stmt = select(FeeFact).where(
            FeeFact.valid_from <= last, or_(FeeFact.valid_to.is_(None), FeeFact.valid_to >= first))
        self.facts: dict[int, list[FeeFact]] = defaultdict(list)
        self.sp_known: set[int] = set(session.scalars(
            select(FeeFact.child_id).where(FeeFact.kind == FactKind.SINGLE_PARENT).distinct()))
        for fact in session.scalars(fact_stmt):
            self.facts[fact.child_id].append(fact)
        outside = [(f.child_id) for facts in self.facts.values() for f in facts
                   if f.kind == FactKind.CARE_OUTSIDE_DRESDEN]
        outside_rows = session.execute(select(Child.id, Child.family_id, Child.birth_date,
                                              Child.excluded_from_count)
                                       .where(Child.id.in_(outside))).all() if outside else []
        child_ids = {c.child_id for c in self.contracts}
        self.pkn: dict[int, str] = {}
        pkn_stmt = (select(Pkn.child_id, Pkn.number, Pkn.active).where(
            Pkn.valid_from <= first, or_(Pkn.valid_to.is_(None), Pkn.valid_to >= first))
            .order_by(Pkn.active, Pkn.valid_from))
        if contract_ids is not None:
            pkn_stmt = pkn_stmt.where(Pkn.child_id.in_(child_ids))
        for child_id, number, _active in session.execute(pkn_stmt):
            self.pkn[child_id] = number  # active and newest last: wins
        payers = {c.payer for c in self.contracts}
        sp_stmt = select(Guardian.id).where(Guardian.single_parent.is_(True))
        if contract_ids is not None:
            sp_stmt = sp_stmt.where(Guardian.id.in_(payers))
        self.single_payers = set(session.scalars(sp_stmt))
        self.option_34 = set(session.scalars(select(FacilityFeeOption.facility_id).where(
            FacilityFeeOption.kg_from_34_months.is_(True))))
        self.extra: dict[int, list[ExtraCare]] = defaultdict(list)
        for row in session.scalars(select(ExtraCare).where(
                and_(ExtraCare.day >= first, ExtraCare.day <= last))):
            self.extra[row.contract_id].append(row)
        # counted children of the month
        counted: dict[int, tuple[int, int, date]] = {}
        for c in self.contracts:
            if not self._excluded(c.child_id, c.excluded, c.care_type):
                counted[c.child_id] = (c.child_id, c.family_id, c.birth)
        for child_id, family_id, birth, excluded in outside_rows:
            if not self._excluded(child_id, bool(excluded), None):
                counted[child_id] = (child_id, family_id, birth)
        self.ranks = ranks(counted.values(), self.links)
        self.primary = _primary(self.contracts)

    # ------------------------------------------------------------- the rules
    def _facts(self, child_id: int, kind: FactKind, contract_id: int | None = None
               ) -> list[FeeFact]:
        facts = self.facts.get(child_id)
        if not facts:  # most children: nothing recorded
            return []
        return [f for f in facts if f.kind == kind
                and (f.contract_id is None or contract_id is None or f.contract_id == contract_id)]

    def _excluded(self, child_id: int, flag: bool, care_type: CareType | None) -> bool:
        """Z4: foster/residential or heilpädagogisch: no fee, not counted."""
        return (flag or care_type == CareType.HEILPAEDAGOGISCH
                or any(f.kind in NOT_COUNTED for f in self.facts.get(child_id, ())))

    def _single(self, c: _Contract) -> bool:
        """B §10(6): granted periods decide; without any, the payer's flag (F6)."""
        if c.child_id in self.sp_known:
            return bool(self._facts(c.child_id, FactKind.SINGLE_PARENT))
        return c.payer in self.single_payers

    def _group(self, c: _Contract) -> FeeGroup:
        if c.care_type in HORT:
            return FeeGroup.FOERD if self._facts(c.child_id, FactKind.FOERDERHORT) else \
                FeeGroup.HORT
        if c.care_type == CareType.KINDERTAGESPFLEGE:
            return FeeGroup.KK  # B §11(3)
        return _kita_group(c.birth, self.first, c.facility_id in self.option_34)

    def assess(self, c: _Contract) -> Assessment:
        statute, d = self.statute, self.statute.discounts
        a = Assessment(c.id, c.child_id, self.first, c.payer, c.cost_centre,
                       self.pkn.get(c.child_id), c.municipal, daily_hours=c.hours)
        a.extra_cents = self._extra(c)
        if self._excluded(c.child_id, c.excluded, c.care_type):
            a.notes.append("no parental fee: foster/residential care or heilpädagogischer "
                           "Platz (B §10(7), §13(4))")
            if self.primary.get(c.child_id, c.id) == c.id:  # foregone: the first child's fee
                a.base_cents = cents(parents_fee(statute.full(self._group(c), c.hours), 1,
                                                 False, d))
            return a
        if self.primary.get(c.child_id, c.id) != c.id:
            a.notes.append(f"the child's fee for this month is on contract "
                           f"{self.primary[c.child_id]} (one fee per child and month)")
            return a
        a.group = self._group(c)
        a.hours = statute.tier(a.group, c.hours)
        a.rank, a.single_parent = self.ranks.get(c.child_id), self._single(c)
        rank = a.rank or 1
        key = (a.group, c.hours, rank, a.single_parent)
        if key not in self._fee_cache:
            full_ = statute.full(a.group, c.hours)
            self._fee_cache[key] = (full_, parents_fee(full_, rank, a.single_parent, d),
                                    cents(parents_fee(full_, 1, False, d)),
                                    cents(parents_fee(full_, rank, False, d)))
        full, fee, a.base_cents, a.after_siblings_cents = self._fee_cache[key]
        a.full_cents = cents(full)
        a.discounted_cents = cents(fee)
        a.notes.append(f"{a.group} {a.hours} h full {full}; Zählkind {rank}"
                       + ("; single parent" if a.single_parent else ""))
        halved = bool(self._facts(c.child_id, FactKind.HALF_MONTH, c.id)) and (
                (self.first <= c.start <= self.last and c.start.day >= 15)
                or (c.end is not None and self.first <= c.end <= self.last and c.end.day <= 15))
        if halved:
            a.notes.append("half month (B §10(1), case flag)")
        # Issue 13 item 6: a waiver/reduction (B §13(3)) works on the whole month's fee and
        # the half month halves what is left, so the part above the regular care time is
        # halved, never swallowed by the waiver (docs/fees.md, "half month").
        computed = half(fee) if halved else fee
        a.computed_cents = cents(computed)
        amount = fee
        waiver = self._facts(c.child_id, FactKind.WAIVER, c.id)
        reduction = self._facts(c.child_id, FactKind.REDUCTION, c.id)
        if waiver or reduction:
            regular = min(a.hours, REGULAR_HOURS[a.group])
            above = fee - parents_fee(statute.full(a.group, regular), rank, a.single_parent, d)
            above = max(above, Decimal(0))
            base = Decimal(0) if waiver else round_cent(Decimal(reduction[-1].amount_cents or 0)
                                                         / 100)
            amount = min(fee, base + above)
            a.waived = True
            a.notes.append(("waiver" if waiver else "reduction")
                           + f" (B §13); fee above the regular care time {above}")
        if halved:
            amount = half(amount)
        overrides = self._facts(c.child_id, FactKind.OVERRIDE, c.id)
        if overrides:
            amount = round_cent(Decimal(overrides[-1].amount_cents or 0) / 100)
            a.overridden = True
            a.notes.append(f"manual override; computed {round_cent(computed)}")
        a.amount_cents = cents(amount)
        return a

    def _extra(self, c: _Contract) -> dict[FeeType, int]:
        """§8: per tier exceeded 5 €, Hort on school-free days 0 €, non-pickup 25 €."""
        p = self.statute.params
        extra = non_pickup = Decimal(0)
        for day in self.extra.get(c.id, ()):
            if not (day.school_free_day and c.care_type in HORT):
                extra += p.extra_care_per_tier * day.exceeded_tiers
            if day.not_picked_up:
                non_pickup += p.non_pickup
        return {FeeType.MEHRBETREUUNG: cents(extra), FeeType.NICHTABHOLUNG: cents(non_pickup)}

    def all(self, *, debit_scope_only: bool = False) -> list[Assessment]:
        return [self.assess(c) for c in self.contracts
                if not debit_scope_only or c.municipal]

    def for_contract(self, contract_id: int) -> Assessment | None:
        for c in self.contracts:
            if c.id == contract_id:
                return self.assess(c)
        return None
