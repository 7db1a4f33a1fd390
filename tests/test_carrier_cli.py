"""The exchange commands (issue 5 must-have 7): export carrier, import carrier with
--dry-run and --profile, export octoware --month; errors as one line, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from ekita.core.models.carrier_exchange import CarrierImportReport
from ekita.core.models.contracts import CareContract
from ekita.core.models.exchange import InboxEntry, OutboxMessage
from ekita.plugins.carrier_export import render
from ekita.plugins.carrier_export.profile import load_profile
from tests.carrier_kit import rows_of_carrier, world_with_recipient
from tests.conftest import work
from tests.delivery_kit import url_of


def _cli(engine, tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "ekita.toml"
    config.write_text(f'[adapters.carrier_export.settings]\ndrop_dir = "{tmp_path}"\n'
                      f'[adapters.octoware.settings]\ndrop_dir = "{tmp_path}"\n')
    env = {**os.environ, "EKITA_DATABASE_URL": url_of(engine), "EKITA_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "ekita.hub.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_export_import_and_octoware_commands(engine, tmp_path):
    """Issue 5 must-have 7 (Lastenheft 3.8, 3.19): the three commands end to end."""
    world = world_with_recipient(engine)
    done = _cli(engine, tmp_path, "export", "carrier", str(world.independent), "--full")
    assert done.returncode == 0, done.stderr
    assert "4 records queued" in done.stdout
    profile = load_profile("example-semicolon-de")
    rows = rows_of_carrier(engine, world.independent)
    rows[0]["daily_hours"] = "6.50"
    file = tmp_path / "in.csv"
    file.write_bytes(render(rows, profile, {})[0])
    dry = _cli(engine, tmp_path, "import", "carrier", str(world.independent), str(file),
               "--profile", "example-semicolon-de", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["updated"] == 1
    with work(engine) as s:
        assert str(s.get(CareContract, int(rows[0]["contract_ref"])).daily_hours) == "9.00"
    real = _cli(engine, tmp_path, "import", "carrier", str(world.independent), str(file),
                "--profile", "example-semicolon-de")
    assert "updated: 1" in real.stdout, real.stderr
    octo = _cli(engine, tmp_path, "export", "octoware", "--month", "2026-11")
    assert octo.returncode == 0 and "queued" in octo.stdout
    with work(engine) as s:
        ops = sorted(s.scalars(select(OutboxMessage.adapter)).all())
    assert ops == ["carrier_export", "octoware"]
    unknown = _cli(engine, tmp_path, "export", "carrier", "9999")
    assert unknown.returncode == 1 and "carrier 9999 not found" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_import_over_the_cap_is_refused_before_reading(engine, tmp_path):
    """issue 12 item 6: a carrier file over ``input_caps.carrier_file`` is refused by the
    CLI with one line naming the size rule, and nothing is applied."""
    world = world_with_recipient(engine)
    file = tmp_path / "huge.csv"
    file.write_bytes(b"x" * 5000)
    config = tmp_path / "caps.toml"
    config.write_text("[input_caps]\ncarrier_file = 4096\n")
    env = {**os.environ, "EKITA_DATABASE_URL": url_of(engine), "EKITA_CONFIG": str(config)}
    done = subprocess.run([sys.executable, "-m", "ekita.hub.cli.main", "import", "carrier",
                           str(world.independent), str(file), "--profile", "hub-csv"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "larger than" in done.stderr and "size" in done.stderr
    assert "Traceback" not in done.stderr
    with work(engine) as s:
        assert s.scalars(select(InboxEntry)).all() == []
        assert s.scalars(select(CarrierImportReport)).all() == []
