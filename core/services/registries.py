"""Slots the registry plugins fill at start-up; the core calls them without importing plugins.

Like ``ekita.core.outbox.declare_recipient``: the hub loads the plugins, the KIS plugin
installs its district resolver and the MESO plugin its intake check. With nothing
installed (a hub without those plugins, most unit tests) the calls do nothing.

- ``assign_district(session, entity, record)``: called by the people and master-data
  services on every save of a guardian, child or facility address (3.14.1.10).
- ``intake_check(session, application, on)``: called once by ``submit`` before the
  application is released, so a MESO deviation sends it to the ZVS (3.3.2).
- ``suggest_streets(prefix, limit)``: street suggestions for intake forms (3.3.2), served
  at ``GET /api/v1/addresses/streets``; empty without a street directory.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

DistrictResolver = Callable[[Session, str, Any], None]
IntakeCheck = Callable[[Session, Any, date], None]

ADDRESS_FIELDS = frozenset({"street", "house_no", "postcode", "town"})

StreetSuggester = Callable[[str, int], list[dict[str, str]]]

_slots: dict[str, Any] = {"district": None, "intake": None, "streets": None}


def install_district_resolver(resolver: DistrictResolver | None) -> None:
    _slots["district"] = resolver


def install_intake_check(check: IntakeCheck | None) -> None:
    _slots["intake"] = check


def install_street_suggester(suggester: StreetSuggester | None) -> None:
    _slots["streets"] = suggester


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
