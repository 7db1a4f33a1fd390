"""The demo city: a deterministic Dresden of Lastenheft 4.1 size, and its bulk loader.

Generated data is checked without a database; the load tests share one SQLite file
loaded once per module (about half a minute on the 2-core reference machine).
"""

from __future__ import annotations

import csv
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from ekita.core import demo
from ekita.core.access import Principal
from ekita.core.db.migrate import upgrade
from ekita.core.db.session import make_engine, unit_of_work
from ekita.core.errors import Conflict
from ekita.core.models import AuditEvent, Child, Family, Stadtteil
from ekita.core.models.enums import (
    CareType,
    CarrierCategory,
    CarrierType,
    ContactKind,
    ContactVisibility,
    FacilityStatus,
    LegalForm,
    PayerKind,
)
from ekita.core.tracking import jsonable, record_as_of

TARGETS = {"krippe": 7_250, "kindergarten": 18_500, "hort": 16_350, "kindertagespflege": 1_650}
HOURS = {Decimal(h) for h in ("4.5", "5", "6", "7", "8", "9", "10")}


def within(value: int, target: int, tolerance: float = 0.02) -> bool:
    return abs(value - target) <= target * tolerance


@pytest.fixture(scope="module")
def city() -> demo.DemoCity:
    return demo.generate()


@pytest.fixture(scope="module")
def loaded(
    city: demo.DemoCity, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, list[tuple[str, int, int]]]]:
    path: Path = tmp_path_factory.mktemp("demo")
    engine = make_engine(f"sqlite:///{path}/d.db")
    upgrade(engine)
    calls: list[tuple[str, int, int]] = []
    demo.load(engine, city, lambda stage, done, total: calls.append((stage, done, total)))
    yield engine, calls
    engine.dispose()


def stadtteile() -> set[str]:
    text = resources.files("ekita.core.data").joinpath("dresden_stadtteile.csv").read_text("utf-8")
    return {r["stadtteil_nr"] for r in csv.DictReader(text.splitlines(), delimiter=";")}


def by_id(rows: list[dict]) -> dict[int, dict]:
    return {r["id"]: r for r in rows}


# ---------------------------------------------------------------- generated data


def test_same_seed_gives_the_same_city(city: demo.DemoCity) -> None:
    """Lastenheft 4.1 / volumes.md §4: benchmarks need a reproducible city; the global
    RNG must not leak in, another seed gives another city."""
    random.seed(12345)  # would change the result if generate() used the global RNG
    assert demo.generate(demo.DEFAULT_SEED, demo.DEFAULT_TODAY) == city
    other = demo.generate(seed=demo.DEFAULT_SEED + 1)
    assert other != city
    assert other.children[0] != city.children[0]


def test_places_match_the_mengengeruest(city: demo.DemoCity) -> None:
    """Lastenheft 4.1: ca. 7,250 Krippe, 18,500 Kindergarten, 16,350 Hort and 1,650
    childminding places (±2 %), 337 facilities (14 Krippen, 247 Kitas, 76 Horte)."""
    places = city.places()
    for group, target in TARGETS.items():
        assert within(places[group], target), (group, places[group])
    groups: dict[int, set[str]] = defaultdict(set)
    for offer in city.care_offers:
        groups[offer["facility_id"]].add(demo.care_group(offer["care_type"]))
    mix = Counter(frozenset(g) for g in groups.values())
    assert mix[frozenset({"krippe"})] == 14
    assert mix[frozenset({"krippe", "kindergarten"})] == 247
    assert mix[frozenset({"hort"})] == 76
    assert len(city.facilities) == 337


def test_carriers_are_the_eigenbetrieb_and_about_60_independent_ones(
    city: demo.DemoCity,
) -> None:
    """data-model.md §2 Carrier (Anlage L codes) and volumes.md §4: one municipal
    Eigenbetrieb (01/07) running ≈ 45 % of the facilities, ≈ 60 independent carriers."""
    municipal = [c for c in city.carriers if c["category"] == CarrierCategory.MUNICIPAL]
    assert len(municipal) == 1
    assert municipal[0]["carrier_type"] == CarrierType.JUGENDAMT
    assert municipal[0]["legal_form"] == LegalForm.EIGENBETRIEB
    independent = [c for c in city.carriers if c["category"] == CarrierCategory.INDEPENDENT]
    assert 55 <= len(independent) <= 65
    kinds = {(c["carrier_type"], c["legal_form"]) for c in independent}
    assert (CarrierType.SONSTIGE_JURISTISCHE_PERSON, LegalForm.GEMEINNUETZIGER_VEREIN) in kinds
    assert {CarrierType.ARBEITERWOHLFAHRT, CarrierType.CARITAS, CarrierType.PRIVAT_GEWERBLICH} <= {
        t for t, _ in kinds
    }
    share = sum(f["carrier_id"] == municipal[0]["id"] for f in city.facilities) / 337
    assert 0.40 <= share <= 0.50
    used = {f["carrier_id"] for f in city.facilities}
    assert used == {c["id"] for c in city.carriers}  # every carrier runs a facility


def test_every_stadtteil_has_a_facility(city: demo.DemoCity) -> None:
    """Lastenheft 3.14.1.10 / data-model.md §2 (Address – Stadtteil): facilities spread
    over all 64 Stadtteile; postcodes are Dresden's (01xxx)."""
    assert len(stadtteile()) == 64
    assert {f["stadtteil_nr"] for f in city.facilities} == stadtteile()
    for row in (*city.facilities, *city.childminders, *city.children):
        assert len(row["postcode"]) == 5 and row["postcode"].startswith("01")


def test_cost_centres_are_unique(city: demo.DemoCity) -> None:
    """data-model.md §2 (Facility Kostenstelle, 3.14.1.5; childminder, 3.14.1.9): every
    facility and every childminder has its own cost centre."""
    centres = [f["cost_centre"] for f in city.facilities]
    centres += [m["cost_centre"] for m in city.childminders]
    assert len(centres) == len(set(centres)) == 337 + len(city.childminders)


def test_facility_attributes(city: demo.DemoCity) -> None:
    """Lastenheft 3.3.1, 3.6.2, 3.7.1.3: integration facilities (~15 %), barrier-free
    ones, company-reserved places and temporarily closed sites with a replacement."""
    facilities = city.facilities
    integration = sum(f["integration_facility"] for f in facilities)
    assert 0.10 * 337 <= integration <= 0.20 * 337
    assert any(f["barrier_free"] for f in facilities)
    assert any(f["company_reserved_places"] > 0 for f in facilities)
    closed = [f for f in facilities if f["status"] == FacilityStatus.TEMPORARILY_CLOSED]
    assert closed
    assert all(f["closure_from"] and f["replacement_site"] for f in closed)
    assert all(f["opens_at"] < f["closes_at"] for f in facilities)


def test_childminding(city: demo.DemoCity) -> None:
    """Lastenheft 4.1 and 3.5.2: 3 BVS-KTP, ≈ 341 childminders with at most 5 children."""
    assert len(city.childminding_offices) == 3
    assert 330 <= len(city.childminders) <= 350
    assert all(1 <= m["capacity"] <= 5 for m in city.childminders)
    assert Counter(m["capacity"] for m in city.childminders).most_common(1)[0][0] == 5
    assert {m["office_id"] for m in city.childminders} == {1, 2, 3}
    per_minder = Counter(c["childminder_id"] for c in city.care_contracts if c["childminder_id"])
    capacity = {m["id"]: m["capacity"] for m in city.childminders}
    assert all(n <= capacity[mid] for mid, n in per_minder.items())


def test_occupancy_is_about_95_percent(city: demo.DemoCity) -> None:
    """volumes.md §4 (children with an active contract ≈ places): current contracts fill
    93–97 % of every care group, and no offer is overbooked."""
    places = city.places()
    contracts = Counter(demo.care_group(c["care_type"]) for c in city.care_contracts)
    for group in TARGETS:
        assert 93 <= 100 * contracts[group] / places[group] <= 97, group
    current = {
        (o["facility_id"], o["care_type"]): o["approved_places"]
        for o in city.care_offers
        if o["valid_to"] is None
    }
    booked = Counter(
        (c["facility_id"], c["care_type"]) for c in city.care_contracts if c["facility_id"]
    )
    assert set(booked) <= set(current)  # each contract's care type is its offer's
    assert all(n <= current[key] for key, n in booked.items())


def test_children_fit_their_care_type(city: demo.DemoCity) -> None:
    """data-model.md §4 (care types) and placement.md §1 (school entry): at ``today``
    Krippe and childminding children are under 3, Kindergarten 3–6, Hort 6–10; every
    contract is current and started after birth."""
    ages = {"krippe": (0, 2), "kindertagespflege": (0, 2), "kindergarten": (3, 6), "hort": (6, 10)}
    children = by_id(city.children)
    for contract in city.care_contracts:
        birth = children[contract["child_id"]]["birth_date"]
        low, high = ages[demo.care_group(contract["care_type"])]
        assert low <= demo.age_years(birth, city.today) <= high, contract
        assert birth < contract["start_date"] < city.today
        assert contract["end_date"] is None
        if contract["childminder_id"]:
            assert contract["facility_id"] is None
            assert contract["care_type"] == CareType.KINDERTAGESPFLEGE
        else:
            assert contract["care_type"] != CareType.KINDERTAGESPFLEGE


def test_pkn_is_family_number_plus_child_index(city: demo.DemoCity) -> None:
    """Lastenheft 3.10.1.7, decisions.md D13, fees.md §10: one active PKN per child,
    8 digits = the family's unique 6-digit number (from 100000) + a 2-digit index."""
    families = by_id(city.families)
    numbers = [f["number"] for f in city.families]
    assert len(set(numbers)) == len(numbers)
    assert min(numbers) == "100000" and all(len(n) == 6 for n in numbers)
    children = by_id(city.children)
    assert len(city.pkns) == len(city.children)
    index: Counter[int] = Counter()
    for pkn in city.pkns:
        child = children[pkn["child_id"]]
        index[child["family_id"]] += 1
        family_number = families[pkn["family_id"]]["number"]
        assert pkn["family_id"] == child["family_id"]
        assert pkn["number"] == f"{family_number}{index[child['family_id']]:02d}"
        assert pkn["valid_from"] == child["birth_date"] and pkn["active"]
    assert len({p["number"] for p in city.pkns}) == len(city.pkns)


def test_households(city: demo.DemoCity) -> None:
    """Lastenheft 3.14.1.3, 3.10.1.2 and data-protection.md R7: 1–3 children and 1–2
    guardians per family (single_parent when one), every child linked to every
    guardian, 1–2 contacts per guardian (phones emergency or administrative, e-mail
    administrative), one payer among the child's guardians."""
    children_of = Counter(c["family_id"] for c in city.children)
    guardians_of: dict[int, list[dict]] = defaultdict(list)
    for guardian in city.guardians:
        guardians_of[guardian["family_id"]].append(guardian)
    assert set(children_of.values()) == {1, 2, 3}
    for family in city.families:
        guardians = guardians_of[family["id"]]
        assert 1 <= len(guardians) <= 2
        assert all(g["single_parent"] == (len(guardians) == 1) for g in guardians)
    links = {(link["child_id"], link["guardian_id"]) for link in city.child_guardians}
    expected = {(c["id"], g["id"]) for c in city.children for g in guardians_of[c["family_id"]]}
    assert links == expected and len(links) == len(city.child_guardians)
    contacts = Counter(c["guardian_id"] for c in city.guardian_contacts)
    assert set(contacts.values()) <= {1, 2} and len(contacts) == len(city.guardians)
    for contact in city.guardian_contacts:
        if contact["kind"] == ContactKind.EMAIL:
            assert contact["visibility"] == ContactVisibility.ADMINISTRATIVE
    assert {c["visibility"] for c in city.guardian_contacts} == set(ContactVisibility)
    for contract in city.care_contracts:
        assert (contract["child_id"], contract["payer_guardian_id"]) in links
    assert {c["payer_kind"] for c in city.care_contracts} == set(PayerKind)


def test_daily_hours_use_the_tiers(city: demo.DemoCity) -> None:
    """Anlage B §4 / data-model.md §4: hours are Decimal tiers within the care type's
    range; Hort mostly 5 or 6 hours."""
    hort = [c["daily_hours"] for c in city.care_contracts if c["care_type"] == CareType.HORT]
    assert sum(h in (Decimal("5"), Decimal("6")) for h in hort) >= 0.9 * len(hort)
    for contract in city.care_contracts:
        hours = contract["daily_hours"]
        low, high = CareType(contract["care_type"]).tier_range
        assert isinstance(hours, Decimal) and hours in HOURS and low <= hours <= high


# ---------------------------------------------------------------- loading


@pytest.mark.slow
def test_load_and_summary(city: demo.DemoCity, loaded: tuple[Engine, list]) -> None:
    """Lastenheft 4.1 and volumes.md §4: the loaded city reports the generated places,
    one contract per child and ~95 % occupancy per care group, city-wide and per
    Stadtbezirk."""
    engine, _ = loaded
    totals = {t["care_type"]: t for t in demo.totals(engine, city.today, by_group=True)}
    assert {k: t["places"] for k, t in totals.items()} == city.places()
    assert sum(t["contracts"] for t in totals.values()) == len(city.children)
    assert all(Decimal(93) <= t["occupancy_pct"] <= Decimal(97) for t in totals.values())
    rows = demo.summary(engine, city.today)
    with engine.connect() as conn:
        bezirke = set(conn.scalars(select(Stadtteil.bezirk)))
    assert {r["bezirk"] for r in rows} == bezirke
    assert sum(r["places"] for r in rows) == sum(city.places().values())
    for row in rows:
        if row["places"] >= 100:
            assert Decimal(93) <= row["occupancy_pct"] <= Decimal(97), row


@pytest.mark.slow
def test_load_writes_one_create_audit_row_per_record(
    city: demo.DemoCity, loaded: tuple[Engine, list]
) -> None:
    """data-model.md §1 (audit, historisation) and data-protection.md M5: every loaded
    record has its 'create' row, by actor and source "demo", readable as history."""
    engine, _ = loaded
    with engine.connect() as conn:
        per_entity = dict(
            conn.execute(select(AuditEvent.entity, func.count()).group_by(AuditEvent.entity)).all()
        )
        children = conn.scalar(select(func.count()).select_from(Child))
        actors = conn.execute(select(AuditEvent.actor, AuditEvent.source).distinct()).all()
    assert per_entity == city.counts()
    assert per_entity["child"] == children == len(city.children)
    assert actors == [("demo", "demo")]
    child = city.children[123]
    with unit_of_work(engine, Principal.system("test")) as session:
        state = record_as_of(session, Child, child["id"], city.today)
    assert state is not None
    for key, value in child.items():
        assert state[key] == jsonable(value)


@pytest.mark.slow
def test_load_reports_progress_per_batch(city: demo.DemoCity, loaded: tuple[Engine, list]) -> None:
    """No spec section: the contract with the CLI (hub/cli/demo.py), whose progress bar
    gets every batch; each stage ends at its total."""
    _, calls = loaded
    last = {stage: (done, total) for stage, done, total in calls}
    for table, count in city.counts().items():
        assert last[table] == (count, count)
    audit = sum(city.counts().values())
    assert last["audit_event"] == (audit, audit)
    assert len(calls) >= 2 * audit // demo.BATCH_SIZE


@pytest.mark.slow
def test_load_refuses_a_database_with_data(
    city: demo.DemoCity, loaded: tuple[Engine, list]
) -> None:
    """The demo never overwrites data: loading twice is a Conflict and changes nothing."""
    engine, _ = loaded
    with pytest.raises(Conflict):
        demo.load(engine, city)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Child)) == len(city.children)


def test_audit_rows_match_the_orm_hook(city: demo.DemoCity, tmp_path: Path) -> None:
    """data-model.md §1: the loader's audit rows carry the same changes the ORM hook
    (ekita.core.tracking) writes for a record created through a unit of work."""
    engine = make_engine(f"sqlite:///{tmp_path}/d.db")
    upgrade(engine)
    child = city.children[0]
    family = by_id(city.families)[child["family_id"]]
    with unit_of_work(engine, Principal.system("test")) as session:
        session.add(Family(**family))
        session.flush()
        session.add(Child(**child))
    with engine.connect() as conn:
        orm = conn.scalar(select(AuditEvent.changes).where(AuditEvent.entity == "child"))
    engine.dispose()
    ours = demo.audit_events(Child, [child], city)[0]
    assert ours["entity"] == "child" and ours["action"] == "create"
    assert set(ours["changes"]) == set(orm)
    assert {k: v for k, v in ours["changes"].items() if k != "created_at"} == {
        k: v for k, v in orm.items() if k != "created_at"
    }
