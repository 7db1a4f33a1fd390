"""Conformance kit for carrier exchange profiles, in the spirit of Airbyte's acceptance
tests (issue 5 must-have 5). Usage in a plugin's tests::

    from ekita.hub.testing import CarrierConformance

    class TestMyProfile(CarrierConformance):
        profile_toml = MY_TOML            # or: profile = a Profile
        golden_file = b"..."              # a file in the profile's format
        golden_rows = [{"family_name": "Muster", ...}]  # what it must read as
        bad_settings = ['delimiter = ";;"']  # TOML lines the config model must refuse

The tests: the config model accepts the profile and refuses bad settings; the golden
file yields the expected records; export then import round-trips losslessly; re-import
is idempotent; malformed rows are quarantined, not fatal; tenant isolation holds.
Each test runs on its own copy of a migrated SQLite database with a small city
(``KitWorld``): two carriers, three facilities, children with guardians and contracts.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine, func, select

from ekita.core.access import Principal
from ekita.core.db.migrate import upgrade
from ekita.core.db.session import make_engine, unit_of_work
from ekita.core.errors import RuleViolation
from ekita.core.models.audit import AuditEvent
from ekita.core.models.enums import (
    CareType,
    CarrierCategory,
    CarrierType,
    LegalForm,
    PayerKind,
)

KIT = Principal.system("conformance", "kit")
START = date(2024, 8, 1)


@dataclass
class KitWorld:
    """Ids of the kit's small city."""

    carrier: int  # the carrier under test
    other: int  # another carrier, for tenant isolation
    own_facilities: list[str]  # cost centres of the carrier under test
    other_facility: str


def build_kit_world(engine: Engine) -> KitWorld:
    from ekita.core.services import contracts, masterdata, people

    with unit_of_work(engine, KIT) as s:
        carriers = [masterdata.create_carrier(s, {
            "name": name, "category": CarrierCategory.INDEPENDENT,
            "carrier_type": CarrierType.DIAKONIE,
            "legal_form": LegalForm.GEMEINNUETZIGER_VEREIN}) for name in ("Kit A", "Kit B")]
        facilities = []
        for n, (carrier, cost_centre) in enumerate([(carriers[0], "KIT-A1"),
                                                   (carriers[0], "KIT-A2"),
                                                   (carriers[1], "KIT-B1")]):
            facility = masterdata.create_facility(s, {
                "carrier_id": carrier.id, "name": f"Kita {cost_centre}",
                "cost_centre": cost_centre, "street": "Weg", "house_no": str(n + 1),
                "postcode": "01067", "stadtteil_nr": "01"})
            for care_type in (CareType.KRIPPE, CareType.KINDERGARTEN):
                masterdata.add_care_offer(s, facility.id, {
                    "care_type": care_type, "approved_places": 40, "valid_from": START})
            facilities.append(facility)
        for n, facility in enumerate(facilities * 2):
            family = people.create_family(s, {})
            child = people.create_child(s, {
                "family_id": family.id, "family_name": f"Kitkind{n}",
                "first_name": "Ann" if n % 2 else "Ben", "birth_date": date(2021, 1, 1 + n),
                "street": "Lindenweg", "house_no": str(n), "postcode": "01069",
                "town": "Dresden"})
            guardian = people.create_guardian(s, {
                "family_id": family.id, "family_name": f"Kitkind{n}", "first_name": "Eli"})
            people.link_guardian(s, child.id, {"guardian_id": guardian.id})
            contracts.create_contract(s, {
                "child_id": child.id, "facility_id": facility.id,
                "care_type": CareType.KINDERGARTEN, "start_date": START,
                "daily_hours": Decimal("9"), "payer_guardian_id": guardian.id,
                "payer_kind": PayerKind.DIRECT_DEBIT})
    return KitWorld(carriers[0].id, carriers[1].id, ["KIT-A1", "KIT-A2"], "KIT-B1")


class CarrierConformance:
    """Acceptance tests for one carrier profile; subclass as ``Test…`` and configure."""

    profile_toml: ClassVar[str | None] = None
    profile: ClassVar[Any] = None
    golden_file: ClassVar[bytes | None] = None
    golden_rows: ClassVar[list[dict[str, str]]] = []
    bad_settings: ClassVar[list[str]] = ['delimiter = "ab"', 'encoding = "ebcdic"',
                                         'unknown_columns = "maybe"']

    # ------------------------------------------------------------ fixtures

    @pytest.fixture(scope="class")
    def kit_template(self, tmp_path_factory: pytest.TempPathFactory) -> Path:
        path = tmp_path_factory.mktemp("kit") / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        return path

    @pytest.fixture
    def kit_engine(self, kit_template: Path, tmp_path: Path) -> Iterator[Engine]:
        from ekita.core.outbox import declare_recipient
        from ekita.plugins.carrier_export import NAME
        from ekita.plugins.carrier_export.records import PERSONAL

        target = tmp_path / "kit.db"
        shutil.copy(kit_template, target)
        engine = make_engine(f"sqlite:///{target}")
        declare_recipient(NAME, PERSONAL)
        yield engine
        engine.dispose()

    @pytest.fixture
    def kit_world(self, kit_engine: Engine) -> KitWorld:
        return build_kit_world(kit_engine)

    # ------------------------------------------------------------ helpers

    def the_profile(self) -> Any:
        from ekita.plugins.carrier_export.profile import parse_profile

        if self.profile is not None:
            return self.profile
        assert self.profile_toml, "set profile_toml or profile"
        return parse_profile(self.profile_toml, type(self).__name__)

    def export_file(self, engine: Engine, world: KitWorld, edit: Any = None) -> bytes:
        from ekita.plugins.carrier_export import render
        from ekita.plugins.carrier_export.export import collect

        with unit_of_work(engine, KIT) as s:
            rows = collect(s, world.carrier)
        if edit is not None:
            edit(rows)
        return render(rows, self.the_profile(), {"carrier": str(world.carrier)})[0]

    def import_(self, engine: Engine, world: KitWorld, content: bytes, **kw: Any) -> Any:
        from ekita.plugins.carrier_export.importer import import_file

        with unit_of_work(engine, KIT) as s:
            return import_file(s, world.carrier, content, source="kit", profile=self.the_profile(),
                               **kw)

    @staticmethod
    def audit_count(engine: Engine) -> int:
        with unit_of_work(engine, KIT) as s:
            return int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)

    # ------------------------------------------------------------ the tests

    def test_config_accepts_the_profile_and_refuses_bad_settings(self) -> None:
        from ekita.plugins.carrier_export.profile import parse_profile

        profile = self.the_profile()
        assert not profile.verified or profile.verified_by, "verified needs verified_by"
        base = f'name = "{profile.name}"\nformat = "{profile.format}"\n'
        for line in self.bad_settings:
            with pytest.raises(RuleViolation):
                parse_profile(base + line + "\n", "bad setting")

    def test_golden_file_yields_the_expected_records(self) -> None:
        from ekita.plugins.carrier_export.importer import rows_of

        if self.golden_file is None:
            pytest.fail("set golden_file and golden_rows")
        read = [row for _, row in rows_of(self.golden_file, self.the_profile())]
        assert len(read) == len(self.golden_rows)
        for got, want in zip(read, self.golden_rows, strict=True):
            assert {k: got.get(k) for k in want} == want

    def test_export_then_import_round_trips_losslessly(self, kit_engine: Engine,
                                                       kit_world: KitWorld) -> None:
        from ekita.plugins.carrier_export.export import collect
        from ekita.plugins.carrier_export.importer import rows_of

        with unit_of_work(kit_engine, KIT) as s:
            original = collect(s, kit_world.carrier)
        content = self.export_file(kit_engine, kit_world)
        rows = [r for _, r in rows_of(content, self.the_profile())]
        text_fields = [f for f in ("family_name", "first_name", "street", "house_no",
                                   "facility", "care_type", "sex", "pkn")
                       if f in self.the_profile().columns]
        assert [{f: r.get(f) or None for f in text_fields} for r in rows] == [
            {f: o.get(f) or None for f in text_fields} for o in original]
        before = self.audit_count(kit_engine)
        report = self.import_(kit_engine, kit_world, content)
        assert report.quarantine == [] and report.applied == 0
        assert report.unchanged == len(rows) == 4
        assert self.audit_count(kit_engine) == before

    def test_reimport_is_idempotent(self, kit_engine: Engine, kit_world: KitWorld) -> None:
        def change(rows: list[dict[str, Any]]) -> None:
            rows[0]["end_date"] = "2031-07-31"

        content = self.export_file(kit_engine, kit_world, change)
        first = self.import_(kit_engine, kit_world, content)
        assert first.updated == 1 and first.quarantine == []
        after_first = self.audit_count(kit_engine)
        assert self.import_(kit_engine, kit_world, content).status == "duplicate"
        other_bytes = self.export_file(kit_engine, kit_world,  # same facts, other bytes
                                       lambda rows: rows.reverse())
        assert other_bytes != content
        again = self.import_(kit_engine, kit_world, other_bytes)
        assert again.applied == 0 and again.unchanged == 4
        assert self.audit_count(kit_engine) == after_first

    def test_malformed_rows_are_quarantined_not_fatal(self, kit_engine: Engine,
                                                      kit_world: KitWorld) -> None:
        def spoil(rows: list[dict[str, Any]]) -> None:
            rows[0]["daily_hours"] = "7.50"
            rows[1]["care_type"] = "no-such-care"
            rows[2]["daily_hours"] = "12.00"  # above the tier range (Anlage B §4)

        report = self.import_(kit_engine, kit_world, self.export_file(kit_engine, kit_world,
                                                                      spoil))
        fields = sorted(q.field for q in report.quarantine)
        assert fields == ["care_type", "daily_hours"]
        assert all(q.row > 1 and q.rule for q in report.quarantine)
        if self.the_profile().atomic:
            assert report.status == "refused" and report.applied == 0
        else:
            assert report.status == "partial" and report.updated == 1

    def test_tenant_isolation(self, kit_engine: Engine, kit_world: KitWorld) -> None:
        from ekita.plugins.carrier_export.export import collect

        with unit_of_work(kit_engine, KIT) as s:
            exported = {r["facility"] for r in collect(s, kit_world.carrier)}
        assert exported == set(kit_world.own_facilities)

        def steal(rows: list[dict[str, Any]]) -> None:
            rows[0]["facility"] = kit_world.other_facility

        report = self.import_(kit_engine, kit_world, self.export_file(kit_engine, kit_world,
                                                                      steal))
        assert [q.field for q in report.quarantine] == ["facility"]
        assert "another carrier" in report.quarantine[0].message
