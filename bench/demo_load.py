"""Benchmark: generate the demo city and load it into SQLite and PostgreSQL.

Goal (Lastenheft 4.1 sizes): generate + load under 60 s on each backend on the
2-core reference machine. Each load goes into a fresh database. In the same run
a floor is measured: the same rows (records and their audit rows) written with the
bare driver into the same, freshly migrated tables: ``sqlite3`` ``executemany``
and psycopg ``COPY``. The difference to the floor is the cost of SQLAlchemy and
of building the rows. On PostgreSQL both load paths are timed: the default
(``COPY`` on the transaction's connection) and Core ``executemany``
(``copy=False``).

Run: ``.venv/bin/python bench/demo_load.py``. PostgreSQL comes from
``EKITA_BENCH_DATABASE_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
the script creates ``ekita_bench_<pid>`` databases next to it and drops them again,
and skips PostgreSQL with a note if no server answers. The last line of the
output is one JSON object with the figures.
"""

from __future__ import annotations

import enum
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from ekita.core import demo
from ekita.core.db.migrate import upgrade
from ekita.core.db.session import make_engine, normalise_url
from ekita.core.models import AuditEvent

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_S = 60.0
START = time.perf_counter()

Table = tuple[str, list[str], list[tuple[Any, ...]]]


def say(message: str) -> None:
    print(f"[{time.perf_counter() - START:7.1f}s] {message}", flush=True)


def timed(label: str, action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    seconds = round(time.perf_counter() - started, 2)
    say(f"{label}: {seconds:.2f} s")
    return result, seconds


def progress_printer(label: str) -> Callable[[str, int, int], None]:
    """Print one line per finished stage (the CLI draws a bar from the same calls)."""

    def progress(stage: str, done: int, total: int) -> None:
        if done == total and stage != "audit_event":
            say(f"  {label}: {stage} {total:,} rows")

    return progress


# ---------------------------------------------------------------- the loads


def load_sqlite(city: demo.DemoCity, folder: Path) -> tuple[float, list[dict[str, Any]]]:
    engine = make_engine(f"sqlite:///{folder}/demo.db")
    upgrade(engine)
    _, seconds = timed("sqlite load", lambda: demo.load(engine, city, progress_printer("sqlite")))
    figures = demo.totals(engine, city.today, by_group=True)
    engine.dispose()
    return seconds, figures


def load_postgres(
    city: demo.DemoCity, url: str, copy: bool | None
) -> tuple[float, list[dict[str, Any]]]:
    engine = make_engine(url)
    upgrade(engine)
    label = "postgres executemany" if copy is False else "postgres"
    _, seconds = timed(
        f"{label} load", lambda: demo.load(engine, city, progress_printer(label), copy=copy)
    )
    figures = demo.totals(engine, city.today, by_group=True)
    engine.dispose()
    return seconds, figures


# ---------------------------------------------------------------- the floor


def floor_tables(city: demo.DemoCity, convert: Callable[[Any], Any]) -> list[Table]:
    """Every row the loader writes, as driver-ready tuples: records, then audit rows."""
    tables: list[Table] = []
    audit: list[tuple[Any, ...]] = []
    audit_columns: list[str] = []
    for model, rows in city.tables():
        full = [demo.stamped(row, city) for row in rows]
        columns = list(full[0])
        tables.append((model.__tablename__, columns, [to_tuple(r, convert) for r in full]))
        events = demo.audit_events(model, rows, city)
        audit_columns = list(events[0])
        audit.extend(to_tuple(e, convert) for e in events)
    tables.append((AuditEvent.__tablename__, audit_columns, audit))
    return tables


def to_tuple(row: dict[str, Any], convert: Callable[[Any], Any]) -> tuple[Any, ...]:
    return tuple(convert(v) for v in row.values())


def sqlite_value(value: Any) -> Any:
    """The text SQLAlchemy's SQLite types store (dates ISO, datetimes with microseconds)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, clock):
        return value.strftime("%H:%M:%S.%f")
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def postgres_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def floor_sqlite(tables: Sequence[Table], folder: Path) -> float:
    path = folder / "floor.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    started = time.perf_counter()
    conn.execute("BEGIN")
    for name, columns, rows in tables:
        marks = ", ".join("?" for _ in columns)
        conn.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", rows)
    conn.execute("COMMIT")
    seconds = round(time.perf_counter() - started, 2)
    conn.close()
    say(f"sqlite floor (sqlite3 executemany): {seconds:.2f} s")
    return seconds


def floor_postgres(tables: Sequence[Table], url: str) -> float:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq) as conn:
        started = time.perf_counter()
        with conn.cursor() as cursor:
            for name, columns, rows in tables:
                with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        conn.commit()
        seconds = round(time.perf_counter() - started, 2)
    say(f"postgres floor (psycopg COPY): {seconds:.2f} s")
    return seconds


# ---------------------------------------------------------------- PostgreSQL databases


def postgres_admin(url: str) -> tuple[Engine | None, str]:
    """An autocommit engine on the server, or None and the reason it is unreachable."""
    try:
        admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
    except Exception as exc:  # any failure means: no usable server, skip it
        return None, f"{type(exc).__name__}: {exc}".splitlines()[0]
    return admin, str(version)


def shared_data_key() -> None:
    """One data key for a benchmark and the child processes it starts, which inherit the
    environment: bank and health columns are encrypted at rest (issue 12 item 3), so a
    city loaded by a child must be readable by the parent."""
    from ekita.core import crypto

    os.environ.setdefault("EKITA_DATA_KEY", crypto.generate_key())
    crypto.configure(os.environ["EKITA_DATA_KEY"])


@contextmanager
def scratch_database(admin: Engine, name: str) -> Iterator[str]:
    """A fresh database for one run, dropped afterwards whatever happens."""
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_runs(city: demo.DemoCity, admin: Engine, result: dict[str, Any]) -> None:
    base = f"ekita_bench_{os.getpid()}"
    with scratch_database(admin, base) as url:
        seconds, figures = load_postgres(city, url, copy=None)
    result["postgres_load_s"] = seconds
    result["postgres_s"] = round(result["generate_s"] + seconds, 2)
    result["postgres_totals_match_sqlite"] = figures == result.pop("_sqlite_figures")
    with scratch_database(admin, f"{base}_em") as url:
        seconds, _ = load_postgres(city, url, copy=False)
    result["postgres_executemany_load_s"] = seconds
    result["postgres_executemany_s"] = round(result["generate_s"] + seconds, 2)
    tables, prep = timed(
        "postgres floor: rows to tuples", lambda: floor_tables(city, postgres_value)
    )
    result["postgres_floor_prep_s"] = prep
    with scratch_database(admin, f"{base}_floor") as url:
        result["postgres_floor_s"] = floor_postgres(tables, url)


# ---------------------------------------------------------------- main


def machine(postgres_version: str | None) -> dict[str, Any]:
    return {
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgres": postgres_version,
    }


def main() -> int:
    seed = demo.DEFAULT_SEED
    say(f"generating the demo city (seed {seed})")
    city, generate_s = timed("generate", lambda: demo.generate(seed))
    counts = city.counts()
    rows = sum(counts.values()) * 2  # each record plus its audit row
    say(f"{sum(counts.values()):,} records + as many audit rows = {rows:,} rows")
    result: dict[str, Any] = {"seed": seed, "goal_s": GOAL_S, "generate_s": generate_s}
    with tempfile.TemporaryDirectory(prefix="ekita-bench-") as folder:
        seconds, figures = load_sqlite(city, Path(folder))
        result |= {"sqlite_load_s": seconds, "sqlite_s": round(generate_s + seconds, 2)}
        result["_sqlite_figures"] = figures
        tables, prep = timed(
            "sqlite floor: rows to tuples", lambda: floor_tables(city, sqlite_value)
        )
        result["sqlite_floor_prep_s"] = prep
        result["sqlite_floor_s"] = floor_sqlite(tables, Path(folder))
        del tables
    url = normalise_url(os.environ.get("EKITA_BENCH_DATABASE_URL", DEFAULT_PG))
    admin, version = postgres_admin(url)
    if admin is None:
        say(f"postgres skipped: no server answers at {make_url(url)!r} ({version})")
        result.pop("_sqlite_figures")
        result |= {"postgres_s": None, "postgres_load_s": None, "postgres_floor_s": None}
        version = None
    else:
        say(f"postgres {version} at {make_url(url).render_as_string(hide_password=True)}")
        postgres_runs(city, admin, result)
        admin.dispose()
    result |= {
        "facilities": counts["facility"],
        "childminders": counts["childminder"],
        "places": sum(f["places"] for f in figures),
        "places_by_group": {f["care_type"]: f["places"] for f in figures},
        "contracts": sum(f["contracts"] for f in figures),
        "children": counts["child"],
        "records": sum(counts.values()),
        "rows": rows,
        "within_goal": all(
            result[k] is not None and result[k] < GOAL_S for k in ("sqlite_s", "postgres_s")
        ),
        "machine": machine(version),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
