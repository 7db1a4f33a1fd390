"""Authentication and tenant scoping through the API (Lastenheft 3.15.2, 4.2.4;
data-protection.md M2, M3, R1, R2, R6, R7)."""

from __future__ import annotations

import pytest

from ekita.core.models.enums import Role
from tests.api import client, key
from tests.world import build_world

PERSONAL = ["/api/v1/children", "/api/v1/guardians", "/api/v1/contracts", "/api/v1/families"]


@pytest.fixture
def setup(engine):
    world = build_world(engine)
    return world, client(engine), engine


@pytest.mark.parametrize("path", [*PERSONAL, "/api/v1/facilities", "/api/v1/audit",
                                  "/api/v1/plugins", "/api/v1/carriers"])
def test_without_key_is_401(setup, path):
    """data-protection M2: every API call is authenticated."""
    _world, api, _engine = setup
    assert api.get(path).status_code == 401
    assert api.get(path, headers={"Authorization": "Bearer ekita_nope_nope"}).status_code == 401
    assert api.get(path, headers={"Authorization": "Bearer garbage"}).status_code == 401


def test_health_needs_no_key(setup):
    """Issue 2 item 8, issue 12 item 9: /health answers without a key (only up or down);
    an ops key sees the database and the loaded plugins."""
    _world, api, engine = setup
    assert api.get("/health").json() == {"status": "up"}
    body = api.get("/health", headers=key(engine, Role.OPS)).json()
    assert body["database"]["ok"] is True
    assert "meso" in body["plugins"]


def test_carrier_sees_only_its_own_children(setup):
    """Lastenheft 3.15.2 / R1: a free carrier sees only the data of its own facilities."""
    world, api, engine = setup
    headers = key(engine, Role.CARRIER, carrier_id=world.independent)
    own = set(world.children[world.facility_b1] + world.children[world.facility_b2])
    listed = {c["id"] for c in api.get("/api/v1/children", headers=headers).json()["items"]}
    assert listed == own
    foreign = world.children[world.facility_m][0]
    assert api.get(f"/api/v1/children/{foreign}", headers=headers).status_code == 404
    foreign_contract = world.contracts[foreign]
    assert api.get(f"/api/v1/contracts/{foreign_contract}", headers=headers).status_code == 404
    foreign_guardian = world.guardians[foreign]
    assert api.get(f"/api/v1/guardians/{foreign_guardian}", headers=headers).status_code == 404
    contracts = api.get("/api/v1/contracts", headers=headers).json()
    assert {c["child_id"] for c in contracts["items"]} == own
    assert contracts["total"] == len(own)
    guardians = api.get("/api/v1/guardians", headers=headers).json()["items"]
    assert {g["id"] for g in guardians} == {world.guardians[c] for c in own}
    families = api.get("/api/v1/families", headers=headers).json()["items"]
    assert {f["id"] for f in families} == {world.families[c] for c in own}


def test_facility_lead_sees_only_its_facility(setup):
    """Lastenheft 3.6 / R2: a facility head sees only her facility's data."""
    world, api, engine = setup
    headers = key(engine, Role.FACILITY_LEAD, facility_id=world.facility_b1)
    listed = {c["id"] for c in api.get("/api/v1/children", headers=headers).json()["items"]}
    assert listed == set(world.children[world.facility_b1])
    sibling_facility_child = world.children[world.facility_b2][0]
    assert api.get(f"/api/v1/children/{sibling_facility_child}",
                   headers=headers).status_code == 404


def test_cross_tenant_writes_are_refused(setup):
    """R1/R2: tenants cannot change other tenants' records or facilities."""
    world, api, engine = setup
    headers = key(engine, Role.CARRIER, carrier_id=world.independent)
    foreign = world.children[world.facility_m][0]
    r = api.patch(f"/api/v1/children/{foreign}", json={"first_name": "X"}, headers=headers)
    assert r.status_code == 404
    r = api.patch(f"/api/v1/facilities/{world.facility_m}", json={"phone": "1"}, headers=headers)
    assert r.status_code == 403
    own = world.children[world.facility_b1][0]
    body = {"child_id": own, "facility_id": world.facility_m, "care_type": "kindergarten",
            "start_date": "2024-01-01", "daily_hours": "9",
            "payer_guardian_id": world.guardians[own], "payer_kind": "direct_debit"}
    r = api.post("/api/v1/contracts", json=body, headers=headers)
    assert r.status_code == 403
    assert r.json()["error"]["field"] == "facility_id"


def test_tenant_edits_own_facility_contact_but_not_capacity_fields(setup):
    """3.14.1.5: contact/concept data belong to the facility; structure only to EB Kita."""
    world, api, engine = setup
    headers = key(engine, Role.FACILITY_LEAD, facility_id=world.facility_b1)
    ok = api.patch(f"/api/v1/facilities/{world.facility_b1}",
                   json={"phone": "0351 42", "profile": "Waldkita"}, headers=headers)
    assert ok.status_code == 200 and ok.json()["phone"] == "0351 42"
    denied = api.patch(f"/api/v1/facilities/{world.facility_b1}",
                       json={"company_reserved_places": 5}, headers=headers)
    assert denied.status_code == 403
    assert denied.json()["error"]["field"] == "company_reserved_places"
    offer = api.post(f"/api/v1/facilities/{world.facility_b1}/care-offers", headers=headers,
                     json={"care_type": "krippe", "approved_places": 5,
                           "valid_from": "2027-01-01"})
    assert offer.status_code == 403


@pytest.mark.parametrize("role", [Role.OPS, Role.INTEGRATION])
def test_technical_roles_see_no_personal_data(setup, role):
    """M8 purpose separation: ops and machine accounts see no children or guardians."""
    _world, api, engine = setup
    headers = key(engine, role)
    assert api.get("/api/v1/facilities", headers=headers).status_code == 200
    for path in PERSONAL:
        r = api.get(path, headers=headers)
        assert r.status_code in (403, 200)
        if r.status_code == 200:
            assert r.json()["items"] == []


def test_sensitive_child_fields_only_for_the_facility(setup):
    """R6 (3.14.1.2): 'Sonstige Kind-Daten' are visible to the facility, masked for EB Kita."""
    world, api, engine = setup
    child = world.children[world.facility_b1][0]
    lead = key(engine, Role.FACILITY_LEAD, facility_id=world.facility_b1)
    zvs = key(engine, Role.ZVS)
    assert api.get(f"/api/v1/children/{child}", headers=lead).json()["health_notes"] == "asthma"
    assert api.get(f"/api/v1/children/{child}", headers=zvs).json()["health_notes"] == "***"


def test_contact_visibility_per_role(setup):
    """R7 (3.14.1.3): the emergency number only for the facility, not for the carrier."""
    world, api, engine = setup
    child = world.children[world.facility_b1][0]
    guardian = world.guardians[child]
    lead = key(engine, Role.FACILITY_LEAD, facility_id=world.facility_b1)
    carrier = key(engine, Role.CARRIER, carrier_id=world.independent)
    seen_by_lead = api.get(f"/api/v1/guardians/{guardian}", headers=lead).json()["contacts"]
    seen_by_carrier = api.get(f"/api/v1/guardians/{guardian}", headers=carrier).json()["contacts"]
    assert {c["visibility"] for c in seen_by_lead} == {"emergency", "administrative"}
    assert {c["visibility"] for c in seen_by_carrier} == {"administrative"}


def test_audit_is_admin_territory(setup):
    """Issue 2 item 9: the audit trail is readable by admin, not by tenants."""
    world, api, engine = setup
    assert api.get("/api/v1/audit", headers=key(engine, Role.ADMIN)).status_code == 200
    carrier = key(engine, Role.CARRIER, carrier_id=world.independent)
    assert api.get("/api/v1/audit", headers=carrier).status_code == 403


def test_access_log_never_holds_query_strings(setup, caplog):
    """data-protection M9 / 'never logged in clear': searches by name stay out of the log."""
    _world, api, engine = setup
    headers = key(engine, Role.ZVS)
    with caplog.at_level("INFO", logger="ekita.access"):
        api.get("/api/v1/children", params={"q": "Muster1"}, headers=headers)
    assert "GET /api/v1/children 200" in caplog.text
    assert "Muster1" not in caplog.text and "Bearer" not in caplog.text
