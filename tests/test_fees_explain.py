"""Corrections that explain themselves (issue 13 item 8; fees.md §11.3–4, Lastenheft 3.10.5):
per payer and month the booked amount, the new amount, the difference and its cause."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from ekita.core.models.enums import CareType, Role
from ekita.core.services import contracts
from ekita.core.services.fees.assessment import MonthAssessor
from ekita.core.services.fees.corrections import run_corrections
from ekita.core.services.fees.debit_run import run_debit
from ekita.core.services.fees.explain import explained_corrections
from ekita.core.tracking import valid_from
from tests.api import client, key
from tests.conftest import as_role, work
from tests.test_fees_cli_jobs import _cli
from tests.test_fees_world import booked, build, family

BIRTH = date(2010, 8, 1)  # Krippe until 31 July 2013
ON = date(2013, 2, 10)
CLERK = as_role(Role.ZVS)


def _february_changed_after_its_debit(engine) -> tuple[int, int, int]:
    """January and February debited, then 6 hours instead of 9 from 1 February entered
    by a named clerk: (contract, February booked, February now due)."""
    with work(engine) as s:
        city = build(s)
        cid = family(s, city.kita, [(BIRTH, CareType.KRIPPE, "9")]).contracts[0]
        run_debit(s, "2013-01")
        run_debit(s, "2013-02")
        feb = booked(s, "2013-02", cid)
    with work(engine, CLERK) as s, valid_from(s, date(2013, 2, 1)):
        contracts.update_contract(s, cid, {"daily_hours": Decimal("6")},
                                  requested_on=date(2012, 11, 20))
    with work(engine) as s:
        six = MonthAssessor(s, date(2013, 2, 1)).for_contract(cid).amount_cents
    return cid, feb, six


def _hours_cause(causes: list[dict]) -> dict:
    found = [c for c in causes if c["entity"] == "contract_term" and c["field"] == "daily_hours"]
    assert len(found) == 1, causes
    return found[0]


def test_hours_change_after_the_debit_is_explained_and_a_rerun_books_nothing_twice(engine):
    """Issue 13 item 8: an hours change valid from February entered after February's debit
    gives one explained correction for February (booked, new, difference = new − booked)
    naming the contract_term change, its valid_from and its actor — not an unexplained
    amount; January, booked with what was valid then, has none. After the correction run
    the list is empty: a rerun books nothing twice."""
    cid, feb, six = _february_changed_after_its_debit(engine)
    with work(engine) as s:
        got = [e.as_dict() for e in explained_corrections(s, on=ON)]
    assert [(e["period"], e["contract_id"], e["booked_cents"], e["new_cents"],
             e["difference_cents"]) for e in got] == [("2013-02", cid, feb, six, six - feb)]
    assert six < feb
    cause = _hours_cause(got[0]["causes"])
    assert Decimal(cause["before"]) == 9 and Decimal(cause["after"]) == 6
    assert (cause["valid_from"], cause["actor"]) == ("2013-02-01", CLERK.name)
    assert all(c["valid_from"] <= "2013-02-28" for c in got[0]["causes"])
    with work(engine) as s:
        assert run_corrections(s, on=ON).record_count == 1
    with work(engine) as s:
        assert explained_corrections(s, on=ON) == []
        assert run_corrections(s, on=ON).record_count == 0


def test_changes_recorded_before_the_booking_are_no_cause(engine):
    """Issue 13 item 8: a cause is only what the booked month did not know yet — the
    family's setup, entered before the debit, is not listed as a reason."""
    _february_changed_after_its_debit(engine)
    with work(engine) as s:
        (only,) = explained_corrections(s, on=ON)
    assert {c["actor"] for c in only.causes} == {CLERK.name}
    assert "fee_statute" not in {c["entity"] for c in only.causes}


def test_explained_api_returns_the_same_and_refuses_placement_roles(engine):
    """Issue 13 item 8 via ``GET /api/v1/fees/corrections/explained?on=`` (fees:read);
    a facility lead gets 403 (data-protection M8: placement roles read no fee data)."""
    cid, feb, six = _february_changed_after_its_debit(engine)
    http = client(engine)
    r = http.get("/api/v1/fees/corrections/explained", params={"on": ON.isoformat()},
                 headers=key(engine, Role.FINANCE))
    assert r.status_code == 200, r.text
    (row,) = r.json()
    assert (row["period"], row["contract_id"], row["booked_cents"], row["new_cents"],
            row["difference_cents"]) == ("2013-02", cid, feb, six, six - feb)
    assert _hours_cause(row["causes"])["actor"] == CLERK.name
    lead = http.get("/api/v1/fees/corrections/explained",
                    headers=key(engine, Role.FACILITY_LEAD, facility_id=1))
    assert lead.status_code == 403


@pytest.mark.slow
def test_cli_corrections_explain_prints_table_and_json_and_writes_nothing(engine):
    """Issue 13 item 8: ``billing corrections --explain [--json]`` shows the same, books
    nothing (the booking run afterwards still finds the line)."""
    cid, feb, six = _february_changed_after_its_debit(engine)
    table = _cli(engine, "corrections", "--explain", "--date", ON.isoformat())
    assert table.returncode == 0, table.stderr
    assert "2013-02" in table.stdout and "contract_term" in table.stdout
    assert CLERK.name in table.stdout and f"{(six - feb) / 100:.2f}" in table.stdout
    raw = _cli(engine, "corrections", "--explain", "--json", "--date", ON.isoformat())
    (row,) = json.loads(raw.stdout)
    assert (row["contract_id"], row["difference_cents"]) == (cid, six - feb)
    with work(engine) as s:
        assert run_corrections(s, on=ON).record_count == 1
