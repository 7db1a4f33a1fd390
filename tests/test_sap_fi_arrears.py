"""The arrears return flow (Lastenheft 3.10.10; fees.md §12; interfaces.md §5 F6;
data-protection R11; issue 7 item 3): import through the inbox once, the finance
worklist of payers more than 2 months behind, termination started (EB Kita only), the
termination and the facility lead's information."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ekita.core.errors import Conflict, RuleViolation
from ekita.core.models.arrears import ArrearsCase, ArrearsStatus
from ekita.core.models.contracts import CareContract
from ekita.core.models.enums import Role
from ekita.core.models.events import DomainEvent
from ekita.core.models.people import Pkn
from ekita.plugins.sap_fi import arrears
from ekita.plugins.sap_fi.arrears import ArrearsRecord, import_arrears, render_arrears
from tests.api import client, key
from tests.conftest import SYSTEM, work
from tests.world import build_world


def rec(pkn: str, months: int, cents: int = 20000, oldest: date = date(2027, 1, 15)
        ) -> ArrearsRecord:
    return ArrearsRecord(pkn=pkn, debtor_no=f"D{pkn}", months_overdue=months,
                         amount_overdue_cents=cents, oldest_due_date=oldest)


def file_of(as_of: date, *records: ArrearsRecord) -> bytes:
    return render_arrears(records, as_of)


def cases(engine) -> dict[str, ArrearsCase]:
    with work(engine) as s:
        return {c.pkn: c for c in s.scalars(select(ArrearsCase))}


def test_same_file_twice_is_applied_once(engine):
    """interfaces.md §2 (inbox), issue 7 item 3: the same arrears file twice → applied once."""
    content = file_of(date(2027, 5, 3), rec("10000101", 3), rec("10000201", 1))
    with work(engine) as s:
        first = import_arrears(s, content, "test")
    with work(engine) as s:
        second = import_arrears(s, content, "test")
    assert first.applied and not second.applied
    assert (first.records, first.on_worklist) == (2, 1)
    assert len(cases(engine)) == 2


def test_worklist_holds_payers_more_than_two_months_behind(engine):
    """Lastenheft 3.10.10: "mehr als 2 Monate im Rückstand": 3 months is on the list,
    exactly 2 is not."""
    with work(engine) as s:
        import_arrears(s, file_of(date(2027, 5, 3), rec("10000101", 3, oldest=date(2027, 2, 15)),
                                  rec("10000201", 2), rec("10000301", 4,
                                                          oldest=date(2027, 1, 15))), "t")
        listed = [c.pkn for c in arrears.worklist(s)]
    assert listed == ["10000301", "10000101"]  # oldest debt first


def test_a_newer_file_clears_paid_payers_and_an_older_one_changes_nothing(engine):
    """fees.md §12.1: the file is SAP's current list; a payer missing from a newer file has
    paid (cleared); a late older file does not overwrite newer figures."""
    with work(engine) as s:
        import_arrears(s, file_of(date(2027, 5, 3), rec("10000101", 3), rec("10000201", 3)), "a")
    with work(engine) as s:
        result = import_arrears(s, file_of(date(2027, 6, 3), rec("10000101", 4, 30000)), "b")
    assert result.cleared == 1
    with work(engine) as s:
        import_arrears(s, file_of(date(2027, 4, 3), rec("10000101", 1, 100)), "late")
    found = cases(engine)
    assert found["10000201"].status == ArrearsStatus.CLEARED
    assert found["10000201"].cleared_on == date(2027, 6, 3)
    assert (found["10000101"].months_overdue, found["10000101"].amount_overdue_cents) == (4, 30000)


def test_a_file_listing_a_pkn_twice_is_refused(engine):
    """interfaces.md §5 ArrearsRecord: one record per PKN; nothing half-applied."""
    content = file_of(date(2027, 5, 3), rec("10000101", 3), rec("10000101", 4))
    with work(engine) as s, pytest.raises(RuleViolation, match="twice"):
        import_arrears(s, content, "t")
    assert cases(engine) == {}


def _payer_case(engine) -> tuple[int, int, int]:
    """A world, an arrears case for the PKN of one child with a contract; ids."""
    world = build_world(engine)
    child = world.children[world.facility_m][0]
    with work(engine) as s:
        pkn = s.scalars(select(Pkn.number).where(Pkn.child_id == child)).first()
        import_arrears(s, file_of(date(2027, 5, 3), rec(pkn, 3)), "t")
        case_id = s.scalar(select(ArrearsCase.id))
    return world.facility_m, world.contracts[child], case_id


def test_termination_started_then_terminated_informs_the_facility_lead(engine):
    """Lastenheft 3.10.10: "Kündigung gestartet" is recorded; on the termination the
    contract ends on that date, the place is free from the next day and the facility
    lead is informed (a ContractTerminated event for her facility, without the reason)."""
    facility, contract_id, case_id = _payer_case(engine)
    with work(engine) as s, pytest.raises(Conflict):
        arrears.terminate(s, case_id, contract_id=contract_id, on=date(2027, 6, 30),
                          reason="Rückstand", principal=SYSTEM)
    with work(engine) as s:
        arrears.start_termination(s, case_id, date(2027, 5, 10))
        assert s.scalars(select(DomainEvent)).all() == []  # R11: nothing leaves EB Kita yet
    with work(engine) as s:
        arrears.terminate(s, case_id, contract_id=contract_id, on=date(2027, 6, 30),
                          reason="Rückstand > 2 Monate", principal=SYSTEM)
    with work(engine) as s:
        event = s.scalars(select(DomainEvent)).one()
        contract = s.get(CareContract, contract_id)
        case = s.get(ArrearsCase, case_id)
    assert event.kind == "ContractTerminated" and event.facility_id == facility
    assert event.payload["place_free_from"] == "2027-07-01"
    assert "Rückstand" not in str(event.payload)
    assert contract.end_date == date(2027, 6, 30)
    assert case.status == ArrearsStatus.TERMINATED


def test_termination_needs_a_contract_of_the_payers_family(engine):
    """fees.md §10.1: the PKN names the family; another family's contract is refused."""
    world = build_world(engine)
    mine, other = world.children[world.facility_m]
    with work(engine) as s:
        pkn = s.scalars(select(Pkn.number).where(Pkn.child_id == mine)).first()
        import_arrears(s, file_of(date(2027, 5, 3), rec(pkn, 3)), "t")
        case_id = s.scalar(select(ArrearsCase.id))
        arrears.start_termination(s, case_id, date(2027, 5, 10))
    with work(engine) as s, pytest.raises(RuleViolation, match="family"):
        arrears.terminate(s, case_id, contract_id=world.contracts[other],
                          on=date(2027, 6, 30), reason="x", principal=SYSTEM)


def test_worklist_api_is_for_eb_kita_only(engine):
    """data-protection R11, brief: finance/admin work the list, zvs reads it, facility leads
    and carriers get 403 (the termination status is known only inside EB Kita)."""
    facility, contract_id, case_id = _payer_case(engine)
    api = client(engine)
    url = "/api/v1/adapters/sap_fi/arrears"
    for role in (Role.FINANCE, Role.ADMIN, Role.ZVS):
        listed = api.get(f"{url}/worklist", headers=key(engine, role))
        assert listed.status_code == 200 and listed.json()["total"] == 1, role
    lead = key(engine, Role.FACILITY_LEAD, facility_id=facility)
    assert api.get(f"{url}/worklist", headers=lead).status_code == 403
    zvs = api.post(f"{url}/{case_id}/termination-started", headers=key(engine, Role.ZVS))
    assert zvs.status_code == 403 and zvs.json()["error"]["rule"].startswith("data-protection")
    started = api.post(f"{url}/{case_id}/termination-started?on=2027-05-10",
                       headers=key(engine, Role.FINANCE))
    assert started.status_code == 200 and started.json()["status"] == "termination_started"
    again = api.post(f"{url}/{case_id}/termination-started", headers=key(engine, Role.FINANCE))
    assert again.status_code == 409
    done = api.post(f"{url}/{case_id}/termination", headers=key(engine, Role.ADMIN),
                    json={"contract_id": contract_id, "terminated_on": "2027-06-30",
                          "reason": "Rückstand"})
    assert done.status_code == 200 and done.json()["status"] == "terminated"
    missing = api.post(f"{url}/999999/termination-started", headers=key(engine, Role.FINANCE))
    assert missing.status_code == 404


def test_cli_import_is_idempotent(engine, tmp_path, monkeypatch):
    """Brief: `ekita-hub sap-fi import-arrears FILE`; the same file twice is applied once."""
    from ekita.hub.cli.main import app
    from ekita.plugins.sap_fi import register_commands

    if not any(g.name == "sap-fi" for g in app.registered_groups):
        register_commands(cli=app)
    path = tmp_path / "arrears.xml"
    path.write_bytes(file_of(date(2027, 5, 3), rec("10000101", 3)))
    monkeypatch.setenv("EKITA_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    first = runner.invoke(app, ["sap-fi", "import-arrears", str(path)])
    second = runner.invoke(app, ["sap-fi", "import-arrears", str(path)])
    assert first.exit_code == 0 and "applied" in first.output
    assert "1 on the worklist" in first.output
    assert "already taken in" in second.output
    assert list(cases(engine)) == ["10000101"]


def test_daily_job_fetches_the_arrears_file_from_the_sap_peer(engine):
    """schedules.md §5 `sap_fi.arrears_import` (daily): fetched from the SAP peer, applied
    through the inbox; the job run counts the records."""
    from datetime import UTC, datetime

    from ekita.core.models.exchange import JobRun, RunStatus
    from ekita.hub.registrations import JobContext
    from ekita.plugins.sap_fi import register_jobs
    from ekita.plugins.sap_fi.idoc import render_receivables
    from ekita.plugins.sap_fi.peer import SapPeer
    from tests.test_sap_fi import line, sap_settings

    with SapPeer() as peer:
        for period in ("2027-01", "2027-02", "2027-03"):
            peer.state.deliver("POST", "/sap/fidcc2", f"k{period}", __import__("json").dumps(
                {"message_type": "FIDCC2", "document": render_receivables(
                    [line(period=period)], None).decode()}).encode())
        settings = sap_settings(engine, url=peer.url)
        (job,) = register_jobs(settings)
        assert job.name == "sap_fi.arrears_import" and job.default_schedule == "0 6 * * *"
        counted = []
        for minute in range(2):
            tick = datetime(2027, 4, 2, 4, minute, tzinfo=UTC)
            with work(engine) as s:
                run = JobRun(job=job.name, scheduled_for=tick, trigger="test",
                             status=RunStatus.RUNNING)
                s.add(run)
                s.flush()
                job.run(JobContext(session=s, run=run, scheduled_for=tick, settings=settings))
                counted.append(run.records_in)
    assert counted == [1, 0]  # the second fetch brought the same file: applied once
    found = cases(engine)
    assert found["10000101"].months_overdue == 3
    assert found["10000101"].as_of == date(2027, 4, 2)


def test_migration_0006_matches_the_model(engine):
    """Brief (shared contract): models and migrations match; autogenerate finds no
    difference for the arrears table."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ekita.core.db.base import Base

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    mine = [d for d in diffs if "arrears_case" in repr(d)]
    assert mine == []


def test_worklist_follows_the_newest_file_state_machine(engine):
    """Lastenheft 3.10.10, fees.md §12.1 (Hypothesis state machine): after any sequence of
    arrears files (newer, older, repeated) and termination starts, the worklist holds exactly
    the payers the newest file lists more than 2 months behind, and a repeated file
    changes nothing."""
    from hypothesis import HealthCheck, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import (
        RuleBasedStateMachine,
        invariant,
        rule,
        run_state_machine_as_test,
    )
    from sqlalchemy import delete

    from ekita.core.models.exchange import Cursor, InboxEntry

    pkns = [f"{10000100 + 100 * i + 1:08d}" for i in range(4)]
    files = st.dictionaries(st.sampled_from(pkns), st.integers(0, 5), max_size=4)

    class Arrears(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            with work(engine) as s:
                s.execute(delete(ArrearsCase))
                s.execute(delete(InboxEntry))
                s.execute(delete(Cursor))
            self.newest: date | None = None
            self.latest: dict[str, int] = {}
            self.started: set[str] = set()
            self.seen: list[bytes] = []

        @rule(listed=files, day=st.integers(1, 28))
        def take_in(self, listed: dict[str, int], day: int) -> None:
            as_of = date(2027, 5, day)
            content = file_of(as_of, *(rec(p, m) for p, m in sorted(listed.items())))
            with work(engine) as s:
                result = import_arrears(s, content, "sm")
            assert result.applied == (content not in self.seen)
            if result.applied and (self.newest is None or as_of >= self.newest):
                self.newest, self.latest = as_of, dict(listed)
            self.seen.append(content)

        @rule(index=st.integers(0, 3))
        def start(self, index: int) -> None:
            with work(engine) as s:
                case = s.scalars(select(ArrearsCase).where(ArrearsCase.pkn == pkns[index])
                                 ).first()
                if case is not None and case.status is ArrearsStatus.OPEN:
                    arrears.start_termination(s, case.id, date(2027, 6, 1))
                    self.started.add(case.pkn)

        @invariant()
        def worklist_matches(self) -> None:
            with work(engine) as s:
                listed = {c.pkn for c in arrears.worklist(s)}
            assert listed == {p for p, m in self.latest.items() if m > 2}

    run_state_machine_as_test(Arrears, settings=settings(
        max_examples=12, stateful_step_count=6, deadline=None,
        suppress_health_check=list(HealthCheck)))
