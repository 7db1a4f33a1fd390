"""`ekita-hub billing …` and the scheduled `fees.debit_run` job (fees.md §11.1, S11)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from ekita.core.models.enums import CareType
from ekita.core.models.exchange import RunStatus
from ekita.core.models.fees import DebitRun, ReceivableLine
from ekita.hub.config import Settings
from ekita.hub.delivery.scheduler import run_job
from ekita.hub.plugins import load_plugins
from tests.conftest import work
from tests.delivery_kit import url_of
from tests.test_fees_world import build, family

BERLIN = ZoneInfo("Europe/Berlin")


def _cli(engine, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EKITA_DATABASE_URL": url_of(engine)}
    env.pop("EKITA_CONFIG", None)
    return subprocess.run([str(Path(sys.executable).parent / "ekita-hub"), "billing", *args],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.slow
def test_billing_cli_run_dry_run_rerun_preview(engine):
    """Issue 7 item 6: `billing run --month YYYY-MM [--dry-run]`, `billing preview`,
    a rerun adds nothing; bad input is one line, exit 1."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2010, 8, 1), CareType.KRIPPE, "9")])
    dry = _cli(engine, "run", "--month", "2012-09", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["record_count"] == 1
    with work(engine) as s:
        assert s.scalar(select(func.count()).select_from(ReceivableLine)) == 0
    real = json.loads(_cli(engine, "run", "--month", "2012-09").stdout)
    assert (real["record_count"], real["control_sum_cents"], real["created"]) == (1, 18936, True)
    assert json.loads(_cli(engine, "run", "--month", "2012-09").stdout)["created"] is False
    preview = json.loads(_cli(engine, "preview", "--contract", str(fam.contracts[0]),
                              "--month", "2012-09").stdout)
    assert preview["amount_cents"] == 18936
    bad = _cli(engine, "run", "--month", "2012-13")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "period" in bad.stderr


def test_scheduled_job_runs_on_the_last_day_for_the_next_month(engine):
    """fees.md §11.1, §16 S11 (schedules.md): the job on 31.01.2013 debits 02/2013, puts the
    figures on its JobRun for reconciliation; its default schedule is the last day (cron L)."""
    with work(engine) as s:
        city = build(s)
        family(s, city.kita, [(date(2010, 8, 1), CareType.KRIPPE, "9")])
    settings = Settings(database_url=url_of(engine), load_plugins=["billing_jobs", "sap_fi"])
    plugins = load_plugins(settings)
    job = plugins.jobs["fees.debit_run"]
    assert job.default_schedule == "0 18 L * *"
    run = run_job(engine, settings, plugins, job, datetime(2013, 1, 31, 18, tzinfo=BERLIN),
                  "manual")
    assert run is not None and run.status == RunStatus.SUCCEEDED, run.detail
    with work(engine) as s:
        debit = s.scalar(select(DebitRun))
        assert debit.period == "2013-02"
        assert (run.records_in, run.control_sum_cents) == (1, debit.control_sum_cents)


@pytest.mark.slow
def test_statute_versions_from_the_command_line(engine, tmp_path):
    """fees.md §14.4: `billing statutes add | update | withdraw`; a bad file is one line
    naming the field, exit 1."""
    from ekita.core.services.fees.statutes import DEFAULT_2011

    with work(engine) as s:
        build(s)
    params = json.loads(json.dumps(DEFAULT_2011["params"], default=str))
    params["published"] = {}
    new = tmp_path / "2013.json"
    new.write_text(json.dumps({"name": "Satzung 2013", "valid_from": "2013-09-01",
                               "params": params}))
    added = _cli(engine, "statutes", "add", str(new))
    assert added.returncode == 0, added.stderr
    statute_id = str(json.loads(added.stdout)["id"])
    change = tmp_path / "change.json"
    change.write_text(json.dumps({"name": "Satzung 2013 (berichtigt)"}))
    updated = _cli(engine, "statutes", "update", statute_id, str(change))
    assert json.loads(updated.stdout)["name"] == "Satzung 2013 (berichtigt)"
    change.write_text(json.dumps({"params": {**params, "full9": {"KK": "abc"}}}))
    bad = _cli(engine, "statutes", "update", statute_id, str(change))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "full9" in bad.stderr
    assert _cli(engine, "statutes", "withdraw", statute_id).returncode == 0
    listed = json.loads(_cli(engine, "statutes", "list").stdout)
    assert [(v["valid_from"], v["valid_to"]) for v in listed] == [("2011-09-01", None)]
