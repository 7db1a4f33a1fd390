"""Occupancy per key date and the 12-month forecast, service and API (Lastenheft 3.6.10,
3.7.6, 3.12, 3.12.1.1–2; placement.md §16)."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from ekita.core.models import Stadtteil
from ekita.core.models.enums import CareType, CarrierCategory, Role
from ekita.core.services import masterdata
from ekita.core.services.placement.forecast import (
    GroupBy,
    add_months,
    key_dates,
    load_forecast,
    school_entry_list,
)
from ekita.core.services.placement.occupancy import month_anniversary
from ekita.core.services.placement.rules import PlacementRules
from tests.api import client, key
from tests.conftest import work
from tests.world import add_facility, carrier_data, place_child

KRIPPE, KIGA = CareType.KRIPPE, CareType.KINDERGARTEN
RULES = PlacementRules()
START = date(2025, 1, 1)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_key_dates_are_monthly_and_clamped() -> None:
    """Lastenheft 3.6.10: a forecast of up to one year, one key date a month."""
    assert key_dates(date(2025, 1, 31), 3) == [date(2025, 1, 31), date(2025, 2, 28),
                                               date(2025, 3, 31)]
    assert len(key_dates(START, 12)) == 12
    assert add_months(date(2024, 12, 15), 14) == date(2026, 2, 15)


@pytest.fixture
def city(engine):  # type: ignore[no-untyped-def]
    """Two carriers; three facilities in two Stadtteile of different Stadtbezirke."""
    with work(engine) as s:
        municipal = masterdata.create_carrier(
            s, carrier_data("EB Kita", CarrierCategory.MUNICIPAL)).id
        free = masterdata.create_carrier(s, carrier_data("Diakonie Kitas")).id
        a = add_facility(s, municipal, "Kita Am Park", {KRIPPE: 4, KIGA: 10}, "01",
                         company_reserved_places=2)
        b = add_facility(s, municipal, "Kita Am Fluss", {KIGA: 10}, "01")
        c = add_facility(s, free, "Kita Am Berg", {KIGA: 5}, "21")
        # a Krippe child moving up in May 2025, a school leaver on 1 August 2025:
        place_child(s, a, KRIPPE, date(2022, 5, 10), start=date(2023, 6, 1), n=1)
        place_child(s, a, KIGA, date(2019, 3, 3), start=date(2022, 4, 1), n=2)
        place_child(s, a, KIGA, date(2021, 3, 3), start=date(2024, 4, 1), company=True, n=3)
        place_child(s, b, KIGA, date(2021, 6, 6), start=date(2024, 7, 1), n=4)
        place_child(s, c, KIGA, date(2021, 7, 7), start=date(2024, 8, 1), n=5)
        bezirke = {nr: s.get(Stadtteil, nr).bezirk for nr in ("01", "21")}
    return {"municipal": municipal, "free": free, "a": a, "b": b, "c": c, "bezirke": bezirke}


def _rows(rows, care_type: str) -> dict:  # type: ignore[no-untyped-def]
    return {(r.group, r.on): r for r in rows if r.care_type == care_type}


def test_forecast_shows_planned_transitions_month_by_month(engine, city) -> None:
    """Lastenheft 3.6.10, 3.12.1.2: the forecast includes the Krippe→Kindergarten change and
    the school leavers, with occupied, free and reserved places."""
    with work(engine) as s:
        rows = load_forecast(s, START, 12, RULES, GroupBy.FACILITY)
    a = str(city["a"])
    krippe, kiga = _rows(rows, "krippe"), _rows(rows, "kindergarten")
    moves = month_anniversary(date(2022, 5, 10), 36)
    assert moves == date(2025, 5, 10)
    assert krippe[(a, date(2025, 5, 1))].occupied == 1
    assert krippe[(a, date(2025, 6, 1))].occupied == 0
    assert kiga[(a, date(2025, 5, 1))].occupied == 2
    assert kiga[(a, date(2025, 6, 1))].occupied == 3  # moved up
    assert kiga[(a, date(2025, 8, 1))].occupied == 2  # school leaver gone
    assert kiga[(a, date(2025, 8, 1))].free == 8
    assert kiga[(a, date(2025, 8, 1))].company_occupied == 1
    total = _rows(rows, "all")[(a, date(2025, 8, 1))]
    assert (total.capacity, total.occupied, total.free) == (14, 2, 12)
    assert (total.company_reserved_places, total.company_unused) == (2, 1)
    assert total.free_for_placement == 11
    assert len({r.on for r in rows}) == 12


@pytest.mark.parametrize(("by", "expected"), [
    (GroupBy.STADTTEIL, {"01": 24, "21": 5}),
    (GroupBy.CARRIER, None),
    (GroupBy.CITY, {"city": 29}),
])
def test_forecast_sums_by_region_and_carrier(engine, city, by: GroupBy, expected) -> None:  # type: ignore[no-untyped-def]
    """Lastenheft 3.7.6, placement.md §16.1: selectable by Stadtteil and carrier (and city)."""
    with work(engine) as s:
        rows = load_forecast(s, START, 1, RULES, by)
    capacity = {r.group: r.capacity for r in rows if r.care_type == "all"}
    if expected is None:
        expected = {str(city["municipal"]): 24, str(city["free"]): 5}
    assert capacity == expected


def test_forecast_by_stadtbezirk(engine, city) -> None:
    """Lastenheft 3.12 filter by Ortsamt/Stadtbezirk."""
    with work(engine) as s:
        rows = load_forecast(s, START, 1, RULES, GroupBy.STADTBEZIRK)
    occupied = {r.group: r.occupied for r in rows if r.care_type == "all"}
    assert occupied == {city["bezirke"]["01"]: 4, city["bezirke"]["21"]: 1}


def _get(engine, path: str, role: Role = Role.ZVS, **scope):  # type: ignore[no-untyped-def]
    return client(engine).get(f"/api/v1/placement{path}", headers=key(engine, role, **scope))


def test_api_occupancy_scopes_by_role(engine, city) -> None:
    """Lastenheft 3.12 (role-limited data basis): the ZVS sees every facility, a facility
    lead hers, a carrier its own; ops, integration and finance may not read reports."""
    def groups(response) -> set[str]:  # type: ignore[no-untyped-def]
        assert response.status_code == 200, response.text
        return {r["group"] for r in response.json()["rows"]}

    ids = {str(city[k]) for k in "abc"}
    assert groups(_get(engine, "/occupancy?on=2025-03-01")) == ids
    assert groups(_get(engine, "/occupancy?on=2025-03-01", Role.ADMIN)) == ids
    assert groups(_get(engine, "/occupancy?on=2025-03-01", Role.FACILITY_LEAD,
                       facility_id=city["b"])) == {str(city["b"])}
    assert groups(_get(engine, "/occupancy?on=2025-03-01", Role.CARRIER,
                       carrier_id=city["free"])) == {str(city["c"])}
    assert groups(_get(engine, "/occupancy?on=2025-03-01&by=city", Role.CARRIER,
                       carrier_id=city["municipal"])) == {"city"}
    for role in (Role.OPS, Role.INTEGRATION, Role.FINANCE):
        response = _get(engine, "/forecast", role)
        assert response.status_code == 403
        assert response.json()["error"]["record"] == "placement_report"


def test_api_filters_by_category_and_district(engine, city) -> None:
    """Lastenheft 3.12: filters by Ortsamt, Stadtteil, carrier, municipal or free carriers."""
    def capacity(query: str) -> int:
        rows = _get(engine, f"/occupancy?on=2025-03-01&by=city&{query}").json()["rows"]
        return sum(r["capacity"] for r in rows if r["care_type"] == "all")

    assert capacity("category=municipal") == 24
    assert capacity("category=independent") == 5
    assert capacity("stadtteil=21") == 5
    assert capacity(f"carrier_id={city['municipal']}") == 24
    assert capacity(f"stadtbezirk={city['bezirke']['21']}") == 5


def test_api_forecast_defaults_to_the_configured_horizon(engine, city) -> None:
    """placement.md §2 cfg.forecast_horizon_months (12), Lastenheft 3.6.10."""
    body = _get(engine, "/forecast?from=2025-01-01&by=carrier").json()
    assert body["dates"][0] == "2025-01-01" and len(body["dates"]) == 12
    assert body["by"] == "carrier"
    assert _get(engine, "/forecast?months=25").status_code == 422


def test_api_forecast_exports_to_excel(engine, city) -> None:
    """Lastenheft 3.12.1.5: every report can be exported to Excel; the sheet holds the same
    rows as the JSON answer."""
    path = "/forecast?from=2025-01-01&months=3&by=stadtteil"
    rows = _get(engine, path).json()["rows"]
    response = _get(engine, path + "&format=xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    assert "forecast.xlsx" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.values)
    header = list(values[0])
    assert header[:4] == ["group", "label", "on", "care_type"]
    assert len(values) - 1 == len(rows)
    first = dict(zip(header, values[1], strict=True))
    assert first["capacity"] == rows[0]["capacity"]
    assert first["on"].date() == date(2025, 1, 1)


def test_kindergarten_switch_list(engine) -> None:
    """Lastenheft 3.6.16: Krippe children who completed the 34th to at most the 36th month on
    the key date, with the earliest and latest change date; only the lead's facility."""
    on = date(2025, 3, 15)
    with work(engine) as s:
        carrier = masterdata.create_carrier(s, carrier_data("Träger")).id
        fid = add_facility(s, carrier, "Kita Wechsel", {KRIPPE: 10, KIGA: 10})
        other = add_facility(s, carrier, "Kita Anders", {KRIPPE: 10})
        births = {33: date(2022, 6, 16), 34: date(2022, 5, 16), 36: date(2022, 3, 16),
                  37: date(2022, 2, 10)}
        ids = {m: place_child(s, fid, KRIPPE, b, start=date(2023, 1, 1), n=m)
               for m, b in births.items()}
        place_child(s, fid, KIGA, date(2022, 4, 1), start=date(2025, 3, 1), n=99)
    body = _get(engine, "/lists/kindergarten-switch?on=2025-03-15", Role.FACILITY_LEAD,
                facility_id=fid).json()
    assert [(r["child_id"], r["completed_months"]) for r in body["rows"]] == [
        (ids[36], 36), (ids[34], 34)]
    row = body["rows"][1]
    assert (row["earliest_change"], row["latest_change"]) == ("2025-03-16", "2025-05-16")
    assert row["to_care_type"] == "kindergarten"
    assert body["on"] == on.isoformat()
    empty = _get(engine, "/lists/kindergarten-switch?on=2025-03-15", Role.FACILITY_LEAD,
                 facility_id=other).json()
    assert empty["rows"] == []
    sheet = load_workbook(io.BytesIO(_get(
        engine, "/lists/kindergarten-switch?on=2025-03-15&format=xlsx").content)).active
    assert len(list(sheet.values)) == 3


@pytest.mark.parametrize(("cutoff", "expected"), [
    ("06-30", {"june", "deferred"}), ("09-30", {"june", "july", "deferred", "september"})])
def test_school_entry_list(engine, cutoff: str, expected: set[str]) -> None:
    """Lastenheft 3.6.17: children reaching age 6 by 30.06 (or 30.09, configurable) enter
    school; last year's Schulrücksteller are included; others are not."""
    with work(engine) as s:
        carrier = masterdata.create_carrier(s, carrier_data("Träger")).id
        fid = add_facility(s, carrier, "Kita Schule", {KIGA: 20})
        kids = {"june": (date(2019, 6, 30), False), "july": (date(2019, 7, 2), False),
                "september": (date(2019, 9, 15), False),
                "deferred": (date(2018, 3, 1), True), "young": (date(2020, 1, 1), False)}
        ids = {place_child(s, fid, KIGA, birth, start=date(2023, 1, 1), deferred=deferred,
                           n=i): name
               for i, (name, (birth, deferred)) in enumerate(kids.items())}
    with work(engine) as s:
        rows = school_entry_list(s, date(2025, 3, 1),
                                 PlacementRules(school_entry_cutoff=cutoff))
    assert {ids[r["child_id"]] for r in rows} == expected
    assert {r["last_day"] for r in rows} == {date(2025, 7, 31)}
    assert [r["school_deferred"] for r in rows if ids[r["child_id"]] == "deferred"] == [True]
