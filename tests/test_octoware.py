"""Octoware monthly list for the health office (Lastenheft 3.19, interfaces.md §8)."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from ekita.core.errors import RuleViolation
from ekita.core.models.enums import CareType
from ekita.core.models.exchange import MessageStatus, OutboxMessage, TransferRecord
from ekita.core.outbox import enqueue
from ekita.core.services import contracts, masterdata, people
from ekita.plugins.octoware import NAME, export_month, reference_day
from ekita.plugins.octoware.csvfile import render
from ekita.plugins.octoware.listing import ROW_FIELDS, sixth_birthday_cutoff
from tests.conftest import work
from tests.exchange_kit import deliver_all, file_worker
from tests.world import START, add_child, build_world

AS_OF = date(2026, 11, 1)


def _city(engine):
    """The small world (children of 4 at three facilities) plus edge cases of age."""
    world = build_world(engine)
    with work(engine) as s:
        s6 = add_child(s, world.facility_b1, 101, birth=date(2020, 11, 1))[0]  # 6 today
        s5 = add_child(s, world.facility_b1, 102, birth=date(2020, 11, 2))[0]  # 5 tomorrow 6
        masterdata.add_care_offer(s, world.facility_b2, {
            "care_type": CareType.HORT, "approved_places": 5, "valid_from": START})
        hort = add_child(s, world.facility_b2, 103, birth=date(2021, 1, 1),
                         care_type=CareType.HORT)[0]
        ended = add_child(s, world.facility_b1, 104, birth=date(2023, 1, 1))[0]
        cid = s.scalars(select(contracts.CareContract.id).where(
            contracts.CareContract.child_id == ended)).one()
        contracts.update_contract(s, cid, {"end_date": date(2026, 10, 31)})
        s.flush()
        evil = add_child(s, world.facility_b1, 105, birth=date(2024, 2, 2))[0]
        people.update_child(s, evil, {"street": "=HYPERLINK(\"x\")"})
    return world, {"six": s6, "five": s5, "hort": hort, "ended": ended, "evil": evil}


def test_list_holds_children_0_to_5_in_a_kita_on_the_reference_day(engine):
    """Lastenheft 3.19: children aged 0-5 currently in a Kita; ended contracts and
    6-year-olds are not listed."""
    _city(engine)
    with work(engine) as s:
        from ekita.plugins.octoware.listing import collect

        rows = collect(s, AS_OF)
    names = {r["family_name"] for r in rows}
    assert "Muster102" in names and "Muster103" in names and "Muster105" in names
    assert "Muster101" not in names  # sixth birthday on the reference day
    assert "Muster104" not in names  # contract ended before the reference day
    assert len(rows) == 6 + 3
    assert all(set(r) == set(ROW_FIELDS) for r in rows)


def test_monthly_file_is_delivered_to_the_drop_dir_and_logged(engine, tmp_path):
    """interfaces.md §8: `;`, UTF-8, versioned header line, formula-safe; delivered through
    the delivery engine, every transfer logged (interfaces.md §2.4)."""
    _city(engine)
    worker = file_worker(engine, NAME, {"drop_dir": str(tmp_path)})  # declares the recipient
    with work(engine) as s:
        queued, count = export_month(s, "2026-11", today=date(2026, 12, 5))
        again, _ = export_month(s, "2026-11", today=date(2026, 12, 5))
    assert again.id == queued.id and not again.created  # one message per month
    deliver_all(worker)
    files = list(tmp_path.glob("*.csv"))
    assert len(files) == 1
    text = files[0].read_bytes().decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == "#ekita-octoware-csv;v1;2026-11-01"
    assert lines[1].startswith("nachname;vorname;geburtsdatum;geschlecht;")
    rows = list(csv.reader(io.StringIO("\n".join(lines[2:])), delimiter=";"))
    assert len(rows) == count == 9
    street = {r[0]: r[4] for r in rows}
    assert street["Muster105"] == "'=HYPERLINK(\"x\")"
    assert all(r[2][:4].isdigit() for r in rows)  # dates untouched
    with work(engine) as s:
        msg = s.scalars(select(OutboxMessage)).one()
        assert msg.status == MessageStatus.DELIVERED
        log = s.scalars(select(TransferRecord)).one()
        assert log.record_count == 9 and log.recipient == str(tmp_path)


def test_hub_refuses_fields_octoware_did_not_declare(engine):
    """Lastenheft 3.19 / data-protection M6: the plugin declares its fields and the hub
    hands it nothing else (a PKN or health note in the payload is refused)."""
    with work(engine) as s:
        from ekita.hub.config import Settings
        from ekita.hub.plugins import load_plugins

        load_plugins(Settings(database_url="sqlite://", load_plugins=[NAME]))
        for field in ("pkn", "health_notes", "iban"):
            with pytest.raises(RuleViolation) as err:
                enqueue(s, adapter=NAME, operation="monthly_list", business_key="x",
                        payload={"rows": [{"family_name": "A", field: "1"}]})
            assert err.value.field == field


def test_deliver_refuses_undeclared_non_personal_fields(tmp_path):
    """Lastenheft 3.19: only the declared field list reaches the file."""
    from ekita.hub.delivery.errors import PermanentError
    from ekita.hub.registrations import Delivery
    from ekita.plugins.octoware import OctowareSettings, deliver

    delivery = Delivery(message_id=1, adapter=NAME, operation="monthly_list",
                        business_key="2026-11", idempotency_key="k", attempt=1, timeout_s=1,
                        payload={"as_of": "2026-11-01", "rows": [{"family_name": "A",
                                                                  "remark": "x"}]},
                        payload_ref=None, settings=OctowareSettings(drop_dir=str(tmp_path)))
    with pytest.raises(PermanentError, match="remark"):
        deliver(delivery)
    assert not list(tmp_path.iterdir())


def test_reference_day_and_bad_month():
    """Lastenheft 3.19 (monthly): today for the running month, the 1st otherwise."""
    assert reference_day(None, date(2026, 5, 7)) == ("2026-05", date(2026, 5, 7))
    assert reference_day("2026-04", date(2026, 5, 7)) == ("2026-04", date(2026, 4, 1))
    with pytest.raises(RuleViolation) as err:
        reference_day("2026-13", date(2026, 5, 7))
    assert err.value.field == "month"


@given(st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 12, 31)))
def test_age_cutoff_is_the_sixth_birthday(as_of):
    """Lastenheft 3.19 (age 0-5): a child born on the cutoff day is 6, one day later 5."""
    cutoff = sixth_birthday_cutoff(as_of)
    assert as_of.year - cutoff.year == 6
    assert (as_of - cutoff).days in range(6 * 365, 6 * 366 + 1)


@given(st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=5))
def test_rendered_cells_are_formula_safe_and_round_trip(texts):
    """interfaces.md §8 (formula-injection escaping): no text cell starts a formula,
    and the file parses back to the same number of cells."""
    rows = [{f: (t if f != "birth_date" else "2022-01-01") for f in ROW_FIELDS} for t in texts]
    content = render(rows, "2026-11-01").decode("utf-8")
    parsed = list(csv.reader(io.StringIO(content.split("\r\n", 1)[1], newline=""),
                             delimiter=";"))
    assert len(parsed) == len(rows) + 1
    for line in parsed[1:]:
        assert len(line) == len(ROW_FIELDS)
        assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in line)


def test_monthly_job_is_registered():
    """Lastenheft 3.19: the job octoware.monthly_export runs monthly."""
    from ekita.plugins.octoware import register_jobs

    (job,) = register_jobs(None)
    assert job.name == "octoware.monthly_export" and job.default_schedule == "0 5 1 * *"



def test_list_shows_the_care_type_of_the_term_valid_on_the_reference_day(engine):
    """Issue 13 item 3 (Octoware): a care-type change valid from the reference day shows
    from that day on; the day before, the list still shows the old term's care type."""
    from datetime import timedelta

    from ekita.core.tracking import valid_from
    from ekita.plugins.octoware.listing import collect

    _world, ids = _city(engine)
    with work(engine) as s:
        cid = s.scalars(select(contracts.CareContract.id).where(
            contracts.CareContract.child_id == ids["hort"])).one()
        with valid_from(s, AS_OF):
            contracts.update_contract(s, cid, {"care_type": CareType.KINDERGARTEN},
                                      override_reason="test: change on the reference day")
    with work(engine) as s:
        before = {r["family_name"]: r["care_type"] for r in collect(s, AS_OF - timedelta(1))}
        on = {r["family_name"]: r["care_type"] for r in collect(s, AS_OF)}
    assert before["Muster103"] == CareType.HORT.value
    assert on["Muster103"] == CareType.KINDERGARTEN.value
