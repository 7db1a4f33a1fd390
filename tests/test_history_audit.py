"""Audit trail (Lastenheft 3.14.1, data-protection M5) and historisation (3.14.3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ekita.core import crypto
from ekita.core.models import AuditEvent, Child
from ekita.core.models.enums import Role
from ekita.core.services import people
from ekita.core.tracking import record_as_of, valid_from
from tests.api import client, key
from tests.conftest import as_role, work
from tests.world import build_world


def test_every_change_is_audited_with_actor_source_and_fields(engine):
    """3.14.1 / M5: who, when, which change (field-level before/after), from which channel."""
    world = build_world(engine)
    child = world.children[world.facility_b1][0]
    lead = as_role(Role.FACILITY_LEAD, facility_id=world.facility_b1)
    with work(engine, lead) as s:
        people.update_child(s, child, {"first_name": "Mia", "health_notes": "pollen"})
    with work(engine) as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.entity == "child",
                                                    AuditEvent.entity_id == child)
                           .order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["create", "update"]
    last = events[-1]
    assert last.actor == "test-facility_lead" and last.source == "test"
    # Health notes are encrypted at rest, in the change log too (issue 12 item 3).
    assert last.changes["first_name"] == ["Kind", "Mia"] and set(last.changes) == {
        "first_name", "health_notes"}
    assert [crypto.decrypt(v) for v in last.changes["health_notes"]] == ["asthma", "pollen"]


def test_audit_rows_cannot_be_changed(engine):
    """M5: audit rows are immutable, through the application and in the database itself."""
    build_world(engine)
    with pytest.raises(PermissionError), work(engine) as s:
        s.scalars(select(AuditEvent)).first().actor = "someone else"
    for statement in ("UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text(statement))
    with work(engine) as s:
        assert "x" not in {e.actor for e in s.scalars(select(AuditEvent))}


def test_as_of_replays_business_dates(engine):
    """3.14.3: each change keeps from when it is valid; letters use the address valid then."""
    world = build_world(engine)
    child = world.children[world.facility_m][0]
    today = date.today()
    later, latest = today + timedelta(days=30), today + timedelta(days=90)
    with work(engine) as s, valid_from(s, latest):
        people.update_child(s, child, {"street": "Neue Straße"})
    with work(engine) as s, valid_from(s, later):
        people.update_child(s, child, {"street": "Zwischenweg"})  # recorded later, valid earlier
    with work(engine) as s:
        on = {d: record_as_of(s, Child, child, d) for d in
              (today - timedelta(days=1), today, later, latest)}
    assert on[today - timedelta(days=1)] is None  # created today: not there the day before
    assert on[today]["street"] is None
    assert on[later]["street"] == "Zwischenweg"
    assert on[latest]["street"] == "Neue Straße"
    assert on[latest]["first_name"] == "Kind"


def test_as_of_known_at_is_bitemporal(engine):
    """3.14.3: 'when the change was made' is kept apart from 'from when it is valid'."""
    world = build_world(engine)
    child = world.children[world.facility_m][0]
    before = datetime.now(UTC)
    with work(engine) as s, valid_from(s, date(2020, 1, 1)):
        people.update_child(s, child, {"town": "Dresden-Neustadt"})
    with work(engine) as s:
        now = record_as_of(s, Child, child, date(2030, 1, 1))
        then = record_as_of(s, Child, child, date(2030, 1, 1), known_at=before)
    assert now["town"] == "Dresden-Neustadt" and then["town"] is None


def test_audit_view_masks_sensitive_fields(engine):
    """Issue 2 item 9 / R6: health notes are masked in the audit view for the admin."""
    world = build_world(engine)
    api = client(engine)
    child = world.children[world.facility_b1][0]
    body = api.get("/api/v1/audit", params={"entity": "child", "entity_id": child},
                   headers=key(engine, Role.ADMIN)).json()
    created = body["items"][-1]
    assert created["action"] == "create" and created["changes"]["health_notes"] == [None, "***"]
    assert created["changes"]["first_name"] == [None, "Kind"]
    key_rows = api.get("/api/v1/audit", params={"entity": "api_key"},
                       headers=key(engine, Role.ADMIN)).json()["items"]
    assert all(r["changes"]["secret_hash"][1] == "***" for r in key_rows)


def test_history_endpoint_respects_scope(engine):
    """3.14.3 via the API, and tenants see history only of records in their scope (R1)."""
    world = build_world(engine)
    api = client(engine)
    child = world.children[world.facility_b1][0]
    today = date.today().isoformat()
    zvs = api.get(f"/api/v1/history/child/{child}", params={"on": today},
                  headers=key(engine, Role.ZVS))
    assert zvs.status_code == 200 and zvs.json()["values"]["first_name"] == "Kind"
    foreign = key(engine, Role.FACILITY_LEAD, facility_id=world.facility_m)
    assert api.get(f"/api/v1/history/child/{child}", params={"on": today},
                   headers=foreign).status_code == 404
    assert api.get("/api/v1/history/nonsense/1", params={"on": today},
                   headers=key(engine, Role.ZVS)).status_code == 404


def test_history_and_audit_need_the_entity_read_right(engine):
    """Issue 12 item 1 (observed hole): /history served API keys, payment setups, fee facts
    and family files to anyone with master-data read; now it needs the entity's own read
    permission, and the audit view lists only entities the role may read."""
    build_world(engine)
    api = client(engine)
    today = date.today().isoformat()
    zvs, admin = key(engine, Role.ZVS), key(engine, Role.ADMIN)
    assert api.get("/api/v1/history/api_key/1", params={"on": today},
                   headers=zvs).status_code == 403
    assert api.get("/api/v1/history/api_key/1", params={"on": today},
                   headers=admin).status_code == 200
    rows = api.get("/api/v1/audit", params={"entity": "api_key"}, headers=zvs).json()
    assert rows["total"] == 0 and rows["items"] == []
    emergency = api.get("/api/v1/audit", params={"entity": "guardian_contact"},
                        headers=zvs).json()["items"]
    assert emergency and all(r["changes"]["visibility"][1] == "administrative"
                             for r in emergency if "visibility" in r["changes"])
