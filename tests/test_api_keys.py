"""API key lifecycle: list, revoke, rotate, expiry, last use (issue 12 item 13).

Threat: a leaked, forgotten or replaced key keeps opening the hub. Every test here
checks one way a key must stop working, that the secret never shows again, or that
only an administrator manages keys.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from ekita.core.db.base import Base, as_utc
from ekita.core.errors import Conflict, RuleViolation
from ekita.core.models import ApiKey
from ekita.core.models.audit import AuditEvent
from ekita.core.models.enums import Role
from ekita.core.services.accounts import (
    LAST_USED_RESOLUTION,
    authenticate,
    create_api_key,
    record_use,
    revoke_api_key,
    rotate_api_key,
)
from tests.api import client, key
from tests.conftest import work
from tests.world import build_world

KEYS = "/api/v1/users/keys"
PROBE = "/api/v1/carriers"  # any route an ops key may read


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue(engine, role: Role = Role.OPS, **kw) -> tuple[int, str]:
    with work(engine) as s:
        issued = create_api_key(s, name=f"k-{role}", role=role, **kw)
        return issued.key.id, issued.token


def stored(engine, key_id: int) -> ApiKey:
    with work(engine) as s:
        return s.get(ApiKey, key_id)


def key_events(engine, key_id: int) -> list[AuditEvent]:
    with work(engine) as s:
        return list(s.scalars(select(AuditEvent).where(
            AuditEvent.entity == "api_key", AuditEvent.entity_id == key_id
        ).order_by(AuditEvent.id)))


def test_migration_0012_matches_the_model(engine):
    """Issue 12 item 13: migration 0012 gives api_key exactly the model's lifecycle columns."""
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if "api_key" in repr(d)] == []


def test_list_shows_metadata_but_never_the_secret_or_hash(engine):
    """Issue 12 item 13, threat: key material leaking through the admin list."""
    api = client(engine)
    admin = key(engine, Role.ADMIN)
    key_id, token = issue(engine, Role.ZVS, expires_at=datetime(2031, 6, 30, 22, tzinfo=UTC))
    answer = api.get(KEYS, headers=admin, params={"limit": 1})
    assert answer.status_code == 200
    body = answer.json()
    assert body["total"] == 2 and body["limit"] == 1 and body["offset"] == 0
    [item] = body["items"]  # newest first
    assert item["id"] == key_id and item["role"] == "zvs" and item["status"] == "active"
    assert item["expires_at"] == "2031-07-01T00:00:00+02:00"  # shown in Europe/Berlin
    assert item["created_at"].endswith(("+01:00", "+02:00"))
    secret = token.split("_", 2)[2]
    text = api.get(KEYS, headers=admin).text + api.get(f"{KEYS}/{key_id}", headers=admin).text
    assert secret not in text and stored(engine, key_id).secret_hash not in text
    assert "secret" not in text and "token" not in text


def test_create_returns_the_secret_once(engine):
    """Issue 12 item 13: POST creates a working key; the token is in that answer only."""
    api = client(engine)
    admin = key(engine, Role.ADMIN)
    answer = api.post(KEYS, headers=admin,
                      json={"name": "SAP Schnittstelle", "role": "ops", "expires_on": "2031-01-31"})
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["key"]["expires_at"] == "2031-02-01T00:00:00+01:00"
    shown = api.get(f"{KEYS}/{made['key']['id']}", headers=admin).json()
    assert shown["expires_at"] == "2031-02-01T00:00:00+01:00"  # stored in UTC, read back
    assert api.get(PROBE, headers=bearer(made["token"])).status_code == 200
    assert made["token"] not in api.get(f"{KEYS}/{made['key']['id']}", headers=admin).text


def test_create_rejects_a_past_expiry_and_unknown_fields(engine):
    """Issue 12 item 13: a key born expired is an input error, named by field and rule."""
    api = client(engine)
    admin = key(engine, Role.ADMIN)
    past = api.post(KEYS, headers=admin,
                    json={"name": "x", "role": "ops", "expires_on": "2020-01-01"})
    assert past.status_code == 422
    assert past.json()["error"]["field"] == "expires_at"
    extra = api.post(KEYS, headers=admin, json={"name": "x", "role": "ops", "secret_hash": "0"})
    assert extra.status_code == 422


def test_revoked_key_gets_401_and_revocation_is_audited(engine):
    """Issue 12 item 13, threat: a leaked key still working after it was revoked."""
    api = client(engine)
    admin = key(engine, Role.ADMIN)
    key_id, token = issue(engine)
    assert api.get(PROBE, headers=bearer(token)).status_code == 200
    done = api.post(f"{KEYS}/{key_id}/revoke", headers=admin, json={"reason": "leaked"})
    assert done.status_code == 200
    assert done.json()["status"] == "revoked" and done.json()["revoked_by"] == "key:t-admin"
    refused = api.get(PROBE, headers=bearer(token))
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    [update] = [e for e in key_events(engine, key_id) if e.action == "update"]
    assert update.actor == "key:t-admin" and update.source == "api"
    assert set(update.changes) == {"revoked_at", "revoked_by", "revoke_reason"}
    assert update.changes["revoke_reason"] == [None, "leaked"]


def test_revoke_is_idempotent_and_final(engine):
    """Issue 12 item 13: revoking twice changes nothing; no path un-revokes a key."""
    api = client(engine)
    admin = key(engine, Role.ADMIN)
    key_id, token = issue(engine)
    first = api.post(f"{KEYS}/{key_id}/revoke", headers=admin).json()
    again = api.post(f"{KEYS}/{key_id}/revoke", headers=admin, json={"reason": "later"}).json()
    assert again["revoked_at"] == first["revoked_at"] and again["revoke_reason"] is None
    assert len([e for e in key_events(engine, key_id) if e.action == "update"]) == 1
    with pytest.raises(RuleViolation, match="revoked for good"), work(engine) as s:
        s.get(ApiKey, key_id).revoked_at = None
    with work(engine) as s:
        assert authenticate(s, token) is None


def test_expired_key_gets_401(engine):
    """Issue 12 item 13, threat: a key issued for a limited time outliving it."""
    api = client(engine)
    key_id, token = issue(engine, expires_at=datetime.now(UTC) + timedelta(days=1))
    assert api.get(PROBE, headers=bearer(token)).status_code == 200
    with work(engine) as s:
        s.get(ApiKey, key_id).expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert api.get(PROBE, headers=bearer(token)).status_code == 401
    [item] = [k for k in api.get(KEYS, headers=key(engine, Role.ADMIN)).json()["items"]
              if k["id"] == key_id]
    assert item["status"] == "expired"
    [update] = [e for e in key_events(engine, key_id) if e.action == "update"]
    assert set(update.changes) == {"expires_at"}  # expiry changes are audited


def test_rotate_replaces_the_key_with_the_same_role_and_scope(engine):
    """Issue 12 item 13, threat: a replaced key kept alive, or a rotation widening the scope."""
    world = build_world(engine)
    api = client(engine)
    admin = key(engine, Role.ADMIN)
    old_id, old_token = issue(engine, Role.CARRIER, carrier_id=world.independent)
    answer = api.post(f"{KEYS}/{old_id}/rotate", headers=admin)
    assert answer.status_code == 201, answer.text
    new = answer.json()
    assert new["key"]["rotated_from"] == old_id and new["key"]["name"] == "k-carrier"
    assert api.get(PROBE, headers=bearer(old_token)).status_code == 401
    assert api.get(PROBE, headers=bearer(new["token"])).status_code == 200
    with work(engine) as s:
        who = authenticate(s, new["token"])
    assert (who.role, who.carrier_id, who.facility_id) == (Role.CARRIER, world.independent, None)
    old = api.get(f"{KEYS}/{old_id}", headers=admin).json()
    assert old["status"] == "revoked"
    assert old["revoke_reason"] == f"rotated to key {new['key']['id']}"
    [revoked] = [e for e in key_events(engine, old_id) if e.action == "update"]
    [created] = key_events(engine, new["key"]["id"])
    assert revoked.actor == created.actor == "key:t-admin"
    assert created.action == "create" and created.changes["rotated_from"] == [None, old_id]


def test_rotate_with_grace_keeps_both_keys_until_the_old_one_expires(engine):
    """Issue 12 item 13: holders get minutes to switch; a rotated key is not rotated again."""
    api = client(engine)
    admin = key(engine, Role.ADMIN)
    old_id, old_token = issue(engine)
    before = datetime.now(UTC)
    new = api.post(f"{KEYS}/{old_id}/rotate", headers=admin, json={"grace_minutes": 30}).json()
    assert api.get(PROBE, headers=bearer(old_token)).status_code == 200
    assert api.get(PROBE, headers=bearer(new["token"])).status_code == 200
    ends = as_utc(stored(engine, old_id).expires_at)
    assert before + timedelta(minutes=30) <= ends <= datetime.now(UTC) + timedelta(minutes=30)
    assert new["key"]["expires_at"] is None
    twice = api.post(f"{KEYS}/{old_id}/rotate", headers=admin)
    assert twice.status_code == 409 and twice.json()["error"]["rule"] == "a key is rotated once"
    too_long = api.post(f"{KEYS}/{new['key']['id']}/rotate", headers=admin,
                        json={"grace_minutes": 7 * 24 * 60 + 1})
    assert too_long.status_code == 422


def test_revoked_or_expired_key_cannot_be_rotated(engine):
    """Issue 12 item 13, threat: rotation reviving a dead key under a new secret."""
    key_id, _token = issue(engine)
    with work(engine) as s:
        revoke_api_key(s, key_id)
    with pytest.raises(Conflict, match="is revoked"), work(engine) as s:
        rotate_api_key(s, key_id)
    key_id, _token = issue(engine)
    with work(engine) as s:
        s.get(ApiKey, key_id).expires_at = datetime.now(UTC) - timedelta(minutes=1)
    with pytest.raises(Conflict, match="is expired"), work(engine) as s:
        rotate_api_key(s, key_id)


def test_last_use_is_recorded_at_most_once_a_minute_and_not_audited(engine):
    """Issue 12 item 13, threat: every request becoming a write that contends on SQLite."""
    api = client(engine)
    key_id, token = issue(engine)
    created = stored(engine, key_id)
    assert created.last_used_at is None
    assert api.get(PROBE, headers=bearer(token)).status_code == 200
    first = stored(engine, key_id).last_used_at
    assert first is not None
    assert api.get(PROBE, headers=bearer(token)).status_code == 200
    after = stored(engine, key_id)
    assert after.last_used_at == first  # not rewritten within the minute
    assert after.updated_at == created.updated_at  # a use is not a change
    assert [e.action for e in key_events(engine, key_id)] == ["create"]
    with work(engine) as s:
        soon = as_utc(first) + LAST_USED_RESOLUTION - timedelta(seconds=1)
        assert record_use(s, key_id, soon) is False
        assert record_use(s, key_id, as_utc(first) + LAST_USED_RESOLUTION) is True
    listed = api.get(f"{KEYS}/{key_id}", headers=key(engine, Role.ADMIN)).json()
    later = (as_utc(first) + LAST_USED_RESOLUTION).astimezone()
    assert datetime.fromisoformat(listed["last_used_at"]) == later


@pytest.mark.parametrize("role", [r for r in Role if r not in (Role.ADMIN, Role.CARRIER,
                                                                Role.FACILITY_LEAD)])
def test_only_administrators_manage_keys(engine, role):
    """Issue 12 item 13, threat: a non-admin key listing, minting or revoking keys (403)."""
    api = client(engine)
    other = key(engine, role)
    target, _token = issue(engine)
    calls = [api.get(KEYS, headers=other), api.get(f"{KEYS}/{target}", headers=other),
             api.post(KEYS, headers=other, json={"name": "x", "role": "admin"}),
             api.post(f"{KEYS}/{target}/revoke", headers=other),
             api.post(f"{KEYS}/{target}/rotate", headers=other)]
    assert [c.status_code for c in calls] == [403] * 5
    assert all(c.json()["error"]["rule"] == "users:manage" for c in calls)
    assert stored(engine, target).revoked_at is None
    with work(engine) as s:
        assert s.scalar(select(ApiKey.id).where(ApiKey.name == "x")) is None


def test_tenant_keys_cannot_manage_keys(engine):
    """Issue 12 item 13: carrier and facility-lead keys get 403 too, never another tenant's."""
    world = build_world(engine)
    api = client(engine)
    for headers in (key(engine, Role.CARRIER, carrier_id=world.independent),
                    key(engine, Role.FACILITY_LEAD, facility_id=world.facility_b1)):
        assert api.get(KEYS, headers=headers).status_code == 403
        assert api.post(f"{KEYS}/1/revoke", headers=headers).status_code == 403


def test_key_ids_are_bounded_and_unknown_ones_are_404(engine):
    """Issue 12 item 13: ids in paths cannot overflow a database integer."""
    api = client(engine)
    admin = key(engine, Role.ADMIN)
    assert api.get(f"{KEYS}/{2**31}", headers=admin).status_code == 422
    assert api.post(f"{KEYS}/0/revoke", headers=admin).status_code == 422
    missing = api.post(f"{KEYS}/999/rotate", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["record"] == "api_key"


@pytest.fixture
def cli(engine, monkeypatch):
    """The `ekita-hub users` commands on the test database, through typer's runner."""
    from ekita.hub.cli.main import app

    monkeypatch.setenv("EKITA_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["users", *args], env={"COLUMNS": "200"})


def test_cli_create_list_revoke_rotate(engine, cli):
    """Issue 12 item 13: `ekita-hub users create|list|revoke|rotate` for administrators."""
    made = cli("create", "--role", "zvs", "--name", "ZVS Meier", "--expires", "2031-12-31")
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    with work(engine) as s:
        first = s.scalars(select(ApiKey)).one()
        assert authenticate(s, token).role == Role.ZVS
    assert as_utc(first.expires_at) == datetime(2031, 12, 31, 23, tzinfo=UTC)
    listed = cli("list", "--json")
    assert listed.exit_code == 0
    [item] = json.loads(listed.stdout)
    assert item["name"] == "ZVS Meier" and item["expires_at"] == "2032-01-01T00:00:00+01:00"
    assert token.split("_", 2)[2] not in listed.stdout and first.secret_hash not in listed.stdout
    table = cli("list")
    assert "ZVS Meier" in table.stdout and "2032-01-01 00:00" in table.stdout
    rotated = cli("rotate", str(first.id))
    assert rotated.exit_code == 0, rotated.output
    new_token = rotated.stdout.strip()
    revoked = cli("revoke", str(first.id + 1), "--reason", "Dienstende")
    assert revoked.exit_code == 0 and f"key {first.id + 1} revoked" in revoked.stderr
    with work(engine) as s:
        assert authenticate(s, token) is None and authenticate(s, new_token) is None
        keys = list(s.scalars(select(ApiKey).order_by(ApiKey.id)))
    assert [k.rotated_from for k in keys] == [None, first.id]
    assert keys[1].revoke_reason == "Dienstende" and keys[1].revoked_by.startswith("cli:")
    events = [e for k in keys for e in key_events(engine, k.id) if e.action == "update"]
    assert {e.actor for e in events} == {keys[1].revoked_by} and len(events) == 2


def test_cli_days_and_bad_input(engine, cli):
    """Issue 12 item 13: `--days N`; `--expires` with `--days`, or a bad date, is refused."""
    made = cli("create", "--role", "ops", "--days", "30")
    assert made.exit_code == 0, made.output
    with work(engine) as s:
        ends = as_utc(s.scalars(select(ApiKey)).one().expires_at)
    assert timedelta(days=29, hours=23) < ends - datetime.now(UTC) <= timedelta(days=30)
    assert cli("create", "--role", "ops", "--days", "3", "--expires", "2031-01-01").exit_code == 2
    assert cli("create", "--role", "ops", "--expires", "31.12.2031").exit_code == 2
    again = cli("revoke", "999")
    assert again.exit_code == 1 and "api_key 999 not found" in str(again.exception)


class KeyLifecycle(RuleBasedStateMachine):
    """Issue 12 item 13 as an invariant, threat: any sequence of lifecycle steps leaving a
    dead key alive (or killing a live one): a key authenticates iff it was created, is
    not revoked and has not expired."""

    engine: ClassVar[Engine]
    keys = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[int, str] = {}
        self.live: dict[int, bool] = {}
        self.rotated: set[int] = set()

    def _issued(self, issued) -> int:
        self.tokens[issued.key.id] = issued.token
        self.live[issued.key.id] = True
        return issued.key.id

    @rule(target=keys, role=st.sampled_from([Role.OPS, Role.ZVS, Role.ADMIN, Role.FINANCE]),
          days=st.none() | st.integers(1, 400))
    def create(self, role: Role, days: int | None) -> int:
        expires = None if days is None else datetime.now(UTC) + timedelta(days=days)
        with work(self.engine) as s:
            return self._issued(create_api_key(s, name="m", role=role, expires_at=expires))

    @rule(key_id=keys)
    def use(self, key_id: int) -> None:
        with work(self.engine) as s:
            who = authenticate(s, self.tokens[key_id])
            forged = authenticate(s, self.tokens[key_id][:-1] + "x")
        assert (who is not None) == self.live[key_id] and forged is None

    @rule(key_id=keys)
    def revoke(self, key_id: int) -> None:
        with work(self.engine) as s:
            revoke_api_key(s, key_id)
        self.live[key_id] = False

    @rule(key_id=keys)
    def expire(self, key_id: int) -> None:
        with work(self.engine) as s:
            s.get(ApiKey, key_id).expires_at = datetime.now(UTC) - timedelta(seconds=1)
        self.live[key_id] = False

    @rule(target=keys, key_id=keys, grace=st.sampled_from([0, 5]))
    def rotate(self, key_id: int, grace: int):
        if not self.live[key_id] or key_id in self.rotated:
            with pytest.raises(Conflict), work(self.engine) as s:
                rotate_api_key(s, key_id, grace=timedelta(minutes=grace))
            return multiple()
        with work(self.engine) as s:
            new_id = self._issued(rotate_api_key(s, key_id, grace=timedelta(minutes=grace)))
        self.rotated.add(key_id)
        self.live[key_id] = grace > 0  # a grace period leaves the old key working for now
        return new_id

    @invariant()
    def authenticates_iff_live(self) -> None:
        with work(self.engine) as s:
            alive = {i: authenticate(s, t) is not None for i, t in self.tokens.items()}
        assert alive == self.live


def test_key_lifecycle_state_machine(engine):
    """Issue 12 item 13: the lifecycle invariant over create/use/revoke/rotate/expire."""
    KeyLifecycle.engine = engine
    run_state_machine_as_test(KeyLifecycle, settings=settings(
        max_examples=25, stateful_step_count=12, deadline=None))
