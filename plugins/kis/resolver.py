"""District assignment on every save of a guardian, child or facility address (3.14.1.10).

Installed into ``ekita.core.services.registries`` by the plugin at start-up. A Dresden
address gets an ``address_district`` row (the previous one is closed: assignments keep
their validity); an address outside Dresden or unknown to the directory goes to the ZVS
review list (3.4.2) instead of failing. A child without a Stadtteil gets the resolved one.

With the embedded directory (the default) everything happens in the save's transaction:
no peer is involved. With the KIS REST service (issue 12 item 5, threat: a slow KIS holding
the save's write lock, or a malformed answer turning the save into HTTP 500) the save's
transaction assigns from the embedded directory, and only *after its commit* is KIS asked,
within ``timeout_s`` in total; its answer is applied in a short transaction of its own.
When KIS is slow, down or answers garbage, the embedded assignment stands and the address
goes on the review list with reason ``kis_unavailable`` (the documented degraded mode).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ekita.core.access import Principal
from ekita.core.db.base import utcnow
from ekita.core.db.session import unit_of_work
from ekita.core.models import AddressDistrict, AddressReview, Child, Facility, Guardian
from ekita.core.services import registries
from ekita.plugins.kis import client
from ekita.plugins.kis.directory import Assignment, Unresolved, load
from ekita.plugins.kis.settings import KisSettings

log = logging.getLogger(__name__)


UNAVAILABLE = "kis_unavailable"
MODELS: dict[str, Any] = {"child": Child, "guardian": Guardian, "facility": Facility}
Address = tuple[str | None, str | None, str | None, str | None]


def _address(record: Any) -> Address:
    return (record.street, record.house_no, record.postcode, record.town)


def make_resolver(settings: KisSettings) -> Any:
    def assign(session: Session, entity: str, record: Any) -> None:
        _apply(session, entity, record, lambda: load(settings.directory_file).resolve(
            *_address(record)))
        if settings.source == "rest" and settings.url:
            engine, address = session.get_bind(), _address(record)
            registries.after_commit(session, lambda: confirm(
                settings, engine, entity, record.id, address))

    return assign


def _apply(session: Session, entity: str, record: Any, lookup: Any) -> None:
    try:
        found = lookup()
    except Unresolved as exc:
        _review(session, entity, record.id, exc.reason)
        return
    _assign(session, entity, record, found)


def confirm(settings: KisSettings, engine: Any, entity: str, entity_id: int,
            address: Address) -> None:
    """After the save's commit: ask KIS (bounded), apply its answer in a new transaction."""
    try:
        found: Assignment | Unresolved = client.resolve(settings.url or "", settings.timeout_s,
                                                        *address)
    except Unresolved as exc:
        found = exc
    except client.KisUnavailable as exc:
        log.warning("KIS unavailable, %s %s stays on the embedded directory and goes on the "
                    "review list: %s", entity, entity_id, type(exc).__name__)
        found = None  # type: ignore[assignment]
    with unit_of_work(engine, Principal.system("kis", "district")) as session:
        record = session.get(MODELS[entity], entity_id)
        if record is None or _address(record) != address:
            return  # gone or moved again meanwhile: that save asks KIS itself
        if found is None:
            _flag(session, entity, entity_id, UNAVAILABLE)
        else:
            _apply(session, entity, record, lambda: _raise_or_return(found))


def _raise_or_return(found: Assignment | Unresolved) -> Assignment:
    if isinstance(found, Unresolved):
        raise found
    return found


def _flag(session: Session, entity: str, entity_id: int, reason: str) -> None:
    """Put the address on the review list without touching its assignment."""
    if session.scalar(select(AddressReview.id).where(
            *_open(AddressReview, entity, entity_id), AddressReview.reason == reason)) is None:
        session.add(AddressReview(entity=entity, entity_id=entity_id, reason=reason))
    session.flush()


def _open(model: Any, entity: str, entity_id: int) -> Any:
    column = model.valid_to if model is AddressDistrict else model.resolved_at
    return (model.entity == entity, model.entity_id == entity_id, column.is_(None))


def _review(session: Session, entity: str, entity_id: int, reason: str) -> None:
    now = utcnow()
    session.execute(update(AddressDistrict).where(*_open(AddressDistrict, entity, entity_id))
                    .values(valid_to=now))
    if session.scalar(select(AddressReview.id).where(
            *_open(AddressReview, entity, entity_id), AddressReview.reason == reason)) is None:
        session.add(AddressReview(entity=entity, entity_id=entity_id, reason=reason))
    session.flush()


def _assign(session: Session, entity: str, record: Any, found: Assignment) -> None:
    now = utcnow()
    session.execute(update(AddressReview).where(*_open(AddressReview, entity, record.id))
                    .values(resolved_at=now))
    current = session.scalars(select(AddressDistrict).where(
        *_open(AddressDistrict, entity, record.id))).first()
    if current is None or (current.street_key, current.stadtteil_nr) != (
            found.street_key, found.stadtteil_nr):
        if current is not None:
            current.valid_to = now
        session.add(AddressDistrict(
            entity=entity, entity_id=record.id, stadtteil_nr=found.stadtteil_nr,
            bezirk=found.bezirk, art=found.art, street_key=found.street_key,
            source=found.source_version[:40], valid_from=now))
    if entity == "child" and record.stadtteil_nr is None:
        record.stadtteil_nr = found.stadtteil_nr
    session.flush()
