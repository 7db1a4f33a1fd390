"""Carrier export and import (Lastenheft 2.2, 3.8, 3.19; interfaces.md §9)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from ekita.core.errors import NotFound
from ekita.core.models.audit import AuditEvent
from ekita.core.models.contracts import CareContract, ContractTerm
from ekita.core.models.exchange import OutboxMessage, TransferRecord
from ekita.core.services.terms import terms_in
from ekita.core.tracking import today
from ekita.plugins.carrier_export import NAME, export_carrier, render
from ekita.plugins.carrier_export.formats import parse_csv, parse_xml
from ekita.plugins.carrier_export.importer import import_file
from ekita.plugins.carrier_export.profile import load_profile
from tests.carrier_kit import rows_of_carrier, world_with_recipient
from tests.conftest import work
from tests.exchange_kit import deliver_all, file_worker

CSV = load_profile("hub-csv")
DE = load_profile("example-semicolon-de")
XML = load_profile("hub-xml")


def _file(rows, profile=CSV) -> bytes:
    return render(rows, profile, {"carrier": "x"})[0]


def _audit_count(engine) -> int:
    with work(engine) as s:
        return s.scalar(select(func.count()).select_from(AuditEvent))


def test_export_holds_only_the_carriers_own_facilities(engine):
    """interfaces.md §9: export of the carrier's own facilities only (tenant isolation)."""
    world = world_with_recipient(engine)
    rows = rows_of_carrier(engine, world.independent)
    assert {r["facility"] for r in rows} == {"KST-B1", "KST-B2"}
    assert len(rows) == 4
    assert all(r["record_type"] == "contract" and r["daily_hours"] == "9.00" for r in rows)


def test_guardians_only_with_consent_to_transfer(engine):
    """data-protection C3/C7, Lastenheft 3.19 (transfer only after opt-in): children
    without an application carrying consent_transfer_at are exported without guardians."""
    world = world_with_recipient(engine)
    rows = rows_of_carrier(engine, world.independent)
    assert all(not r.get("guardian1_family_name") for r in rows)


def test_export_is_delivered_to_the_drop_dir_and_logged(engine, tmp_path):
    """interfaces.md §2.2/§2.4: enqueue + delivery engine, transfer log with record count."""
    world = world_with_recipient(engine)
    worker = file_worker(engine, NAME, {"drop_dir": str(tmp_path), "profile": "hub-xml"})
    with work(engine) as s:
        queued, count = export_carrier(s, world.independent, XML, full=True)
    assert queued is not None and count == 4
    deliver_all(worker)
    (path,) = (tmp_path / f"carrier-{world.independent}").glob("*.xml")
    parsed = [row for _, row in parse_xml(path.read_bytes())]
    assert len(parsed) == 4
    with work(engine) as s:
        assert s.scalars(select(TransferRecord.record_count)).one() == 4


def test_incremental_export_holds_changes_since_the_acknowledged_export(engine, tmp_path):
    """Issue 5 must-have 1: incremental = changes since the last export the carrier
    acknowledged (cursor per carrier); nothing changed -> nothing sent."""
    world = world_with_recipient(engine)
    worker = file_worker(engine, NAME, {"drop_dir": str(tmp_path)})
    with work(engine) as s:
        export_carrier(s, world.independent, XML, full=True)
    deliver_all(worker)
    with work(engine) as s:
        assert export_carrier(s, world.independent, XML, full=False) == (None, 0)
        child = world.children[world.facility_b1][0]
        from ekita.core.services import people

        people.update_child(s, child, {"street": "Neue Gasse"})
    with work(engine) as s:
        queued, count = export_carrier(s, world.independent, XML, full=False)
    assert queued is not None and count == 1
    with work(engine) as s:
        payload = s.get(OutboxMessage, queued.id).payload
    assert payload["kind"] == "incremental"
    assert payload["records"]["child"]["street"] == ["Neue Gasse"]


@pytest.mark.parametrize("profile", [CSV, DE, XML, load_profile("example-xlsx")],
                         ids=lambda p: p.name)
def test_reimport_of_the_export_changes_nothing(engine, profile):
    """Issue 5 must-have 3: re-importing (an export, the same file) changes nothing."""
    world = world_with_recipient(engine)
    content = _file(rows_of_carrier(engine, world.independent), profile)
    before = _audit_count(engine)
    with work(engine) as s:
        report = import_file(s, world.independent, content, source="a", profile=profile)
    assert (report.status, report.unchanged, report.applied) == ("applied", 4, 0)
    with work(engine) as s:
        again = import_file(s, world.independent, content, source="a", profile=profile)
    assert again.status == "duplicate"
    assert _audit_count(engine) == before


def test_import_applies_changes_and_quarantines_bad_rows(engine):
    """Issue 5 must-have 3: rows validated one by one; a bad row goes to quarantine with
    row number, field, value and rule; good rows are applied (interfaces.md §9)."""
    world = world_with_recipient(engine)
    rows = rows_of_carrier(engine, world.independent)
    rows[0]["end_date"] = "2030-07-31"  # an exit
    rows[1]["daily_hours"] = "7.50"  # a change
    rows[2]["care_type"] = "bogus"
    rows[3]["facility"] = "KST-M1"  # another carrier's facility
    with work(engine) as s:
        report = import_file(s, world.independent, _file(rows), source="f.csv", profile=CSV)
    assert (report.status, report.updated) == ("partial", 2)
    got = {(q.row, q.field, q.value) for q in report.quarantine}
    assert got == {(4, "care_type", "bogus"), (5, "facility", "KST-M1")}
    assert any("another carrier" in q.message for q in report.quarantine)
    with work(engine) as s:
        contract = s.get(CareContract, int(rows[1]["contract_ref"]))
        assert str(contract.daily_hours) == "7.50"
        audit = s.scalars(select(AuditEvent).where(
            AuditEvent.entity == "care_contract", AuditEvent.entity_id == contract.id,
            AuditEvent.action == "update")).one()  # every change audited (3.14.3)
        assert audit.changes == {"daily_hours": ["9.00", "7.50"]}
        # issue 13 item 1: the fee engine reads the terms, so the bulk path keeps them
        day = today()
        (term,) = terms_in(s, day, day, [contract.id])[contract.id]
        assert str(term.daily_hours) == "7.50"
        stored = s.scalars(select(ContractTerm).where(
            ContractTerm.contract_id == int(rows[0]["contract_ref"]))
            .order_by(ContractTerm.valid_from)).all()
        assert stored[-1].valid_to == date(2030, 7, 31)  # the exit closes the last term
    data = json.loads(json.dumps(report.as_dict()))
    assert data["quarantined"] == 2 and "row 4, field care_type" in report.as_text()


def test_atomic_profile_refuses_the_whole_file(engine):
    """Issue 5 must-have 3: a profile may demand whole-file atomicity."""
    world = world_with_recipient(engine)
    atomic = load_profile("example-utf8-bom-atomic")
    rows = rows_of_carrier(engine, world.independent)
    rows[0]["daily_hours"] = "7.50"
    rows[1]["care_type"] = "bogus"
    before = _audit_count(engine)
    with work(engine) as s:
        report = import_file(s, world.independent, _file(rows, atomic), source="x",
                             profile=atomic)
    assert report.status == "refused" and report.applied == 0
    assert _audit_count(engine) == before


def test_child_matching_ambiguous_and_unknown_go_to_quarantine(engine):
    """Issue 5 must-have 3 (documented matching rule): no child is ever duplicated;
    unknown and ambiguous matches are quarantined, a PKN decides. The twin is one of the
    carrier's own children (issue 12 item 2: matching sees only the carrier's scope)."""
    world = world_with_recipient(engine)
    rows = rows_of_carrier(engine, world.independent)
    from decimal import Decimal

    from ekita.core.models.enums import CareType, PayerKind
    from ekita.core.services import contracts, people

    with work(engine) as s:
        twin = rows[0]
        fam = people.create_family(s, {})
        child = people.create_child(s, {"family_id": fam.id, "family_name": twin["family_name"],
                                        "first_name": twin["first_name"],
                                        "birth_date": date.fromisoformat(twin["birth_date"])})
        parent = people.create_guardian(s, {"family_id": fam.id, "family_name": "Zwilling",
                                            "first_name": "Elter"})
        people.link_guardian(s, child.id, {"guardian_id": parent.id})
        contracts.create_contract(s, {
            "child_id": child.id, "facility_id": world.facility_b2,
            "care_type": CareType.KINDERGARTEN, "start_date": date(2020, 1, 1),
            "daily_hours": Decimal("9"), "payer_guardian_id": parent.id,
            "payer_kind": PayerKind.DIRECT_DEBIT})
    ambiguous = {**rows[0], "pkn": None, "contract_ref": None}
    unknown = {**rows[1], "family_name": "Niemand", "pkn": None}
    by_pkn = {**rows[0]}
    with work(engine) as s:
        report = import_file(s, world.independent, _file([ambiguous, unknown, by_pkn]),
                             source="m", profile=CSV)
    messages = {q.row: q.message for q in report.quarantine}
    assert "ambiguous" in messages[2] and "no child" in messages[3]
    assert report.unchanged == 1
    with work(engine) as s:
        assert s.scalar(select(func.count()).select_from(CareContract)) == 7


def test_duplicate_rows_and_bad_files_give_report_entries(engine):
    """Issue 5 "Bad input": empty, header-only, duplicate rows, wrong encoding, unknown
    columns, unknown carrier: each a clear report entry, nothing half-applied."""
    world = world_with_recipient(engine)
    rows = rows_of_carrier(engine, world.independent)
    changed = {**rows[0], "daily_hours": "8.00"}

    def run(content: bytes, profile=CSV):
        with work(engine) as s:
            return import_file(s, world.independent, content, source="b", profile=profile)

    dup = run(_file([changed, changed]))
    assert dup.updated == 1 and dup.quarantine[0].message == "duplicate of row 2"
    assert run(b"").quarantine[0].message == "the file is empty"
    header = _file([]).replace(b"\r\n", b"\n")
    assert "no rows" in run(header).quarantine[0].message
    cp = _file([rows[1]]) + "Müller,\n".encode("cp1252")
    refused = run(cp)
    assert refused.status == "refused" and refused.quarantine[0].row == 3
    assert refused.quarantine[0].field == "encoding"
    extra = _file([rows[1]]).replace(b"record_type,", b"bogus,record_type,", 1)
    assert "unknown column" in run(extra).quarantine[0].message
    with work(engine) as s, pytest.raises(NotFound):
        import_file(s, 999, _file([rows[1]]), source="b", profile=CSV)


def test_dry_run_reports_and_changes_nothing(engine):
    """Issue 5 must-have 7: --dry-run reports what would change and changes nothing."""
    world = world_with_recipient(engine)
    rows = rows_of_carrier(engine, world.independent)
    rows[0]["daily_hours"] = "6.00"
    before = _audit_count(engine)
    with work(engine) as s:
        report = import_file(s, world.independent, _file(rows), source="d", profile=CSV,
                             dry_run=True)
    assert report.updated == 1 and report.dry_run
    assert _audit_count(engine) == before
    with work(engine) as s:  # not recorded in the inbox either: the real run applies it
        real = import_file(s, world.independent, _file(rows), source="d", profile=CSV)
    assert real.updated == 1


def test_csv_round_trip_keeps_values(engine):
    """Issue 5 must-have 2: CSV through a profile (value maps, sep= line, cp1252,
    decimal comma) parses back to the hub's values."""
    world = world_with_recipient(engine)
    rows = rows_of_carrier(engine, world.independent)
    content = _file(rows, DE)
    assert content.startswith(b"sep=;\r\n")
    parsed = [r for _, r in parse_csv(content, DE)]
    assert [p["care_type"] for p in parsed] == [r["care_type"] for r in rows]
    assert parsed[0]["daily_hours"] == "9,00" and parsed[0]["birth_date"].count(".") == 2


def test_import_report_via_the_api_and_carrier_isolation(engine):
    """Issue 5 must-have 3: the import report is also available via the API; a carrier's
    staff see only their own carrier's reports (interfaces.md §9, tenant isolation)."""
    from ekita.core.models.enums import Role
    from tests.api import client, key

    world = world_with_recipient(engine)
    rows = rows_of_carrier(engine, world.independent)
    rows[0]["care_type"] = "bogus"
    with work(engine) as s:
        report = import_file(s, world.independent, _file(rows), source="api.csv", profile=CSV)
    api = client(engine)
    own = key(engine, Role.CARRIER, carrier_id=world.independent)
    body = api.get(f"/api/v1/adapters/carrier_export/import-reports/{report.id}",
                   headers=own).json()
    assert body["quarantine"][0] == {"row": 2, "field": "care_type", "value": "bogus",
                                     "rule": "data-model.md §4: care types (value map)",
                                     "message": "unknown care type"}
    other = key(engine, Role.CARRIER, carrier_id=world.municipal)
    hidden = api.get(f"/api/v1/adapters/carrier_export/import-reports/{report.id}",
                     headers=other)
    assert hidden.status_code == 404
    listed = api.get("/api/v1/adapters/carrier_export/import-reports", headers=other).json()
    assert listed == []
