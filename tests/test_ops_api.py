"""The ops API, metrics and CLI (issue 4 item 9)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from ekita.core.models.enums import Role
from ekita.core.models.exchange import OutboxMessage
from ekita.core.outbox import declare_recipient
from ekita.hub.api.app import create_app
from ekita.hub.plugins import load_plugins
from ekita.hub.testkit.adapters import DECLARED, NAME, PLUGIN, settings_for
from tests.api import key
from tests.conftest import work
from tests.delivery_kit import deliver_all, make_worker, peer, put, url_of


@pytest.fixture
def api(engine):
    from fastapi.testclient import TestClient

    declare_recipient(NAME, DECLARED)
    settings = settings_for(url_of(engine), "http://127.0.0.1:9")
    settings.adapters[NAME].schedules["ping"] = "0 3 * * *"
    return TestClient(create_app(settings, engine, load_plugins(settings, [PLUGIN])))


def _dead_and_delivered(engine) -> tuple[int, int]:
    dead, ok = put(engine, 2)
    with peer() as p:
        p.fail(1, status=400, keys=[f"{NAME}:notice:k0"])
        deliver_all(make_worker(engine, p))
    return dead, ok


def test_operators_see_messages_attempts_and_dead_letters_without_payload_values(engine, api):
    """Issue 4.9; data-protection: operators see field names and checksums, not values."""
    with work(engine) as s:
        from ekita.core.outbox import enqueue

        enqueue(s, adapter=NAME, operation="child", business_key="c1",
                payload={"family_name": "Müller", "birth_date": "2024-05-01"})
        s.commit()
    dead, _ok = _dead_and_delivered(engine)
    ops = key(engine, Role.OPS)
    listing = api.get("/api/v1/ops/messages", params={"status": "delivered"}, headers=ops)
    assert listing.status_code == 200 and len(listing.json()) == 2
    dead_letters = api.get("/api/v1/ops/dead-letters", headers=ops).json()
    assert [m["id"] for m in dead_letters] == [dead]
    (child,) = api.get("/api/v1/ops/messages", params={"operation": "child"},
                       headers=ops).json()
    detail = api.get(f"/api/v1/ops/messages/{child['id']}", headers=ops)
    assert detail.status_code == 200
    body = detail.json()
    assert body["payload"]["fields"] == ["birth_date", "family_name"]
    assert "Müller" not in detail.text
    assert [a["outcome"] for a in body["attempts"]] == ["delivered"]
    assert body["transfers"][0]["dataset"] == f"{NAME}.child"
    assert api.get("/api/v1/ops/messages/999999", headers=ops).status_code == 404


def test_replay_through_the_api_needs_the_ops_role(engine, api):
    """Issue 4.5: replay by id through the API, audited; other roles are refused."""
    dead, _ok = _dead_and_delivered(engine)
    refused = api.post("/api/v1/ops/replay", json={"ids": [dead]},
                       headers=key(engine, Role.ZVS))
    assert refused.status_code == 403
    answer = api.post("/api/v1/ops/replay", json={"ids": [dead]}, headers=key(engine, Role.OPS))
    assert answer.status_code == 200 and answer.json() == {"requeued": 1}
    bad = api.post("/api/v1/ops/replay", json={}, headers=key(engine, Role.OPS))
    assert bad.status_code == 422 and "ids" in bad.text
    with work(engine) as s:
        assert s.get_one(OutboxMessage, dead).status == "pending"


def test_job_runs_schedules_adapters_and_metrics(engine, api):
    """Issue 4.7 and 4.9: reconciliation, schedules, adapter health, Prometheus metrics."""
    _dead_and_delivered(engine)
    ops = key(engine, Role.OPS)
    (schedule,) = api.get("/api/v1/ops/schedules", headers=ops).json()
    assert schedule["job"] == f"{NAME}.ping" and schedule["last_run"] is None
    assert schedule["next_run"]
    health = {a["adapter"]: a for a in api.get("/api/v1/ops/adapters", headers=ops).json()}
    assert health[NAME]["messages"] == {"dead": 1, "delivered": 1}
    assert health[NAME]["checks"] == []  # the sandbox adapter has no peer check
    assert api.get("/api/v1/ops/job-runs", headers=ops).json() == []
    metrics = api.get("/metrics", headers=ops)
    assert metrics.status_code == 200
    text = metrics.text
    assert f'ekita_outbox_messages{{adapter="{NAME}",status="dead"}} 1.0' in text
    assert f'ekita_dead_letters{{adapter="{NAME}"}} 1.0' in text
    assert f'ekita_delivery_latency_seconds_count{{adapter="{NAME}"}} 1.0' in text
    assert api.get("/metrics").status_code == 401
    assert api.get("/metrics", headers=key(engine, Role.ZVS)).status_code == 403


def test_ops_cli_lists_replays_and_reports(engine, tmp_path):
    """Issue 4.9: CLI equivalents under `ekita-hub ops`."""
    dead, _ok = _dead_and_delivered(engine)
    env = {**os.environ, "EKITA_DATABASE_URL": url_of(engine)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ekita.hub.cli.main", *args], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)

    listing = cli("ops", "dead")
    assert listing.returncode == 0 and str(dead) in listing.stdout
    replayed = cli("ops", "replay", str(dead))
    assert replayed.returncode == 0 and "re-queued 1" in replayed.stdout
    again = cli("ops", "replay", str(dead))
    assert again.returncode == 1 and "not dead or delivered" in again.stderr
    assert "Traceback" not in again.stderr
    assert cli("ops", "health").returncode == 0
    assert cli("ops", "runs").returncode == 0
    with work(engine) as s:
        assert s.scalars(select(OutboxMessage.status).where(
            OutboxMessage.id == dead)).one() == "pending"
