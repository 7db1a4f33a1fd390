"""Benchmark: 20,000 applications entering the placement window on one day, then the
12-month occupancy forecast for all facilities, on SQLite and on PostgreSQL.

Per backend: a fresh database with the Dresden-sized demo city (337 facilities, ~42,100
facility places, ~41,500 children with contracts; ``core/demo``), plus 20,000 new
applications (one child each, new families, 1–5 preferences among facilities offering the
care type that fits the child's age, mostly in the child's Stadtbezirk) in the intake pool,
all with the placement window opening on the demo's business date. They are written with
Core inserts before the clock starts: the benchmark times the procedure, not the intake.

Timed:

* ``route``: ``ekita.core.services.placement.tick.tick`` for that day (window entry,
  routing through the preferences against one ``PlaceLedger``, waiting-list entries, events
  and audit rows) and the commit;
* ``forecast``: ``load_forecast`` — ledger load (contracts, children, offers, reservations)
  and 12 monthly key dates for every facility and care type;
* ``floor``: one raw driver ``SELECT`` of the contract columns the ledger needs, the least
  any forecast has to read.

Goals (issue 3): routing ≤ 5 s, forecast ≤ 2 s on each database on the 2-core machine.
Run: ``.venv/bin/python bench/placement.py``. PostgreSQL comes from
``EKITA_BENCH_DATABASE_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
a scratch database ``ekita_bench_placement_<pid>`` is made and dropped. The last line of
the output is one JSON object with the figures.
"""

from __future__ import annotations

import json
import os
import random
import resource
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))
from demo_load import machine, postgres_admin, say, scratch_database, timed

from ekita.core import demo
from ekita.core.access import Principal
from ekita.core.db.migrate import upgrade
from ekita.core.db.session import make_engine, normalise_url, unit_of_work
from ekita.core.models import (
    Application,
    ApplicationChild,
    CareContract,
    Child,
    Family,
    Preference,
    Stadtteil,
    WaitingListEntry,
)
from ekita.core.models.enums import CareType, NotificationChannel
from ekita.core.models.placement import ApplicationState
from ekita.core.services.placement.forecast import GroupBy, load_forecast
from ekita.core.services.placement.occupancy import age_in_months
from ekita.core.services.placement.rules import PlacementRules
from ekita.core.services.placement.tick import tick

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
APPLICATIONS = 20_000
ROUTE_GOAL_S, FORECAST_GOAL_S = 5.0, 2.0
SEED = 3003
RULES = PlacementRules()
SYSTEM = Principal.system("bench", "bench")


def add_months(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    return day.replace(year=day.year + y, month=m + 1)


# ---------------------------------------------------------------- the applications


def applications(city: demo.DemoCity, bezirk_of: dict[str, str], window_day: date
                 ) -> dict[str, list[dict[str, Any]]]:
    """Rows for 20,000 one-child applications whose window opens on ``window_day``."""
    rng = random.Random(SEED)
    start = add_months(window_day, RULES.window_months)
    offers: dict[CareType, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    districts = {f["id"]: f["stadtteil_nr"] for f in city.facilities}
    for o in city.care_offers:
        if o["valid_from"] <= start and (o["valid_to"] is None or o["valid_to"] >= start) \
                and o["care_type"] in (CareType.KRIPPE, CareType.KINDERGARTEN):
            offers[o["care_type"]][bezirk_of[districts[o["facility_id"]]]].append(
                o["facility_id"])
    everywhere = {t: sorted({f for fs in by.values() for f in fs}) for t, by in offers.items()}
    stadtteile = sorted(bezirk_of)
    now = datetime.now(UTC)
    first_family = 1 + max(f["id"] for f in city.families)
    first_child = 1 + max(c["id"] for c in city.children)
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i in range(APPLICATIONS):
        family_id, child_id, app_id = first_family + i, first_child + i, i + 1
        nr = rng.choice(stadtteile)
        age = rng.randint(10, 30) if rng.random() < 0.6 else rng.randint(37, 66)  # months
        birth = add_months(start, -age) - timedelta(days=rng.randint(0, 27))
        care_type = CareType.KRIPPE if age_in_months(birth, start) < 36 else \
            CareType.KINDERGARTEN
        near = offers[care_type].get(bezirk_of[nr]) or everywhere[care_type]
        count = min(rng.randint(1, 5), len(set(near)))
        chosen = rng.sample(sorted(set(near)), count)
        rows["family"].append({"id": family_id, "number": f"{600000 + i}"})
        rows["child"].append({"id": child_id, "family_id": family_id,
                              "family_name": f"Bench{i}", "first_name": "Kind",
                              "birth_date": birth, "stadtteil_nr": nr})
        rows["application"].append({
            "id": app_id, "family_id": family_id, "state": ApplicationState.INTAKE_POOL,
            "desired_start": start, "window_entry": window_day, "daily_hours": Decimal("9"),
            "notification_channel": NotificationChannel.EMAIL, "consent_privacy_at": now,
            "consent_transfer_at": now, "consent_terms_at": now, "submitted_at": now,
            "submitted_on": window_day - timedelta(days=rng.randint(1, 400)),
            "recheck_requested_on": window_day - timedelta(days=35)})
        rows["application_child"].append({"id": app_id, "application_id": app_id,
                                          "child_id": child_id})
        for rank, fid in enumerate(chosen, start=1):
            rows["preference"].append({"application_id": app_id, "rank": rank,
                                       "facility_id": fid, "care_type": care_type})
    return rows


def insert_applications(engine: Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    tables = {"family": Family, "child": Child, "application": Application,
              "application_child": ApplicationChild, "preference": Preference}
    with engine.begin() as conn:
        for name, model in tables.items():
            for i in range(0, len(rows[name]), 5000):
                conn.execute(insert(model.__table__), rows[name][i:i + 5000])
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences on
            for name in ("family", "child", "application", "application_child"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT max(id) FROM {name}))")
            conn.exec_driver_sql("ANALYZE")


# ---------------------------------------------------------------- one backend


def floor(engine: Engine) -> float:
    """One raw driver SELECT of the contract columns the ledger reads."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        cursor.execute("SELECT c.facility_id, c.child_id, c.care_type, c.start_date, "
                       "c.end_date, c.company_reserved_place, k.birth_date, k.school_deferred "
                       "FROM care_contract c JOIN child k ON k.id = c.child_id "
                       "WHERE c.facility_id IS NOT NULL")
        cursor.fetchall()
        return round(time.perf_counter() - started, 3)
    finally:
        raw.close()


def run(label: str, url: str, city: demo.DemoCity, result: dict[str, Any]) -> None:
    engine = make_engine(url)
    upgrade(engine)
    timed(f"{label}: load the demo city", lambda: demo.load(engine, city))
    with engine.connect() as conn:
        bezirk_of = dict(conn.execute(select(Stadtteil.nr, Stadtteil.bezirk)).all())
    day = city.today
    rows = applications(city, bezirk_of, day)
    timed(f"{label}: insert {APPLICATIONS:,} applications",
          lambda: insert_applications(engine, rows))

    def route() -> Any:
        with unit_of_work(engine, SYSTEM) as session:
            return tick(session, day, RULES)

    report, route_s = timed(f"{label}: tick {day} (route + commit)", route)
    say(f"  {label}: {report.as_dict()}")
    with unit_of_work(engine, SYSTEM) as session:
        again = tick(session, day, RULES)
        waiting = session.scalar(select(func.count()).select_from(WaitingListEntry))
        states = dict(session.execute(select(Application.state, func.count())
                                      .group_by(Application.state)).all())
        contracts = session.scalar(select(func.count()).select_from(CareContract))
    say(f"  {label}: second tick entered {again.entered_window}; states {states}")

    def forecast() -> Any:
        with unit_of_work(engine, SYSTEM) as session:
            return load_forecast(session, day, 12, RULES, GroupBy.FACILITY)

    forecast_rows, forecast_s = timed(f"{label}: 12-month forecast, all facilities", forecast)
    forecast_again = timed(f"{label}: forecast again (warm)", forecast)[1]
    floor_s = floor(engine)
    say(f"  {label}: floor (raw SELECT of the contracts): {floor_s:.3f} s")
    free = sum(r.free for r in forecast_rows if r.care_type == "all" and r.on == day)
    result |= {
        f"{label}_route_s": route_s, f"{label}_forecast_s": forecast_s,
        f"{label}_forecast_warm_s": forecast_again, f"{label}_floor_select_s": floor_s,
        f"{label}_routed_to_facility": report.routed_to_facility,
        f"{label}_moved_to_pool": report.moved_to_pool,
        f"{label}_waiting_entries": waiting, f"{label}_forecast_rows": len(forecast_rows),
        f"{label}_free_places_on_day": free, f"{label}_contracts": contracts,
        f"{label}_second_tick_entered": again.entered_window,
    }
    engine.dispose()


def main() -> int:
    city, generate_s = timed("generate the demo city", lambda: demo.generate(demo.DEFAULT_SEED))
    result: dict[str, Any] = {"applications": APPLICATIONS, "generate_s": generate_s,
                              "window_day": city.today.isoformat()}
    with tempfile.TemporaryDirectory(prefix="ekita-bench-placement-") as folder:
        run("sqlite", f"sqlite:///{folder}/placement.db", city, result)
    url = normalise_url(os.environ.get("EKITA_BENCH_DATABASE_URL", DEFAULT_PG))
    admin, version = postgres_admin(url)
    if admin is None:
        say(f"postgres skipped: no server answers at {make_url(url)!r} ({version})")
        result |= {"postgres_route_s": None, "postgres_forecast_s": None}
        version = None
    else:
        with scratch_database(admin, f"ekita_bench_placement_{os.getpid()}") as pg:
            run("postgres", pg, city, result)
        admin.dispose()
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["goals"] = {"route_s": ROUTE_GOAL_S, "forecast_s": FORECAST_GOAL_S}
    result["within_goals"] = all(
        result.get(f"{db}_{k}_s") is not None
        and result[f"{db}_{k}_s"] <= (ROUTE_GOAL_S if k == "route" else FORECAST_GOAL_S)
        for db in ("sqlite", "postgres") for k in ("route", "forecast"))
    result["machine"] = machine(version)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
