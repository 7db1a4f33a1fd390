"""The example profile passes the hub's conformance kit, and the hub finds the plugin
through its entry point (issue 5 must-have 5)."""

from __future__ import annotations

from pathlib import Path

from ekita_carrier_example import PROFILE_TOML

from ekita.hub.config import Settings
from ekita.hub.plugins import load_plugins
from ekita.hub.testing import CarrierConformance


class TestExamplePipeLegacy(CarrierConformance):
    profile_toml = PROFILE_TOML
    golden_file = (Path(__file__).parent / "golden.txt").read_bytes()
    golden_rows = [{"family_name": "Müller", "first_name": "Kim", "birth_date": "04/03/2022",
                    "street": "=Hauptstraße", "care_type": "kindergarten",
                    "daily_hours": "9.50", "facility": "KST-B1", "end_date": None}]


def test_hub_discovers_the_plugin_by_entry_point():
    from ekita.plugins.carrier_export import registered_profiles

    loaded = load_plugins(Settings(load_plugins=["carrier_export", "carrier_example"]))
    assert "carrier_example" in loaded.names()
    profile = registered_profiles(loaded.manager.hook)["example-pipe-legacy"]
    assert profile.delimiter == "|" and not profile.verified
