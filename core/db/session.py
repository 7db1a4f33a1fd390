"""Engines and units of work.

SQLite is the embedded default (a file, WAL journal, foreign keys on);
PostgreSQL is reached through psycopg 3. Every session carries a principal: the
audit trail records it and the tenant scoping filters by it.

Database errors never carry personal values (issue 12 item 8): engines hide the SQL
parameters from error messages and logs, and PostgreSQL's error text is cut to its primary
line, because its DETAIL repeats the offending key or the whole failing row (names, IBANs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
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
    # REPLACE conflict resolution then fires DELETE triggers: the append-only tables'
    # triggers see a REPLACE as the delete it is (migration 0013 refuses it on insert too).
    cur.execute("PRAGMA recursive_triggers=ON")
    cur.close()


#: SQLSTATE class 22 (data exception): the primary message may quote the input value.
_DATA_EXCEPTION = "22"


def _redacted(orig: BaseException) -> str:
    """The DBAPI error text without values: PostgreSQL's primary line only (its DETAIL
    names key values or the failing row), and for a data exception just its SQLSTATE."""
    diag = getattr(orig, "diag", None)
    sqlstate = getattr(diag, "sqlstate", None) or ""
    if sqlstate.startswith(_DATA_EXCEPTION):
        return f"data exception (SQLSTATE {sqlstate})"
    text = str(orig)
    return text.splitlines()[0] if text else type(orig).__name__


def _without_values(ctx: ExceptionContext) -> None:
    """Rewrite the error PostgreSQL raised so no traceback or log line shows a value."""
    orig, wrapped = ctx.original_exception, ctx.sqlalchemy_exception
    if getattr(orig, "diag", None) is None:  # not a server error (psycopg): leave it
        return
    text = _redacted(orig)
    orig.args = (text,)
    if wrapped is not None:
        kind = type(orig)
        wrapped.args = (f"({kind.__module__}.{kind.__name__}) {text}",)


def make_engine(url: str) -> Engine:
    """An engine whose errors and logs never show SQL parameters (issue 12 item 8)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False},
                               hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
    event.listen(engine, "handle_error", _without_values)
    return engine


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
