"""Master-data CRUD through the API with paging, filters and clear errors (issue 2 item 8)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ekita.core.models.enums import Role
from tests.api import client, key


@pytest.fixture
def api(engine):
    return client(engine), key(engine, Role.ZVS), engine


CARRIER = {"name": "Volkssolidarität Kitas", "category": "independent", "carrier_type": "13",
           "legal_form": "02"}


def make_facility(http, headers, carrier_id, n, stadtteil="21", **extra):
    body = {"carrier_id": carrier_id, "name": f"Kita {n}", "cost_centre": f"KS-{n}",
            "street": "Leipziger Str.", "house_no": str(n), "postcode": "01127",
            "stadtteil_nr": stadtteil, **extra}
    r = http.post("/api/v1/facilities", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_full_round_trip(api):
    """Carrier → facility → care offer → family → child (PKN) → guardian → contract."""
    http, zvs, _engine = api
    carrier = http.post("/api/v1/carriers", json=CARRIER, headers=zvs).json()
    facility = make_facility(http, zvs, carrier["id"], 1)
    assert facility["stadtbezirk"] == "Pieschen" and facility["stadtteil"] == "Pieschen-Süd"
    assert facility["carrier_category"] == "independent"
    r = http.post(f"/api/v1/facilities/{facility['id']}/care-offers", headers=zvs,
                  json={"care_type": "krippe", "approved_places": 30, "valid_from": "2024-01-01"})
    assert r.status_code == 201
    family = http.post("/api/v1/families", json={}, headers=zvs).json()
    child = http.post("/api/v1/children", headers=zvs, json={
        "family_id": family["id"], "family_name": "Lehmann", "first_name": "Ida",
        "birth_date": "2025-02-03"}).json()
    assert child["pkn"] == family["number"] + "01"
    guardian = http.post("/api/v1/guardians", headers=zvs, json={
        "family_id": family["id"], "family_name": "Lehmann", "first_name": "Eva",
        "contacts": [{"kind": "phone", "value": "0351 5", "visibility": "emergency"}]}).json()
    assert http.post(f"/api/v1/children/{child['id']}/guardians", headers=zvs,
                     json={"guardian_id": guardian["id"]}).status_code == 201
    contract = http.post("/api/v1/contracts", headers=zvs, json={
        "child_id": child["id"], "facility_id": facility["id"], "care_type": "krippe",
        "start_date": "2026-03-01", "daily_hours": "7.5", "payer_guardian_id": guardian["id"],
        "payer_kind": "direct_debit"})
    assert contract.status_code == 201, contract.text
    assert Decimal(contract.json()["daily_hours"]) == Decimal("7.5")  # a string, never a float
    listed = http.get("/api/v1/contracts", params={"active_on": "2026-06-01"}, headers=zvs).json()
    assert listed["total"] == 1
    changed = http.patch(f"/api/v1/contracts/{contract.json()['id']}", headers=zvs,
                         json={"end_date": "2027-07-31"})
    assert changed.json()["end_date"] == "2027-07-31"
    assert http.get("/api/v1/contracts", params={"active_on": "2027-08-01"},
                    headers=zvs).json()["total"] == 0


def test_paging_and_filters(api):
    """Facilities by Stadtteil, Stadtbezirk, carrier, integration and name, paged."""
    http, zvs, _engine = api
    carrier = http.post("/api/v1/carriers", json=CARRIER, headers=zvs).json()
    for n in range(7):
        make_facility(http, zvs, carrier["id"], n, stadtteil="21" if n < 4 else "91",
                      integration_facility=n == 6)
    first = http.get("/api/v1/facilities", params={"limit": 3}, headers=zvs).json()
    second = http.get("/api/v1/facilities", params={"limit": 3, "offset": 3}, headers=zvs).json()
    assert first["total"] == 7 and len(first["items"]) == 3 and len(second["items"]) == 3
    assert not {f["id"] for f in first["items"]} & {f["id"] for f in second["items"]}
    by = {k: http.get("/api/v1/facilities", params={k: v}, headers=zvs).json()["total"]
          for k, v in [("stadtteil", "21"), ("stadtbezirk", "Cotta"), ("integration", "true"),
                       ("q", "kita 6"), ("carrier_id", carrier["id"])]}
    assert by == {"stadtteil": 4, "stadtbezirk": 3, "integration": 1, "q": 1, "carrier_id": 7}
    assert http.get("/api/v1/facilities", params={"limit": 0}, headers=zvs).status_code == 422


def test_bad_input_names_record_field_and_rule(api):
    """Bad input: a clear error with record, field and rule; nothing stored."""
    http, zvs, _engine = api
    carrier = http.post("/api/v1/carriers", json=CARRIER, headers=zvs).json()
    r = http.post("/api/v1/facilities", headers=zvs, json={
        "carrier_id": carrier["id"], "name": "Kita X", "cost_centre": "K-X", "street": "A",
        "house_no": "1", "postcode": "01067", "stadtteil_nr": "08"})
    assert r.status_code == 422
    assert r.json()["error"] == {"message": "unknown Stadtteil '08'", "record": "facility",
                                 "field": "stadtteil_nr",
                                 "rule": "one of the 64 statistical districts"}
    assert http.get("/api/v1/facilities", headers=zvs).json()["total"] == 0
    r = http.post("/api/v1/carriers", headers=zvs, json={**CARRIER, "carrier_type": "99"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "carrier_type"]
    r = http.post("/api/v1/carriers", headers=zvs, json={**CARRIER, "colour": "red"})
    assert r.status_code == 422
    make_facility(http, zvs, carrier["id"], 1)
    dup = http.post("/api/v1/facilities", headers=zvs, json={
        "carrier_id": carrier["id"], "name": "Kita Y", "cost_centre": "KS-1", "street": "A",
        "house_no": "1", "postcode": "01067", "stadtteil_nr": "01"})
    assert dup.status_code == 409 and "cost_centre" in dup.json()["error"]["message"]


def test_stadtteile_and_plugins_endpoints(api):
    """The 64 districts are loaded (issue 2 item 3); /api/v1/plugins lists the adapters."""
    http, zvs, _engine = api
    districts = http.get("/api/v1/stadtteile", headers=zvs).json()
    assert len(districts) == 64
    assert {d["bezirk"] for d in districts if d["art"] == "Stadtbezirk"} == {
        "Altstadt", "Neustadt", "Pieschen", "Klotzsche", "Loschwitz", "Blasewitz", "Leuben",
        "Prohlis", "Plauen", "Cotta"}
    plugins = http.get("/api/v1/plugins", headers=zvs).json()
    meso = next(p for p in plugins if p["plugin"] == "meso")
    assert meso["adapters"][0]["name"] == "meso"


def test_changes_carry_their_validity_date(api):
    """3.14.3: a change made today can be valid from another date; as-of follows it."""
    http, zvs, _engine = api
    carrier = http.post("/api/v1/carriers", json=CARRIER, headers=zvs).json()
    facility = make_facility(http, zvs, carrier["id"], 1)
    r = http.patch(f"/api/v1/facilities/{facility['id']}", params={"valid_from": "2099-01-01"},
                   json={"street": "Königsbrücker Str."}, headers=zvs)
    assert r.status_code == 200
    audit = http.get("/api/v1/audit", params={"entity": "facility"},
                     headers=key(_engine, Role.ADMIN)).json()["items"][0]
    assert audit["valid_from"] == "2099-01-01" and audit["source"] == "api"
    before = http.get(f"/api/v1/history/facility/{facility['id']}",
                      params={"on": "2098-12-31"}, headers=zvs).json()["values"]
    after = http.get(f"/api/v1/history/facility/{facility['id']}",
                     params={"on": "2099-01-01"}, headers=zvs).json()["values"]
    assert before["street"] == "Leipziger Str." and after["street"] == "Königsbrücker Str."


def test_deleting_capacity_and_facilities(api):
    """3.14.1.5: only EB Kita deletes; capacities and facilities in use stay."""
    http, zvs, engine = api
    carrier = http.post("/api/v1/carriers", json=CARRIER, headers=zvs).json()
    facility = make_facility(http, zvs, carrier["id"], 1)
    offer = http.post(f"/api/v1/facilities/{facility['id']}/care-offers", headers=zvs,
                      json={"care_type": "hort", "approved_places": 20,
                            "valid_from": "2024-01-01"}).json()
    carrier_key = key(engine, Role.CARRIER, carrier_id=carrier["id"])
    assert http.delete(f"/api/v1/care-offers/{offer['id']}",
                       headers=carrier_key).status_code == 403
    assert http.delete(f"/api/v1/care-offers/{offer['id']}", headers=zvs).status_code == 204
    assert http.delete(f"/api/v1/facilities/{facility['id']}", headers=zvs).status_code == 204
    assert http.get(f"/api/v1/facilities/{facility['id']}", headers=zvs).status_code == 404


def test_capacity_in_use_is_not_deleted(engine):
    """3.7.1.2: a capacity that running contracts rely on cannot be deleted."""
    from tests.world import build_world

    world = build_world(engine)
    http, zvs = client(engine), key(engine, Role.ZVS)
    offers = http.get(f"/api/v1/facilities/{world.facility_b1}/care-offers", headers=zvs).json()
    r = http.delete(f"/api/v1/care-offers/{offers[0]['id']}", headers=zvs)
    assert r.status_code == 409 and r.json()["error"]["record"] == "care_offer"
    r = http.delete(f"/api/v1/facilities/{world.facility_b1}", headers=zvs)
    assert r.status_code == 409 and "closed" in r.json()["error"]["message"]


def test_patch_cannot_null_a_required_field(api):
    """Bad input loses nothing: null for a required field is a 422, the record stays."""
    http, zvs, _engine = api
    carrier = http.post("/api/v1/carriers", json=CARRIER, headers=zvs).json()
    facility = make_facility(http, zvs, carrier["id"], 1)
    offer = http.post(f"/api/v1/facilities/{facility['id']}/care-offers", headers=zvs,
                      json={"care_type": "hort", "approved_places": 20,
                            "valid_from": "2024-01-01"}).json()
    r = http.patch(f"/api/v1/care-offers/{offer['id']}", json={"valid_from": None}, headers=zvs)
    assert r.status_code == 422 and "valid_from cannot be null" in r.text
    r = http.patch(f"/api/v1/facilities/{facility['id']}", json={"name": None}, headers=zvs)
    assert r.status_code == 422
    ok = http.patch(f"/api/v1/care-offers/{offer['id']}", json={"valid_to": None}, headers=zvs)
    assert ok.status_code == 200


def test_out_of_range_values_are_422_not_500(api):
    """Ids, counts and texts are bounded to their columns (found by schemathesis)."""
    http, zvs, _engine = api
    huge = 2**70
    assert http.get(f"/api/v1/children/{huge}", headers=zvs).status_code == 422
    assert http.get("/api/v1/facilities", params={"carrier_id": huge},
                    headers=zvs).status_code == 422
    assert http.get("/api/v1/facilities", params={"offset": huge}, headers=zvs).status_code == 422
    long = http.post("/api/v1/carriers", headers=zvs, json={**CARRIER, "phone": "1" * 41})
    assert long.status_code == 422 and long.json()["detail"][0]["loc"] == ["body", "phone"]


def test_childminder_bank_data_only_for_finance(api):
    """R7/R8: bank data is visible to the fee office, masked for the placement office."""
    http, zvs, engine = api
    office = http.post("/api/v1/childminding-offices", json={"name": "BVS-KTP Ost"},
                       headers=zvs).json()
    cm = http.post("/api/v1/childminders", headers=zvs, json={
        "office_id": office["id"], "family_name": "Sommer", "first_name": "Ina",
        "cost_centre": "TPP-7", "stadtteil_nr": "51", "capacity": 5,
        "iban": "DE02120300000000202051"}).json()
    assert cm["iban"] == "***"
    finance = http.get(f"/api/v1/childminders/{cm['id']}", headers=key(engine, Role.FINANCE))
    assert finance.json()["iban"] == "DE02120300000000202051"
