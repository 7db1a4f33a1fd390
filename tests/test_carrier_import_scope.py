"""Carrier imports act as the carrier, import dedup and report visibility (issue 12 items 2,
6 and 12; interfaces.md §9; data-protection R1, R2).

The threats: a carrier's file that names another carrier's child takes it over (a new
contract, then read access to the child and its guardians); quarantine messages that tell
"unknown PKN" from "birth date differs" let a dry run probe other tenants; audit rows that
name the exchange instead of the carrier; import reports read by roles that must not see
names; a corrected re-import refused as a duplicate; report lists loading every body.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from ekita.core.errors import Forbidden
from ekita.core.models.audit import AuditEvent
from ekita.core.models.carrier_exchange import CarrierImportReport
from ekita.core.models.contracts import CareContract
from ekita.core.models.enums import Role
from ekita.core.models.exchange import InboxEntry
from ekita.core.models.people import Child, ChildGuardian, Guardian, Pkn
from ekita.plugins.carrier_export import render
from ekita.plugins.carrier_export.importer import (
    NO_FACILITY,
    NO_MATCH,
    R_MATCH,
    carrier_principal,
    import_file,
    mapping_version,
)
from ekita.plugins.carrier_export.profile import load_profile
from tests.carrier_kit import rows_of_carrier, world_with_recipient
from tests.conftest import as_role, work

CSV = load_profile("hub-csv")
REPORTS = "/api/v1/adapters/carrier_export/import-reports"


def _file(rows: list[dict], profile=CSV) -> bytes:
    return render(rows, profile, {"carrier": "x"})[0]


def _count(engine, model) -> int:
    with work(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_file_naming_another_carriers_child_does_not_take_it_over(engine):
    """Issue 12 item 2 (threat: cross-tenant takeover): carrier B's file names carrier A's
    children with their right PKN and birth date, at B's own facility. Nothing matches: no
    contract is created (at B or A), B still cannot read the child or its guardians, and
    every row gets the one no-match message."""
    world = world_with_recipient(engine)
    theirs = rows_of_carrier(engine, world.municipal)
    assert theirs and all(r["pkn"] for r in theirs)
    stolen = [{**r, "facility": "KST-B1", "contract_ref": None} for r in theirs]
    by_name = {**theirs[0], "facility": "KST-B1", "contract_ref": None, "pkn": None}
    their_contract = {**theirs[1]}  # A's own contract, A's facility, named by B
    before = _count(engine, CareContract)
    with work(engine) as s:
        report = import_file(s, world.independent, _file([*stolen, by_name, their_contract]),
                             source="takeover.csv", profile=CSV)
    assert report.applied == 0 and report.unchanged == 0
    got = [(q.row, q.field, q.message) for q in report.quarantine]
    n = len(stolen)
    assert got == [*((row, "pkn", NO_MATCH) for row in range(2, n + 2)),
                   (n + 2, "family_name", NO_MATCH), (n + 3, "facility", NO_FACILITY)]
    assert _count(engine, CareContract) == before
    child = world.children[world.facility_m][0]
    with work(engine) as s:
        facilities = set(s.scalars(select(CareContract.facility_id).where(
            CareContract.child_id == child)))
    assert facilities == {world.facility_m}
    with work(engine, as_role(Role.CARRIER, carrier_id=world.independent)) as s:
        assert s.get(Child, child) is None
        assert s.get(Guardian, world.guardians[child]) is None
        assert s.scalars(select(ChildGuardian).where(ChildGuardian.child_id == child)).all() == []


def test_no_match_message_is_the_same_whatever_the_reason(engine):
    """Issue 12 item 2 (threat: a dry run probes other tenants' data): an unknown PKN, the
    PKN of another carrier's child with its right or a wrong birth date, the PKN of an own
    child with a wrong birth date, and the names of children not held all get the same
    field, rule and message; the field follows only the row's own content."""
    world = world_with_recipient(engine)
    own = rows_of_carrier(engine, world.independent)
    theirs = rows_of_carrier(engine, world.municipal)
    with work(engine) as s:
        known = set(s.scalars(select(Pkn.number)))
    template = {**own[0], "contract_ref": None}

    def outcome(row: dict) -> tuple[str, str | None, str, str]:
        with work(engine) as s:
            report = import_file(s, world.independent, _file([row]), source="probe",
                                 profile=CSV, dry_run=True)
        (q,) = report.quarantine
        return q.field, q.value, q.rule, q.message

    unknown = st.from_regex(r"[0-9]{8}", fullmatch=True).filter(lambda p: p not in known)
    other = st.sampled_from(theirs)
    shift = st.integers(min_value=1, max_value=4000)
    variants = st.one_of(
        unknown.map(lambda p: {**template, "pkn": p}),
        other.map(lambda r: {**template, "pkn": r["pkn"], "birth_date": r["birth_date"]}),
        st.tuples(other, shift).map(lambda t: {
            **template, "pkn": t[0]["pkn"], "birth_date": (date.fromisoformat(
                t[0]["birth_date"]) - timedelta(days=t[1])).isoformat()}),
        shift.map(lambda d: {**template, "birth_date": (date.fromisoformat(
            template["birth_date"]) + timedelta(days=d)).isoformat()}),
        other.map(lambda r: {**template, "pkn": None, "family_name": r["family_name"],
                             "first_name": r["first_name"], "birth_date": r["birth_date"]}),
        st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=12).map(
            lambda name: {**template, "pkn": None, "family_name": "X" + name}),
    )

    @settings(max_examples=30, database=None)
    @given(variants)
    def probe(row: dict) -> None:
        field, value, rule, message = outcome(row)
        assert (rule, message) == (R_MATCH, NO_MATCH)
        expected = ("pkn", row["pkn"]) if row["pkn"] else ("family_name", row["family_name"])
        assert (field, value) == expected

    probe()


def test_audit_rows_of_an_import_name_the_carrier_and_the_channel(engine):
    """Issue 12 item 2: every audit row an import writes (bulk hours change, child change
    through the service, new contract) names the carrier's principal and the channel, not
    the exchange or the operator's session."""
    world = world_with_recipient(engine)
    rows = rows_of_carrier(engine, world.independent)
    rows[0]["daily_hours"] = "7.50"  # bulk path
    rows[1]["street"] = "Neue Gasse"  # service path (child)
    start = {**rows[2], "contract_ref": None, "start_date": "2031-08-01"}  # a contract start
    with work(engine) as s:
        last = s.scalar(select(func.max(AuditEvent.id)))
    with work(engine) as s:
        report = import_file(s, world.independent, _file([rows[0], rows[1], start]),
                             source="sftp.csv", profile=CSV, channel="sftp")
    assert (report.updated, report.created) == (2, 1), report.as_text()
    with work(engine) as s:
        written = s.execute(select(AuditEvent.entity, AuditEvent.action, AuditEvent.actor,
                                   AuditEvent.source).where(AuditEvent.id > last)).all()
    assert {(e, a) for e, a, _, _ in written} >= {
        ("care_contract", "update"), ("child", "update"), ("care_contract", "create")}
    assert {(actor, source) for _, _, actor, source in written} == {
        (f"carrier:{world.independent}", "carrier_exchange:sftp")}


def test_the_carriers_own_principal_is_kept_and_other_tenants_are_refused(engine):
    """Issue 12 item 2: an import in the carrier's own unit of work keeps its principal
    (the channel defaults to its source); another carrier or a facility lead cannot import
    a carrier's file, and nothing of it is recorded."""
    world = world_with_recipient(engine)
    rows = rows_of_carrier(engine, world.independent)
    rows[0]["daily_hours"] = "6.00"
    content = _file(rows)
    for intruder in (as_role(Role.CARRIER, carrier_id=world.municipal),
                     as_role(Role.FACILITY_LEAD, facility_id=world.facility_b1),
                     as_role(Role.OPS)):
        with work(engine, intruder) as s, pytest.raises(Forbidden):
            import_file(s, world.independent, content, source="x", profile=CSV)
    assert _count(engine, InboxEntry) == 0 and _count(engine, CarrierImportReport) == 0
    with work(engine) as s:
        last = s.scalar(select(func.max(AuditEvent.id)))
    with work(engine, carrier_principal(world.independent, "api", "key-diakonie")) as s:
        report = import_file(s, world.independent, content, source="x", profile=CSV)
    assert report.updated == 1
    with work(engine) as s:
        assert set(s.execute(select(AuditEvent.actor, AuditEvent.source).where(
            AuditEvent.id > last)).tuples()) == {("key-diakonie", "carrier_exchange:api")}


def _reported(engine, world) -> int:
    rows = rows_of_carrier(engine, world.independent)
    rows[0]["care_type"] = "bogus"
    stranger = {**rows[1], "pkn": None, "contract_ref": None, "family_name": "Geheimname",
                "birth_date": "2021-02-03"}
    with work(engine) as s:
        report = import_file(s, world.independent, _file([*rows, stranger]),
                             source="vis.csv", profile=CSV)
    assert report.status == "partial" and report.id is not None
    return report.id


def test_import_reports_are_readable_per_role(engine):
    """Issue 12 item 2: an import report is readable in full by its carrier, the ZVS and
    administrators; another carrier and a facility lead get 404 and an empty list;
    operators, integrations and the fee office see counts only (no quarantined rows, no
    names, no birth dates)."""
    from tests.api import client, key

    world = world_with_recipient(engine)
    report_id = _reported(engine, world)
    api = client(engine)
    one = f"{REPORTS}/{report_id}"
    full = [key(engine, Role.CARRIER, carrier_id=world.independent), key(engine, Role.ZVS),
            key(engine, Role.ADMIN)]
    for headers in full:
        body = api.get(one, headers=headers).json()
        assert {q["value"] for q in body["quarantine"]} == {"bogus", "Geheimname"}
        assert [r["id"] for r in api.get(REPORTS, headers=headers).json()] == [report_id]
    for headers in (key(engine, Role.CARRIER, carrier_id=world.municipal),
                    key(engine, Role.FACILITY_LEAD, facility_id=world.facility_b1)):
        hidden = api.get(one, headers=headers)
        assert hidden.status_code == 404
        assert hidden.json()["error"]["record"] == "carrier_import_report"
        assert api.get(REPORTS, headers=headers).json() == []
    for role in (Role.OPS, Role.INTEGRATION, Role.FINANCE):
        headers = key(engine, role)
        answer = api.get(one, headers=headers)
        assert answer.status_code == 200
        body = answer.json()
        assert body["counts_only"] is True and "quarantine" not in body
        assert (body["rows_total"], body["quarantined"]) == (5, 2)
        assert "Geheimname" not in answer.text and "2021-02-03" not in answer.text
        assert "bogus" not in answer.text
        listed = api.get(REPORTS, headers=headers)
        assert [r["id"] for r in listed.json()] == [report_id]
        assert "Geheimname" not in listed.text


def test_report_lists_do_not_load_report_bodies(engine):
    """Issue 12 item 6 (threat: a list request loads every stored quarantine): the list
    route selects counts and metadata only; the single-report route loads the body."""
    from tests.api import client, key

    world = world_with_recipient(engine)
    report_id = _reported(engine, world)
    api = client(engine)
    headers = key(engine, Role.ZVS)
    seen: list[str] = []

    def capture(_conn, _cursor, statement, *_args) -> None:
        if "carrier_import_report" in statement:
            seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        listed = api.get(REPORTS, headers=headers).json()
        in_list = list(seen)
        seen.clear()
        body = api.get(f"{REPORTS}/{report_id}", headers=headers).json()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert listed[0]["quarantined"] == 2 and "quarantine" not in listed[0]
    assert in_list and not any("carrier_import_report.report" in q for q in in_list)
    assert any("carrier_import_report.report" in q for q in seen)
    assert len(body["quarantine"]) == 2


def test_a_corrected_profile_applies_a_file_refused_as_duplicate_before(engine):
    """Issue 12 item 12: deduplication keys on content, profile and mapping version. A file
    whose care-type codes the profile did not map is quarantined; the same bytes with the
    corrected profile are applied; the same bytes with the same profile (or a profile that
    differs only in its description) stay duplicates."""
    world = world_with_recipient(engine)
    rows = rows_of_carrier(engine, world.independent)
    for r in rows:
        r["care_type"] = "KG"
    rows[0]["daily_hours"] = "7.50"
    content = _file(rows)
    fixed = CSV.model_copy(update={"value_maps": {"care_type": {"kindergarten": "KG"}}})
    reworded = fixed.model_copy(update={"description": "the same mapping, other words"})
    assert mapping_version(fixed) != mapping_version(CSV)
    assert mapping_version(reworded) == mapping_version(fixed)

    def run(profile):
        with work(engine) as s:
            return import_file(s, world.independent, content, source="kg.csv",
                               profile=profile)

    first = run(CSV)
    assert first.status == "partial" and first.applied == 0
    assert {q.field for q in first.quarantine} == {"care_type"}
    assert run(CSV).status == "duplicate"
    corrected = run(fixed)
    assert (corrected.status, corrected.updated, corrected.unchanged) == ("applied", 1, 3)
    assert run(fixed).status == "duplicate"
    assert run(reworded).status == "duplicate"
    assert run(CSV).status == "duplicate"
    with work(engine) as s:
        assert str(s.get(CareContract, int(rows[0]["contract_ref"])).daily_hours) == "7.50"
        versions = s.scalars(select(CarrierImportReport.mapping_version).order_by(
            CarrierImportReport.id)).all()
    assert versions[0] == mapping_version(CSV) and versions[2] == mapping_version(fixed)


@pytest.mark.slow
def test_cli_import_runs_as_the_carrier(engine, tmp_path):
    """Issue 12 item 2: ``ekita-hub import carrier`` runs in the carrier's unit of work:
    its audit rows say ``carrier:<id>`` and ``carrier_exchange:cli``."""
    from tests.test_carrier_cli import _cli

    world = world_with_recipient(engine)
    rows = rows_of_carrier(engine, world.independent)
    rows[0]["daily_hours"] = "6.50"
    file = tmp_path / "in.csv"
    file.write_bytes(_file(rows))
    with work(engine) as s:
        last = s.scalar(select(func.max(AuditEvent.id)))
    done = _cli(engine, tmp_path, "import", "carrier", str(world.independent), str(file),
                "--profile", "hub-csv")
    assert done.returncode == 0 and "updated: 1" in done.stdout, done.stderr
    with work(engine) as s:
        assert set(s.execute(select(AuditEvent.actor, AuditEvent.source).where(
            AuditEvent.id > last)).tuples()) == {
            (f"carrier:{world.independent}", "carrier_exchange:cli")}
