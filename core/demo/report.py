"""Places, contracts and occupancy of the loaded city, by SQL aggregation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    Engine,
    String,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from ekita.core.demo.city import CARE_GROUPS, Row
from ekita.core.models import (
    CareContract,
    CareOffer,
    Childminder,
    Facility,
    Stadtteil,
)
from ekita.core.models.enums import (
    CareType,
)
from ekita.core.tracking import today as business_today

_ORDER = [t.value for t in CareType]  # group names are base care types' values


def _occupancy(contracts: int, places: int) -> Decimal | None:
    if not places:
        return None
    return (Decimal(contracts * 100) / places).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _active(start: Any, end: Any, on: date) -> ColumnElement[bool]:
    return and_(start <= on, or_(end.is_(None), end >= on))


def _kind(column: Any, by_group: bool) -> Any:
    """The care type column, or its Lastenheft 4.1 group computed in SQL."""
    if not by_group:
        return column
    return case({t.value: g for t, g in CARE_GROUPS.items()}, value=type_coerce(column, String))


def _facility_figures(conn: Connection, on: date, by_group: bool) -> list[Any]:
    """(bezirk, kind, facilities, places, contracts) of the facilities' care offers."""
    kind = _kind(CareOffer.care_type, by_group).label("kind")
    offers = (
        select(
            Stadtteil.bezirk,
            kind,
            func.count(func.distinct(Facility.id)).label("facilities"),
            func.sum(CareOffer.approved_places).label("places"),
        )
        .select_from(CareOffer)
        .join(Facility, Facility.id == CareOffer.facility_id)
        .join(Stadtteil, Stadtteil.nr == Facility.stadtteil_nr)
        .where(_active(CareOffer.valid_from, CareOffer.valid_to, on))
        .group_by(Stadtteil.bezirk, kind)
    )
    kind = _kind(CareContract.care_type, by_group).label("kind")
    contracts = (
        select(Stadtteil.bezirk, kind, func.count().label("contracts"))
        .select_from(CareContract)
        .join(Facility, Facility.id == CareContract.facility_id)
        .join(Stadtteil, Stadtteil.nr == Facility.stadtteil_nr)
        .where(_active(CareContract.start_date, CareContract.end_date, on))
        .group_by(Stadtteil.bezirk, kind)
    )
    return _merge(conn.execute(offers).all(), conn.execute(contracts).all())


def _childminding_figures(conn: Connection, on: date) -> list[Any]:
    """The same figures for childminding: childminders, their capacity, contracts."""
    ktp = CareType.KINDERTAGESPFLEGE.value
    minders = (
        select(
            Stadtteil.bezirk,
            literal(ktp),
            func.count(Childminder.id),
            func.sum(Childminder.capacity),
        )
        .select_from(Childminder)
        .join(Stadtteil, Stadtteil.nr == Childminder.stadtteil_nr)
        .where(Childminder.status == "active")
        .group_by(Stadtteil.bezirk)
    )
    contracts = (
        select(Stadtteil.bezirk, literal(ktp), func.count())
        .select_from(CareContract)
        .join(Childminder, Childminder.id == CareContract.childminder_id)
        .join(Stadtteil, Stadtteil.nr == Childminder.stadtteil_nr)
        .where(_active(CareContract.start_date, CareContract.end_date, on))
        .group_by(Stadtteil.bezirk)
    )
    return _merge(conn.execute(minders).all(), conn.execute(contracts).all())


def _merge(places: Sequence[Any], contracts: Sequence[Any]) -> list[Row]:
    rows: dict[tuple[str, str], Row] = {}
    for bezirk, kind, facilities, total in places:
        rows[(bezirk, str(kind))] = {
            "bezirk": bezirk,
            "care_type": str(kind),
            "facilities": int(facilities),
            "places": int(total or 0),
            "contracts": 0,
        }
    for bezirk, kind, count in contracts:
        empty = {"bezirk": bezirk, "care_type": str(kind), "facilities": 0, "places": 0}
        rows.setdefault((bezirk, str(kind)), empty)["contracts"] = int(count)
    return list(rows.values())


def summary(engine: Engine, on: date | None = None, by_group: bool = False) -> list[Row]:
    """Per Stadtbezirk and care type (or 4.1 group): facilities (childminders for
    Kindertagespflege), places approved on ``on``, contracts active on ``on`` and the
    occupancy in % (Decimal, one place; None without places). ``on`` defaults to the
    business date; pass the city's ``today`` to see the demo as generated."""
    on = on or business_today()
    with engine.connect() as conn:
        rows = _facility_figures(conn, on, by_group) + _childminding_figures(conn, on)
    rows.sort(key=lambda r: (r["bezirk"], _ORDER.index(r["care_type"])))
    for row in rows:
        row["occupancy_pct"] = _occupancy(row["contracts"], row["places"])
    return rows


def totals(engine: Engine, on: date | None = None, by_group: bool = False) -> list[Row]:
    """City totals per care type (or, with ``by_group``, per Lastenheft 4.1 group)."""
    sums: dict[str, Row] = {}
    for row in summary(engine, on, by_group):
        key = row["care_type"]
        acc = sums.setdefault(key, {"care_type": key, "facilities": 0, "places": 0, "contracts": 0})
        for name in ("facilities", "places", "contracts"):
            acc[name] += row[name]  # a facility lies in one Bezirk: the sums stay distinct
    return [
        {**acc, "occupancy_pct": _occupancy(acc["contracts"], acc["places"])}
        for acc in sorted(sums.values(), key=lambda r: _ORDER.index(r["care_type"]))
    ]
