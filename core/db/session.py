"""Engines and units of work.

SQLite is the embedded default (a file, WAL journal, foreign keys on);
PostgreSQL is reached through psycopg 3. Every session carries a principal: the
audit trail records it and the tenant scoping filters by it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import ekita.core.scoping
import ekita.core.tracking  # noqa: F401  (registers the audit hook)
from ekita.core.access import Principal

DEFAULT_URL = "sqlite:///ekita.db"


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and route them to psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


@cache
def _factory(engine: Engine) -> sessionmaker[Session]:
    # No autoflush: services validate a changed record before anything reaches the database.
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


@contextmanager
def unit_of_work(engine: Engine, principal: Principal) -> Iterator[Session]:
    """One transaction: commits on success, rolls back everything on any error."""
    session = _factory(engine)()
    session.info["principal"] = principal
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
