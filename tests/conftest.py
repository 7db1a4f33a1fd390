"""Test fixtures: every database test runs on SQLite and, when reachable, on PostgreSQL.

PostgreSQL is used when ``EKITA_TEST_DATABASE_URL`` is set and the server
answers; the run creates its own scratch database there and drops it at the end.
SQLite tests copy a migrated template file, PostgreSQL tests truncate the tables.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from ekita.core import crypto
from ekita.core.access import Principal
from ekita.core.db.base import Base
from ekita.core.db.migrate import upgrade
from ekita.core.db.session import make_engine, normalise_url, unit_of_work
from ekita.core.models.enums import Role

# Property tests hit real databases; on a loaded 2-core CI machine an example may take
# longer than Hypothesis' default 200 ms deadline without being wrong.
hypothesis_settings.register_profile(
    "ekita", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("ekita")

PG_ENV = "EKITA_TEST_DATABASE_URL"
# Bank and health columns are encrypted at rest (issue 12 item 3): every test, and every
# CLI it starts, has a data key unless it sets its own.
os.environ.setdefault("EKITA_DATA_KEY", crypto.generate_key())
crypto.configure(os.environ["EKITA_DATA_KEY"])
KEEP = {"stadtteil", "alembic_version"}


def _pg_status() -> tuple[str | None, str]:
    url = os.environ.get(PG_ENV)
    if not url:
        return None, f"postgresql: not tested ({PG_ENV} is not set)"
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return None, f"postgresql: skipped, no server answers at {PG_ENV} ({type(exc).__name__})"
    return normalise_url(url), "postgresql: tested"


PG_URL, PG_LINE = _pg_status()
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One visible line saying whether the PostgreSQL run happened."""
    terminalreporter.write_line(PG_LINE)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    assert PG_URL is not None
    name = f"ekita_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@contextmanager
def database_at(backend: str, revision: str, tmp_path: Path) -> Iterator[Engine]:
    """A scratch database migrated to ``revision``, for migration tests with data; a
    PostgreSQL one is its own database, dropped afterwards."""
    if backend == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
        upgrade(eng, revision)
        yield eng
        eng.dispose()
        return
    assert PG_URL is not None
    name = f"ekita_m{revision}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    eng = make_engine(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    upgrade(eng, revision)
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        target = tmp_path / "ekita.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        eng = make_engine(f"sqlite:///{target}")
        yield eng
        eng.dispose()
        return
    eng = request.getfixturevalue("pg_engine")
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name not in KEEP)
    with eng.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    yield eng


@pytest.fixture(autouse=True)
def _run_data_key() -> Iterator[None]:
    """The run's data key for every test; given back after a test that set its own."""
    if not crypto.configured():
        crypto.configure(os.environ["EKITA_DATA_KEY"])
    yield
    crypto.configure(os.environ["EKITA_DATA_KEY"])


SYSTEM = Principal.system("test", "tester")


def as_role(role: Role, facility_id: int | None = None, carrier_id: int | None = None
            ) -> Principal:
    return Principal(name=f"test-{role}", role=role, facility_id=facility_id,
                     carrier_id=carrier_id, source="test")


def work(engine: Engine, principal: Principal = SYSTEM):
    """A unit of work as the given principal (the system by default)."""
    return unit_of_work(engine, principal)


TODAY = date.today()
