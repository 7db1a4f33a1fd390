"""Slots the registry plugins fill at start-up; the core calls them without importing plugins.

Like ``ekita.core.outbox.declare_recipient``: the hub loads the plugins, the KIS plugin
installs its district resolver and the MESO plugin its intake check. With nothing
installed (a hub without those plugins, most unit tests) the calls do nothing.

- ``assign_district(session, entity, record)``: called by the people and master-data
  services on every save of a guardian, child or facility address (3.14.1.10).
- ``prefetch_intake(session, child_ids, on)``: called by ``submit`` *before it writes*, so
  the MESO plugin asks the registry outside any transaction (issue 12 item 5).
- ``intake_check(session, application, on)``: called once by ``submit`` before the
  application is released, so a MESO deviation sends it to the ZVS (3.3.2). It applies the
  prefetched answer; it never calls a peer itself (the transaction is writing).
- ``suggest_streets(prefix, limit)``: street suggestions for intake forms (3.3.2), served
  at ``GET /api/v1/addresses/streets``; empty without a street directory.

Peers and transactions (issue 12 item 5, threat: a slow peer holding SQLite's write lock
or a PostgreSQL transaction for as long as it likes): a plugin may call a peer during a
request only when ``release_for_peer_call`` says the session holds no write, or after the
commit through ``after_commit``. Both are here, in the core, because the core knows what
its sessions have written; the plugins know nothing of transactions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

log = logging.getLogger(__name__)

DistrictResolver = Callable[[Session, str, Any], None]
IntakeCheck = Callable[[Session, Any, date], None]
IntakePrefetch = Callable[[Session, list[int], date], None]

ADDRESS_FIELDS = frozenset({"street", "house_no", "postcode", "town"})

StreetSuggester = Callable[[str, int], list[dict[str, str]]]

_slots: dict[str, Any] = {"district": None, "intake": None, "streets": None,
                          "prefetch": None}
_WROTE, _AFTER = "ekita_wrote", "ekita_after_commit"


def install_district_resolver(resolver: DistrictResolver | None) -> None:
    _slots["district"] = resolver


def install_intake_check(check: IntakeCheck | None) -> None:
    _slots["intake"] = check


def install_intake_prefetch(prefetch: IntakePrefetch | None) -> None:
    _slots["prefetch"] = prefetch


def install_street_suggester(suggester: StreetSuggester | None) -> None:
    _slots["streets"] = suggester


def uninstall_all() -> None:
    """Empty every slot: the hub without registry adapters (tests reset with it)."""
    _slots.update(dict.fromkeys(_slots))


def suggest_streets(prefix: str, limit: int = 20) -> list[dict[str, str]]:
    suggester: StreetSuggester | None = _slots["streets"]
    return suggester(prefix, limit) if suggester is not None else []


def assign_district(session: Session, entity: str, record: Any,
                    changed: set[str] | None = None) -> None:
    """Assign the saved address its districts; skip when no address field changed."""
    resolver: DistrictResolver | None = _slots["district"]
    if resolver is None or (changed is not None and not changed & ADDRESS_FIELDS):
        return
    resolver(session, entity, record)


def intake_check(session: Session, application: Any, on: date) -> None:
    check: IntakeCheck | None = _slots["intake"]
    if check is not None:
        check(session, application, on)


def prefetch_intake(session: Session, child_ids: list[int], on: date) -> None:
    """Let the MESO plugin ask the registry before ``submit`` writes (issue 12 item 5)."""
    prefetch: IntakePrefetch | None = _slots["prefetch"]
    if prefetch is not None:
        prefetch(session, child_ids, on)


# ------------------------------------------------------------ peers and transactions


def has_written(session: Session) -> bool:
    """Whether the session's current transaction holds (or would flush) a write."""
    if session.info.get(_WROTE) or session.new or session.dirty or session.deleted:
        return True
    if not session.in_transaction():
        return False
    dbapi = session.connection().connection.dbapi_connection
    # pysqlite opens its transaction at the first write: then the write lock is held.
    return bool(getattr(dbapi, "in_transaction", False)) and \
        session.get_bind().dialect.name == "sqlite"


def release_for_peer_call(session: Session) -> bool:
    """End a read-only transaction so a peer call runs outside any; False if the session
    has written (then the caller must not call a peer now: defer it)."""
    if has_written(session):
        return False
    if session.in_transaction():
        session.commit()  # nothing to write: only ends the read snapshot
    return True


def after_commit(session: Session, task: Callable[[], None]) -> None:
    """Run ``task`` once the session's transaction has committed (dropped on rollback).

    For peer calls that follow a write: the lock is gone when the task runs. A task's
    failure is logged and swallowed: the commit has happened, the caller must not fail.
    """
    session.info.setdefault(_AFTER, []).append(task)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _ctx: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(_WROTE, None)
    for task in session.info.pop(_AFTER, []):
        try:
            task()
        except Exception as exc:  # the commit stands; the task records its own outcome
            log.warning("after-commit task failed: %s", type(exc).__name__)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_WROTE, None)
    session.info.pop(_AFTER, None)
