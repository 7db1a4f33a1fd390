"""Every built-in carrier profile passes the conformance kit ``ekita.hub.testing``
(issue 5 must-have 5; interfaces.md §9), and the example third-party plugin, installed
as its own distribution, passes it too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ekita.hub.testing import CarrierConformance
from ekita.plugins.carrier_export.profile import load_profile

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
HUB_ROW = {"family_name": "Muster", "first_name": "Kim", "birth_date": "2022-03-04",
           "street": "=Hauptstraße", "care_type": "kindergarten", "daily_hours": "9.50",
           "pkn": "12345601", "facility": "KST-B1"}
DE_ROW = {**HUB_ROW, "birth_date": "04.03.2022", "daily_hours": "9,50", "sex": "f"}


class TestHubCsv(CarrierConformance):
    profile = load_profile("hub-csv")
    golden_file = (GOLDEN / "hub-csv.csv").read_bytes()
    golden_rows = [HUB_ROW]


class TestHubXml(CarrierConformance):
    profile = load_profile("hub-xml")
    golden_file = (GOLDEN / "hub-xml.xml").read_bytes()
    golden_rows = [HUB_ROW]


class TestExampleSemicolonDe(CarrierConformance):
    profile = load_profile("example-semicolon-de")
    golden_file = (GOLDEN / "example-semicolon-de.csv").read_bytes()
    golden_rows = [DE_ROW]


class TestExampleUtf8BomAtomic(CarrierConformance):
    profile = load_profile("example-utf8-bom-atomic")
    golden_file = (GOLDEN / "example-utf8-bom-atomic.csv").read_bytes()
    golden_rows = [HUB_ROW]


class TestExampleXlsx(CarrierConformance):
    profile = load_profile("example-xlsx")
    golden_file = (GOLDEN / "example-xlsx.xlsx").read_bytes()
    golden_rows = [{k: v for k, v in DE_ROW.items() if k != "sex"}]


@pytest.mark.slow
def test_example_plugin_installs_and_passes_the_kit(tmp_path):
    """Issue 5 must-have 5: the example carrier plugin in examples/ is its own installable
    distribution (entry point group ekita.plugins) and its conformance tests pass."""
    example = tmp_path / "carrier_plugin_example"  # a copy: the build leaves files behind
    shutil.copytree(ROOT / "examples" / "carrier_plugin_example", example,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(example)],
                   check=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("EKITA_TEST_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(example), str(example / "tests")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "passed" in done.stdout and "failed" not in done.stdout
