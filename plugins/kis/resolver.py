"""District assignment on every save of a guardian, child or facility address (3.14.1.10).

Installed into ``ekita.core.services.registries`` by the plugin at start-up. Resolves with
the KIS REST service when configured (falling back to the embedded directory when it does
not answer) or with the embedded directory. A Dresden address gets an ``address_district``
row (the previous one is closed: assignments keep their validity); an address outside
Dresden or unknown to the directory goes to the ZVS review list (3.4.2) instead of failing.
A child without a Stadtteil gets the resolved one.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ekita.core.db.base import utcnow
from ekita.core.models import AddressDistrict, AddressReview
from ekita.plugins.kis import client
from ekita.plugins.kis.directory import Assignment, Unresolved, load
from ekita.plugins.kis.settings import KisSettings

log = logging.getLogger(__name__)


def resolve(settings: KisSettings, street: str | None, house_no: str | None,
            postcode: str | None, town: str | None) -> Assignment:
    """REST first when configured; the embedded directory otherwise or as the fallback."""
    if settings.source == "rest" and settings.url:
        try:
            return client.resolve(settings.url, settings.timeout_s, street, house_no, postcode,
                                  town)
        except client.KisUnavailable as exc:
            log.warning("KIS unavailable, using the embedded directory: %s", exc)
    return load(settings.directory_file).resolve(street, house_no, postcode, town)


def make_resolver(settings: KisSettings) -> Any:
    def assign(session: Session, entity: str, record: Any) -> None:
        try:
            found = resolve(settings, record.street, record.house_no, record.postcode,
                            record.town)
        except Unresolved as exc:
            _review(session, entity, record.id, exc.reason)
            return
        _assign(session, entity, record, found)

    return assign


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
