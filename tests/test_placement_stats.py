"""Placement statistics: placed places (Lastenheft 3.12.1.3) and unmet demand (3.12.1.5),
service and API with Excel export (3.12)."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from ekita.core.models import Application, ApplicationChild, Stadtteil
from ekita.core.models.enums import CareType, CarrierCategory, NotificationChannel, PayerKind, Role
from ekita.core.models.placement import ApplicationState, InactiveReason
from ekita.core.services import masterdata, people
from ekita.core.services.placement import applications, reservations, statistics
from ekita.core.services.placement.rules import PlacementRules
from ekita.core.services.placement.statistics import Region, age_band
from tests.api import client, key
from tests.conftest import work
from tests.world import add_facility, carrier_data, place_child

KRIPPE, KIGA = CareType.KRIPPE, CareType.KINDERGARTEN
RULES = PlacementRules()
PERIOD = (date(2025, 6, 1), date(2025, 6, 30))
SIGNED = date(2025, 6, 15)
DESIRED = date(2025, 8, 1)


@pytest.mark.parametrize(("months", "band"), [
    (0, "under_1"), (11, "under_1"), (12, "1_to_2"), (23, "1_to_2"), (24, "2_to_2.75"),
    (32, "2_to_2.75"), (33, "over_2.75"), (60, "over_2.75")])
def test_age_bands_of_the_lastenheft(months: int, band: str) -> None:
    """Lastenheft 3.12.1.3: under 1, 1–2, 2–2.75 (33 months), over 2.75 years."""
    assert age_band(months) == band


def _child(s, birth: date, stadtteil: str, n: int = 0) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    family = people.create_family(s, {})
    child = people.create_child(s, {"family_id": family.id, "family_name": f"Stat{n}",
                                    "first_name": f"K{n}", "birth_date": birth,
                                    "stadtteil_nr": stadtteil})
    guardian = people.create_guardian(s, {"family_id": family.id, "family_name": f"Stat{n}",
                                          "first_name": "Elter"})
    people.link_guardian(s, child.id, {"guardian_id": guardian.id})
    return child.id, family.id, guardian.id


def _sibling(s, family_id: int, birth: date, stadtteil: str) -> int:  # type: ignore[no-untyped-def]
    return people.create_child(s, {"family_id": family_id, "family_name": "Geschwister",
                                   "first_name": f"G{birth.isoformat()}",
                                   "birth_date": birth, "stadtteil_nr": stadtteil}).id


def _app(s, family_id: int, child_ids: list[int], desired: date = DESIRED,  # type: ignore[no-untyped-def]
         **fields) -> int:
    """An application in a given state, as the procedure leaves it (records only)."""
    now = datetime.now(UTC)
    values = {"state": ApplicationState.POOL, **fields}
    app = Application(
        family_id=family_id, desired_start=desired, window_entry=desired - timedelta(days=183),
        daily_hours=Decimal("9"), notification_channel=NotificationChannel.POST,
        consent_privacy_at=now, consent_transfer_at=now, consent_terms_at=now,
        submitted_at=now, submitted_on=desired - timedelta(days=300), **values)
    app.children = [ApplicationChild(child_id=c) for c in child_ids]
    s.add(app)
    s.flush()
    return app.id


def _placed(s, family_id, child_ids, facility_id, rank, start, signed=SIGNED, desired=DESIRED):  # type: ignore[no-untyped-def]
    return _app(s, family_id, child_ids, desired, state=ApplicationState.INACTIVE,
                inactive_reason=InactiveReason.PLACED, inactivated_on=signed,
                placed_facility_id=facility_id, placed_rank=rank, placed_start=start)


@pytest.fixture
def city(engine):  # type: ignore[no-untyped-def]
    """Two carriers, facilities in Stadtteil 01 and 21, and a set of applications."""
    with work(engine) as s:
        municipal = masterdata.create_carrier(
            s, carrier_data("EB Kita", CarrierCategory.MUNICIPAL)).id
        free = masterdata.create_carrier(s, carrier_data("Diakonie Kitas")).id
        a = add_facility(s, municipal, "Kita Nord", {KRIPPE: 10, KIGA: 20}, "01",
                         company_reserved_places=3)
        b = add_facility(s, free, "Kita Süd", {KRIPPE: 10, KIGA: 20}, "21")
        # placed at a, 1st preference, 11 months old at the desired start, 31 days waiting
        c1, f1, _ = _child(s, date(2024, 8, 2), "01", 1)
        _placed(s, f1, [c1], a, 1, DESIRED + timedelta(days=31))
        # placed at a, 2nd preference, two siblings (12 and 33 months), no waiting
        c2, f2, _ = _child(s, date(2024, 8, 1), "01", 2)
        c3 = _sibling(s, f2, date(2022, 11, 1), "01")
        _placed(s, f2, [c2, c3], a, 2, DESIRED)
        # placed at b through the ZVS (no preference), 32 months old
        c4, f4, _ = _child(s, date(2022, 11, 2), "21", 4)
        _placed(s, f4, [c4], b, None, DESIRED + timedelta(days=10))
        # outside the period, and a withdrawn application: not counted
        c5, f5, _ = _child(s, date(2023, 1, 1), "01", 5)
        _placed(s, f5, [c5], a, 1, DESIRED, signed=date(2025, 7, 2))
        c6, f6, _ = _child(s, date(2023, 1, 1), "21", 6)
        _app(s, f6, [c6], state=ApplicationState.INACTIVE,
             inactive_reason=InactiveReason.WITHDRAWN, inactivated_on=SIGNED)
        # unmet on 2025-09-01: one in the pool, one waiting at b; one starting later
        c7, f7, _ = _child(s, date(2024, 3, 1), "21", 7)
        _app(s, f7, [c7], state=ApplicationState.POOL)
        c8, f8, _ = _child(s, date(2023, 6, 1), "21", 8)
        _app(s, f8, [c8], date(2025, 8, 15), state=ApplicationState.AT_FACILITY,
             current_facility_id=b, current_rank=1)
        c9, f9, _ = _child(s, date(2024, 6, 1), "01", 9)
        _app(s, f9, [c9], date(2025, 10, 1), state=ApplicationState.INTAKE_POOL)
        # a company place at a, contract started in the period (outside placement, 3.6.2)
        company = place_child(s, a, KIGA, date(2022, 1, 10), start=date(2025, 6, 1),
                              company=True, n=10)
        people.update_child(s, company, {"stadtteil_nr": "01"})
        names = {nr: s.get(Stadtteil, nr) for nr in ("01", "21")}
        regions = {nr: (f"{nr} {t.name}", t.bezirk) for nr, t in names.items()}
    return {"a": a, "b": b, "municipal": municipal, "free": free, "regions": regions}


def _by(rows: list[dict], *keys: str) -> dict:
    return {tuple(r[k] for k in keys): r for r in rows}


def test_placed_statistics_by_stadtteil_age_band_and_preference(engine, city) -> None:
    """Lastenheft 3.12.1.3: waiting time desired → real start, which preference got the
    place (or none), age bands at the desired start, region; siblings count per child;
    only placements of the period; company places separately."""
    with work(engine) as s:
        result = statistics.placed(s, *PERIOD, Region.STADTTEIL)
    north, south = city["regions"]["01"][0], city["regions"]["21"][0]
    rows = _by(result["rows"], "region", "age_band", "preference")
    assert set(rows) == {(north, "under_1", "1"), (north, "1_to_2", "2"),
                         (north, "over_2.75", "2"), (south, "2_to_2.75", "none")}
    first = rows[(north, "under_1", "1")]
    assert (first["children"], first["waiting_days_mean"], first["waiting_days_max"]) == (
        1, Decimal("31.0"), 31)
    assert first["age_months_desired_mean"] == Decimal("11.0")
    assert first["age_months_real_mean"] == Decimal("12.0")
    assert rows[(south, "2_to_2.75", "none")]["waiting_days_median"] == Decimal("10.0")
    assert sum(r["children"] for r in result["rows"]) == 4
    assert result["company_places"] == [
        {"region": north, "age_band": "over_2.75", "contracts": 1,
         "daily_hours_total": Decimal("8.00")}]


def test_placed_statistics_for_the_city_and_the_stadtbezirk(engine, city) -> None:
    """Lastenheft 3.12.1.3 regional cuts: Ortsamt (Stadtbezirk) and the city as a whole."""
    with work(engine) as s:
        town = statistics.placed(s, *PERIOD, Region.CITY)
        bezirk = statistics.placed(s, *PERIOD, Region.STADTBEZIRK)
    assert {r["region"] for r in town["rows"]} == {"Dresden"}
    assert {r["region"] for r in bezirk["rows"]} == {city["regions"]["01"][1],
                                                     city["regions"]["21"][1]}
    assert sum(r["daily_hours_total"] for r in town["rows"]) == Decimal("36")


def test_unmet_demand_on_a_key_date(engine, city) -> None:
    """Lastenheft 3.12.1.5: active applications whose desired start has passed, with waiting
    time, age and region; the central pool shown; future starts and inactive ones not."""
    with work(engine) as s:
        result = statistics.unmet(s, date(2025, 9, 1), Region.STADTTEIL)
    south = city["regions"]["21"][0]
    rows = _by(result["rows"], "region", "age_band")
    assert set(rows) == {(south, "1_to_2"), (south, "2_to_2.75")}
    pool = rows[(south, "1_to_2")]
    assert (pool["children"], pool["in_pool"], pool["waiting_days_max"]) == (1, 1, 31)
    assert pool["age_months_mean"] == Decimal("18.0")
    review = rows[(south, "2_to_2.75")]
    assert (review["in_pool"], review["waiting_days_mean"]) == (0, Decimal("17.0"))


def _get(engine, path: str, role: Role = Role.ZVS, **scope):  # type: ignore[no-untyped-def]
    return client(engine).get(f"/api/v1/placement/statistics{path}",
                              headers=key(engine, role, **scope))


def test_api_tenants_see_their_facilities_without_the_preference(engine, city) -> None:
    """Lastenheft 3.12 role-limited basis and placement.md R5: a facility lead and a carrier
    see only placements at their facilities, and no preference rank at all."""
    query = "/placed?from=2025-06-01&to=2025-06-30&by=city"
    zvs = _get(engine, query).json()
    assert {r["preference"] for r in zvs["rows"]} == {"1", "2", "none"}
    lead = _get(engine, query, Role.FACILITY_LEAD, facility_id=city["a"])
    assert lead.status_code == 200
    assert "preference" not in lead.text
    assert sum(r["children"] for r in lead.json()["rows"]) == 3
    carrier = _get(engine, query, Role.CARRIER, carrier_id=city["free"]).json()
    assert sum(r["children"] for r in carrier["rows"]) == 1
    assert carrier["company_places"] == []
    assert "preference" not in json.dumps(carrier)
    unmet = _get(engine, "/unmet?on=2025-09-01", Role.FACILITY_LEAD, facility_id=city["b"])
    assert sum(r["children"] for r in unmet.json()["rows"]) == 1
    for role in (Role.OPS, Role.INTEGRATION):
        assert _get(engine, query, role).status_code == 403
    assert _get(engine, "/placed?from=2025-07-01&to=2025-06-01").status_code == 422


def test_api_statistics_export_to_excel(engine, city) -> None:
    """Lastenheft 3.12.1.5: "Alle Auswertungen … nach Excel exportiert": placed places with
    company places on a second sheet; unmet demand."""
    response = _get(engine, "/placed?from=2025-06-01&to=2025-06-30&by=stadtteil&format=xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Vermittelte Plätze", "Belegrechtsplätze"]
    placed_rows = list(book["Vermittelte Plätze"].values)
    assert placed_rows[0][:3] == ("region", "age_band", "preference")
    assert len(placed_rows) == 5
    assert len(list(book["Belegrechtsplätze"].values)) == 2
    lead = _get(engine, "/placed?from=2025-06-01&to=2025-06-30&format=xlsx",
                Role.FACILITY_LEAD, facility_id=city["a"])
    assert "preference" not in next(load_workbook(io.BytesIO(lead.content)).active.values)
    unmet = _get(engine, "/unmet?on=2025-09-01&format=xlsx")
    rows = _get(engine, "/unmet?on=2025-09-01").json()["rows"]
    sheet = list(load_workbook(io.BytesIO(unmet.content)).active.values)
    assert len(sheet) == len(rows) + 1 == 3
    assert [r[2] for r in sheet[1:]] == [r["children"] for r in rows]


def test_placement_through_the_procedure_appears_in_the_statistics(engine) -> None:
    """Lastenheft 3.12.1.3 end to end: submit, route, reserve within the grace period,
    sign; the statistic shows the first preference and the waiting time."""
    on = date(2025, 3, 1)
    with work(engine) as s:
        carrier = masterdata.create_carrier(s, carrier_data("EB Kita",
                                                            CarrierCategory.MUNICIPAL)).id
        fid = add_facility(s, carrier, "Kita Mitte", {KRIPPE: 10, KIGA: 10}, "01")
        child, _, guardian = _child(s, date(2024, 1, 10), "01", 1)
        app, _ = applications.submit(s, {
            "child_ids": [child], "desired_start": date(2025, 5, 1), "daily_hours": "9",
            "preferences": [{"facility_id": fid, "care_type": KRIPPE}],
            "consents": {"privacy": True, "transfer": True, "terms": True}}, RULES, on=on)
        reservations.reserve(s, app.id, RULES, facility_id=fid, starts_on=date(2025, 5, 20),
                             on=on)
        reservations.sign(s, app.id, payer_guardian_id=guardian,
                          payer_kind=PayerKind.DIRECT_DEBIT, on=date(2025, 3, 10))
        result = statistics.placed(s, date(2025, 3, 1), date(2025, 3, 31))
    assert [(r["preference"], r["age_band"], r["children"], r["waiting_days_max"])
            for r in result["rows"]] == [("1", "1_to_2", 1, 19)]
