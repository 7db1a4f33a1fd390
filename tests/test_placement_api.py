"""The placement API per role (Lastenheft 3.2–3.7; data-protection R1, R2, R4, R5, C1;
decisions D19): views, scoping across tenants, errors as JSON, OpenAPI examples."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from ekita.core.models.enums import Role
from ekita.core.tracking import today
from tests.api import client, key
from tests.conftest import work
from tests.world import add_applicant, build_placement_world

API = "/api/v1/placement"
CONSENT = {"privacy": True, "transfer": True, "terms": True}
HIDDEN = ("rank", "priority", "switch_reason")


@pytest.fixture
def setup(engine):
    world = build_placement_world(engine)
    start = today() + timedelta(days=60)
    with work(engine) as s:
        children = [add_applicant(s, n, start - timedelta(days=4 * 365 + n)) for n in range(3)]
    return world, client(engine), engine, start, children


def body(child: int, start: date, *facilities: int, **extra) -> dict:
    return {"child_ids": [child], "desired_start": start.isoformat(), "daily_hours": "9",
            "preferences": [{"facility_id": f} for f in facilities], "consents": CONSENT,
            **extra}


def test_missing_consent_is_422_and_nothing_stored(setup):
    """placement.md §3.2, data-protection C1: a clear 422 naming the field; nothing stored."""
    world, api, engine, start, children = setup
    zvs = key(engine, Role.ZVS)
    answer = api.post(f"{API}/applications", headers=zvs, json=body(
        children[0][0], start, world.roomy) | {"consents": CONSENT | {"privacy": False}})
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "consents"
    assert api.get(f"{API}/applications", headers=zvs).json()["total"] == 0


def test_facility_lead_never_sees_rank_priority_or_switch_reason(setup):
    """data-protection R4/R5, decisions D19 (3.6.5): no rank, priority or switch reason in
    any answer for the facility lead — checked on the raw JSON."""
    world, api, engine, start, children = setup
    zvs = key(engine, Role.ZVS)
    # WE 1 (small) gets one applicant, the second waits there and goes on to roomy.
    first = api.post(f"{API}/applications", headers=zvs,
                     json=body(children[0][0], start, world.small)).json()
    lead_small = key(engine, Role.FACILITY_LEAD, facility_id=world.small)
    api.post(f"{API}/applications/{first['application']['id']}/reserve", headers=lead_small,
             json={"facility_id": world.small}).raise_for_status()
    made = api.post(f"{API}/applications", headers=zvs, json=body(
        children[1][0], start, world.small, world.roomy, is_switch=True,
        switch_reason="Arbeitsweg")).json()
    app_id = made["application"]["id"]
    assert made["application"]["switch_reason"] == "Arbeitsweg"  # the ZVS sees it
    api.post(f"{API}/applications/{app_id}/release", headers=zvs,
             json={"priority": 2}).raise_for_status()
    zvs_view = api.get(f"{API}/applications/{app_id}", headers=zvs).json()
    assert zvs_view["current_rank"] == 2 and zvs_view["zvs_priority"] == 2
    lead = key(engine, Role.FACILITY_LEAD, facility_id=world.roomy)
    answers = [
        api.get(f"{API}/applications/{app_id}", headers=lead),
        api.get(f"{API}/applications", headers=lead),
        api.get(f"{API}/facilities/{world.roomy}/review", headers=lead),
        api.get(f"{API}/facilities/{world.small}/waiting-list", headers=lead_small),
        api.get(f"{API}/applications/{app_id}", headers=lead_small),
        api.post(f"{API}/applications/{app_id}/reserve", headers=lead,
                 json={"facility_id": world.roomy}),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201), answer.text
        raw = answer.text
        assert all(word not in raw for word in HIDDEN), raw
    assert answers[0].json()["is_switch"] is True  # the switch flag itself is visible (R5)
    assert [e["application_id"] for e in answers[3].json()] == [app_id]


def test_other_tenants_get_404(setup):
    """data-protection R1/R2: another head or carrier gets 404 for the application and the
    facility's lists, and 403/404 for commands."""
    world, api, engine, start, children = setup
    zvs = key(engine, Role.ZVS)
    app_id = api.post(f"{API}/applications", headers=zvs,
                      json=body(children[0][0], start, world.roomy)).json()["application"]["id"]
    other_lead = key(engine, Role.FACILITY_LEAD, facility_id=world.other)
    other_carrier = key(engine, Role.CARRIER, carrier_id=world.independent)
    own_carrier = key(engine, Role.CARRIER, carrier_id=world.municipal)
    for headers in (other_lead, other_carrier):
        assert api.get(f"{API}/applications/{app_id}", headers=headers).status_code == 404
        assert api.get(f"{API}/facilities/{world.roomy}/waiting-list",
                       headers=headers).status_code == 404
        assert api.post(f"{API}/applications/{app_id}/reserve", headers=headers,
                        json={"facility_id": world.roomy}).status_code in (403, 404)
        assert api.get(f"{API}/applications", headers=headers).json()["total"] == 0
    assert api.get(f"{API}/applications/{app_id}", headers=own_carrier).status_code == 200
    ops = key(engine, Role.OPS)
    assert api.get(f"{API}/applications", headers=ops).status_code == 403
    assert api.get(f"{API}/events", headers=other_lead).status_code == 403


def test_full_walkthrough_reserve_overbook_sign(setup):
    """placement.md §8 P1/P4, §14.5: reserve (overbooking only with the flag, as a warning),
    sign → contracts; events listed for the ZVS."""
    world, api, engine, start, children = setup
    zvs = key(engine, Role.ZVS)
    lead = key(engine, Role.FACILITY_LEAD, facility_id=world.small)
    ids = []
    for child, _guardian in children[:2]:
        made = api.post(f"{API}/applications", headers=zvs,
                        json=body(child, start, world.small, sibling_in_first_preference=True))
        assert made.status_code == 201, made.text
        ids.append(made.json()["application"]["id"])
    assert api.post(f"{API}/applications/{ids[0]}/reserve", headers=lead,
                    json={"facility_id": world.small}).json()["warnings"] == []
    full = api.post(f"{API}/applications/{ids[1]}/reserve", headers=lead,
                    json={"facility_id": world.small})
    assert full.status_code == 422 and full.json()["error"]["field"] == "overbook"
    over = api.post(f"{API}/applications/{ids[1]}/reserve", headers=lead,
                    json={"facility_id": world.small, "overbook": True})
    assert over.status_code == 200 and "over-occupied" in over.json()["warnings"][0]
    signed = api.post(f"{API}/applications/{ids[0]}/sign", headers=lead,
                      json={"payer_guardian_id": children[0][1], "payer_kind": "direct_debit"})
    assert signed.status_code == 200, signed.text
    assert signed.json()["application"]["state"] == "inactive"
    assert len(signed.json()["contract_ids"]) == 1
    kinds = [e["kind"] for e in api.get(f"{API}/events", headers=zvs,
                                        params={"application_id": ids[0]}).json()["items"]]
    assert kinds[-1] == "ContractSigned" and "Reserved" in kinds
    # The contract is the lead's now: exit with short notice → warning, not refusal (§15.3).
    contract = signed.json()["contract_ids"][0]
    exit_ = api.post(f"{API}/contracts/{contract}/exit", headers=lead, json={
        "notice_received_on": (start + timedelta(days=40)).isoformat(),
        "exit_date": (start + timedelta(days=50)).isoformat()})
    assert exit_.status_code == 201, exit_.text
    assert exit_.json()["exit"]["short_notice"] and exit_.json()["warnings"]


def test_openapi_documents_placement_with_examples(setup):
    """Issue 3 item 7: the placement API is in the OpenAPI schema with summaries and
    examples."""
    _world, api, _engine, _start, _children = setup
    schema = api.get("/openapi.json").json()
    post = schema["paths"]["/api/v1/placement/applications"]["post"]
    assert post["summary"] and "examples" in post["requestBody"]["content"]["application/json"]
    assert "/api/v1/placement/applications/{application_id}/sign" in schema["paths"]
    assert "FacilityApplicationOut" in schema["components"]["schemas"]
    facility_view = schema["components"]["schemas"]["FacilityApplicationOut"]["properties"]
    assert not any(word in key for key in facility_view for word in HIDDEN)


def test_history_of_placement_records_hides_ranks_from_tenants(setup):
    """data-protection R4/R5, decisions D19: the generic history endpoint gives a facility
    lead no rank, priority or switch reason of an application at her facility, and no
    preference, waiting-list entry or reservation of another facility."""
    world, api, engine, start, children = setup
    zvs = key(engine, Role.ZVS)
    lead_small = key(engine, Role.FACILITY_LEAD, facility_id=world.small)
    first = api.post(f"{API}/applications", headers=zvs,
                     json=body(children[0][0], start, world.small)).json()["application"]
    api.post(f"{API}/applications/{first['id']}/reserve", headers=lead_small,
             json={"facility_id": world.small}).raise_for_status()
    app = api.post(f"{API}/applications", headers=zvs, json=body(
        children[1][0], start, world.small, world.roomy)).json()["application"]
    lead = key(engine, Role.FACILITY_LEAD, facility_id=world.roomy)
    on = {"on": today().isoformat()}
    history = api.get(f"/api/v1/history/application/{app['id']}", headers=lead, params=on)
    assert history.status_code == 200, history.text
    assert history.json()["values"]["desired_start"] == start.isoformat()
    assert all(word not in history.text for word in HIDDEN), history.text
    zvs_history = api.get(f"/api/v1/history/application/{app['id']}", headers=zvs, params=on)
    assert zvs_history.json()["values"]["current_rank"] == 2
    for entity in ("preference", "waiting_list_entry"):
        assert api.get(f"/api/v1/history/{entity}/1", headers=lead,
                       params=on).status_code == 404
    assert api.get("/api/v1/history/reservation/1", headers=lead,
                   params=on).status_code == 404
    assert api.get("/api/v1/history/reservation/1", headers=lead_small,
                   params=on).status_code == 200


def test_forwarding_head_does_not_learn_the_next_preference(setup):
    """placement.md §6 R6, data-protection R4: a head forwarding an application (no place)
    is not told where it went next, which would hint at the preference order."""
    world, api, engine, start, children = setup
    zvs = key(engine, Role.ZVS)
    app = api.post(f"{API}/applications", headers=zvs, json=body(
        children[0][0], start, world.small, world.roomy)).json()["application"]
    lead = key(engine, Role.FACILITY_LEAD, facility_id=world.small)
    forwarded = api.post(f"{API}/applications/{app['id']}/forward", headers=lead)
    assert forwarded.status_code == 200, forwarded.text
    assert forwarded.json()["application"]["current_facility_id"] is None
    waiting = api.get(f"{API}/facilities/{world.small}/waiting-list", headers=lead).json()
    assert [w["application_id"] for w in waiting] == [app["id"]]
    assert api.get(f"{API}/applications/{app['id']}", headers=zvs).json()[
        "current_facility_id"] == world.roomy


def test_patch_and_delete_through_the_api(setup):
    """placement.md §12 C1–C5 (3.3.4, 3.3.5): edit (new preferences restart routing),
    then delete; the deleted application is kept as withdrawn; bad input is a 422."""
    world, api, engine, start, children = setup
    zvs = key(engine, Role.ZVS)
    app = api.post(f"{API}/applications", headers=zvs,
                   json=body(children[0][0], start, world.roomy)).json()["application"]
    url = f"{API}/applications/{app['id']}"
    assert api.patch(url, headers=zvs, json={"daily_hours": "0"}).status_code == 422
    assert api.patch(url, headers=zvs, json={"bogus": 1}).status_code == 422
    changed = api.patch(url, headers=zvs, json={"preferences": [{"facility_id": world.other}]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["application"]["current_facility_id"] == world.other
    hours = api.patch(url, headers=zvs, json={"daily_hours": "7.5"}).json()["application"]
    assert Decimal(hours["daily_hours"]) == Decimal("7.5")
    assert hours["current_facility_id"] == world.other
    gone = api.delete(url, headers=zvs).json()["application"]
    assert (gone["state"], gone["inactive_reason"]) == ("inactive", "withdrawn")
    again = api.delete(url, headers=zvs)
    assert again.status_code == 422 and again.json()["error"]["field"] == "state"
