"""Dated contract terms (issue 13 items 1, 2, 3, 5; Lastenheft 3.10.5), both databases.

Threat: the fee engine reads the contract's *current* values, so a dated change re-bills
months before its date or charges a future change early. Every consumer here must read
the term valid in its month.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, Table, select, text
from sqlalchemy.engine import Engine

from ekita.core.db.base import utcnow
from ekita.core.db.migrate import alembic_config, upgrade
from ekita.core.errors import RuleViolation
from ekita.core.models import CareContract, ContractTerm
from ekita.core.models.enums import CareType, Role
from ekita.core.services import contracts, terms
from ekita.core.services.fees.assessment import MonthAssessor
from ekita.core.services.fees.corrections import pending_corrections, run_corrections
from ekita.core.services.fees.debit_run import run_debit
from ekita.core.services.fees.lost_fees import lost_fees
from ekita.core.services.fees.notices import plan
from ekita.core.services.fees.rules import FeeGroup, cents, parents_fee
from ekita.core.services.fees.statutes import StatuteBook
from ekita.core.tracking import today, valid_from
from tests.api import client, key
from tests.conftest import BACKENDS, database_at, work
from tests.test_fees_world import add_contract, booked, build, family, fees

KK, KG, HORT = CareType.KRIPPE, CareType.KINDERGARTEN, CareType.HORT
BIRTH = date(2010, 8, 1)  # Krippe until 31 July 2013 (G1)
REASON = "agreed with the parents in writing"


def _base(s, month: date, hours: str) -> int:
    """The parents' fee of a first Krippe child of a couple (reference, fees.md §5)."""
    statute = StatuteBook(s).at(month)
    full = statute.full(FeeGroup.KK, Decimal(hours))
    return cents(parents_fee(full, 1, False, statute.discounts))


def _hours_change(s, contract: int, day: date, hours: str, requested: date) -> None:
    with valid_from(s, day):
        contracts.update_contract(s, contract, {"daily_hours": Decimal(hours)},
                                  requested_on=requested)


# ------------------------------------------------------------------ the observed cases


def test_change_from_february_entered_after_january_debit_leaves_january(engine):
    """Issue 13 item 1 observed case (3.10.5): hours changed from 1 February, entered
    after January and February were debited: the correction touches February only;
    January stays as booked."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(BIRTH, KK, "9")])
        run_debit(s, "2013-01")
        run_debit(s, "2013-02")
        jan, feb = booked(s, "2013-01", fam.contracts[0]), booked(s, "2013-02",
                                                                  fam.contracts[0])
        _hours_change(s, fam.contracts[0], date(2013, 2, 1), "6", date(2012, 11, 20))
        lines = run_corrections(s, on=date(2013, 2, 10)).lines
        six = MonthAssessor(s, date(2013, 2, 1)).for_contract(fam.contracts[0]).amount_cents
        assert [(ln["period"], ln["amount_cents"]) for ln in lines] == [("2013-02", six - feb)]
        assert six < feb
        assert booked(s, "2013-01", fam.contracts[0]) == jan
        assert run_corrections(s, on=date(2013, 2, 11)).record_count == 0


def test_change_entered_in_march_for_june_is_not_charged_in_april(engine):
    """Issue 13 item 1 observed case: a change entered in March to take effect on 1 June:
    the April and May debits charge the old hours, June the new ones; no correction."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(BIRTH, KK, "9")])
        run_debit(s, "2013-03")
        march = booked(s, "2013-03", fam.contracts[0])
        _hours_change(s, fam.contracts[0], date(2013, 6, 1), "6", date(2013, 3, 10))
        run_debit(s, "2013-04")
        run_debit(s, "2013-05")
        assert pending_corrections(s, on=date(2013, 5, 10)) == []
        run_debit(s, "2013-06")
        assert booked(s, "2013-04", fam.contracts[0]) == march
        assert booked(s, "2013-05", fam.contracts[0]) == march
        assert booked(s, "2013-06", fam.contracts[0]) == _base(s, date(2013, 6, 1), "6")
        assert booked(s, "2013-06", fam.contracts[0]) < march


# ------------------------------------------------------------------ consumers (item 3)


def test_assessment_of_a_month_with_a_mid_month_change_takes_the_term_of_most_days(engine):
    """Issue 13 item 3 (monthly assessment): an overridden change from the 20th leaves the
    month with the old hours (19 of 31 days), the next month has the new ones; a change
    from the 10th (22 days) decides its month."""
    with work(engine) as s:
        city = build(s)
        late = family(s, city.kita, [(BIRTH, KK, "9")])
        early = family(s, city.kita, [(BIRTH, KK, "9")])
        for fam, day in ((late, date(2013, 3, 20)), (early, date(2013, 3, 10))):
            with valid_from(s, day):
                contracts.update_contract(s, fam.contracts[0], {"daily_hours": Decimal("6")},
                                          requested_on=date(2013, 1, 2),
                                          override_reason=REASON)
        march = MonthAssessor(s, date(2013, 3, 1))
        nine, six = _base(s, date(2013, 3, 1), "9"), _base(s, date(2013, 3, 1), "6")
        assert march.for_contract(late.contracts[0]).amount_cents == nine
        assert march.for_contract(early.contracts[0]).amount_cents == six
        april = MonthAssessor(s, date(2013, 4, 1))
        assert april.for_contract(late.contracts[0]).amount_cents == six


def test_corrections_recompute_exactly_the_months_from_valid_from(engine):
    """Issue 13 item 3 (corrections): January to April debited, a change valid from 1 March:
    credits for March and April only."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(BIRTH, KK, "9")])
        for period in ("2013-01", "2013-02", "2013-03", "2013-04"):
            run_debit(s, period)
        _hours_change(s, fam.contracts[0], date(2013, 3, 1), "6", date(2012, 12, 15))
        pending = pending_corrections(s, on=date(2013, 4, 5))
        assert sorted(ln["period"] for ln in pending) == ["2013-03", "2013-04"]
        assert all(ln["amount_cents"] < 0 for ln in pending)


def test_lost_fee_overview_reads_the_term_of_its_month(engine):
    """Issue 13 item 3 (lost-fee overview, fees.md §15.1): the base of February is the
    9-hour fee, of March (after a change from 1 March) the 6-hour fee."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(BIRTH, KK, "9")])
        _hours_change(s, fam.contracts[0], date(2013, 3, 1), "6", date(2012, 12, 15))
        assert lost_fees(s, "2013-02").base_cents == _base(s, date(2013, 2, 1), "9")
        assert lost_fees(s, "2013-03").base_cents == _base(s, date(2013, 3, 1), "6")


def test_collective_notice_prints_the_hours_and_fee_of_its_month(engine):
    """Issue 13 item 3 (collective notices, 3.10.14.2): a notice for 1 February shows 9 h
    and that fee; for 1 March, after a change from then, 6 h — not today's term."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(BIRTH, KK, "9")])
        _hours_change(s, fam.contracts[0], date(2013, 3, 1), "6", date(2012, 12, 15))
        _hours_change(s, fam.contracts[0], date(2013, 7, 1), "8", date(2013, 4, 15))
        (feb,), (mar,) = plan(s, date(2013, 2, 1)), plan(s, date(2013, 3, 1))
        assert feb.children[0].care_hours == Decimal("9")
        assert feb.children[0].amount_cents == _base(s, date(2013, 2, 1), "9")
        assert mar.children[0].care_hours == Decimal("6")
        assert mar.children[0].amount_cents == _base(s, date(2013, 3, 1), "6")


# ------------------------------------------------------------------ the notice rule (item 2)


def test_notice_periods_of_anlage_b_9_3_4():
    """Issue 13 item 2, fees.md §16 T17: requested 10 March → earliest 1 June; requested on
    a 1st → two months later; Hort one month (002 §5(3))."""
    assert terms.earliest_change(date(2013, 3, 10), KK) == date(2013, 6, 1)
    assert terms.earliest_change(date(2013, 3, 1), KG) == date(2013, 5, 1)
    assert terms.earliest_change(date(2013, 11, 15), KK) == date(2014, 2, 1)
    assert terms.earliest_change(date(2013, 12, 1), KK) == date(2014, 2, 1)
    assert terms.earliest_change(date(2013, 3, 10), HORT) == date(2013, 5, 1)


def test_short_notice_hour_change_is_refused_with_the_rule_unless_overridden(engine):
    """Issue 13 item 2 (Anlage B §9(3)/(4)): an hour change of a city contract before the
    earliest 1st is refused naming the rule, and nothing changes; with an override and a
    reason it is accepted and the reason is kept on the term; a mid-month day is refused
    too. A carrier's own contract (not Anlage B) is not held to it."""
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(BIRTH, KK, "9")])
        free = family(s, city.free_kita, [(BIRTH, KK, "9")])
    earliest = terms.earliest_change(today(), KK)
    too_early = (earliest - timedelta(days=1)).replace(day=1)
    for day in (too_early, earliest + timedelta(days=3)):
        with pytest.raises(RuleViolation) as caught, work(engine) as s, valid_from(s, day):
            contracts.update_contract(s, fam.contracts[0], {"daily_hours": Decimal("6")})
        assert caught.value.rule.startswith("Anlage B §9(3)/(4)")
        assert caught.value.field == "valid_from" and caught.value.record == "contract_term"
    with work(engine) as s:
        assert len(list(s.scalars(select(ContractTerm).where(
            ContractTerm.contract_id == fam.contracts[0])))) == 1
    with work(engine) as s, valid_from(s, too_early):
        contracts.update_contract(s, fam.contracts[0], {"daily_hours": Decimal("6")},
                                  override_reason=REASON)
        contracts.update_contract(s, free.contracts[0], {"daily_hours": Decimal("6")})
    with work(engine) as s:
        term = terms.term_on(s, fam.contracts[0], too_early)
        assert term is not None and term.daily_hours == Decimal("6")
        stored = s.scalar(select(ContractTerm).where(
            ContractTerm.contract_id == fam.contracts[0], ContractTerm.valid_from == too_early))
        assert stored.override_reason == REASON
    with work(engine) as s, valid_from(s, earliest):
        contracts.update_contract(s, fam.contracts[0], {"daily_hours": Decimal("7")})


# ------------------------------------------------------------------ the invariant


PERIOD = (date(2012, 9, 1), date(2014, 7, 31))
DAYS = st.integers(min_value=0, max_value=(PERIOD[1] - PERIOD[0]).days)
CHANGES = st.lists(st.tuples(DAYS, st.sampled_from(["daily_hours", "care_type"]),
                             st.sampled_from(["5", "6", "7.5", "9", "10"])),
                   min_size=1, max_size=8)


def _tiles(rows: list[ContractTerm], start: date, end: date | None) -> None:
    assert rows[0].valid_from == start and rows[-1].valid_to == end
    for before, after in pairwise(rows):
        assert before.valid_to is not None
        assert before.valid_to + timedelta(days=1) == after.valid_from


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=CHANGES, in_order=st.booleans())
def test_terms_tile_the_contract_period_after_any_changes(engine, changes, in_order):
    """Issue 13 item 1 invariant (hypothesis): dated changes of hours and care type in
    random order, retroactive and future ones: the terms always tile the contract period
    without gap or overlap, the change just made holds on its day, and entered in business
    order they give what replaying them by date gives."""
    start, end = PERIOD
    with work(engine) as s:
        if not s.scalar(select(CareContract.id).limit(1)):
            build(s)
        free_kita = s.scalar(text("SELECT id FROM facility WHERE cost_centre = 'KST-900'"))
        cid = family(s, free_kita, [(date(2009, 1, 1), KG, "9")], start=start,
                     end=end).contracts[0]
    if in_order:
        changes = sorted(changes, key=lambda c: c[0])
    applied = []
    for offset, field, value in changes:
        day = start + timedelta(days=offset)
        new = {field: Decimal(value) if field == "daily_hours" else _care(value)}
        with work(engine) as s, valid_from(s, day):
            try:
                contracts.update_contract(s, cid, dict(new))
            except RuleViolation as err:
                assert err.field in ("daily_hours", "care_type")  # a tier out of range
                s.rollback()
                continue
            applied.append((offset, new))
            assert getattr(terms.term_on(s, cid, day), field) == new[field]
            _tiles(terms.rows_of(s, s.get(CareContract, cid)), start, end)
    if not in_order:
        return
    with work(engine) as s:
        for probe in range(0, (end - start).days + 1, 37):
            state = {"daily_hours": Decimal(9), "care_type": KG}
            for offset, new in applied:
                if offset <= probe:
                    state |= new
            term = terms.term_on(s, cid, start + timedelta(days=probe))
            assert (term.daily_hours, term.care_type) == (state["daily_hours"],
                                                          state["care_type"])


def _care(value: str) -> CareType:
    return KG if value in ("5", "9") else KK


# ------------------------------------------------------------------ the API (item 1)


def test_terms_api_get_post_patch_and_on(engine):
    """Issue 13 item 1: ``POST /contracts/{id}/terms`` adds a dated term, ``GET`` lists the
    tiling terms, ``PATCH ?valid_from=`` on a term field creates one, ``GET ?on=`` answers
    the term valid that day; a short-notice change answers 422 naming the rule."""
    with work(engine) as s:
        city = build(s)
        cid = family(s, city.kita, [(BIRTH, KK, "9")]).contracts[0]
    http, zvs = client(engine), key(engine, Role.ZVS)
    r = http.post(f"/api/v1/contracts/{cid}/terms", headers=zvs, json={
        "valid_from": "2013-02-01", "daily_hours": "6", "requested_on": "2012-11-20"})
    assert r.status_code == 201, r.text
    assert [(t["valid_from"], t["valid_to"], t["daily_hours"]) for t in r.json()] == [
        ("2011-09-01", "2013-01-31", "9.00"), ("2013-02-01", None, "6.00")]
    r = http.patch(f"/api/v1/contracts/{cid}", headers=zvs,
                   params={"valid_from": "2013-06-01", "requested_on": "2013-03-10"},
                   json={"daily_hours": "8"})
    assert r.status_code == 200, r.text
    assert r.json()["term"]["valid_from"] == "2013-06-01"
    listed = http.get(f"/api/v1/contracts/{cid}/terms", headers=zvs).json()
    assert [t["daily_hours"] for t in listed] == ["9.00", "6.00", "8.00"]
    for on, hours in (("2013-01-31", "9.00"), ("2013-03-15", "6.00"), ("2013-06-01", "8.00")):
        got = http.get(f"/api/v1/contracts/{cid}", headers=zvs, params={"on": on}).json()
        assert (got["daily_hours"], got["term"]["daily_hours"]) == (hours, hours)
    refused = http.post(f"/api/v1/contracts/{cid}/terms", headers=zvs, json={
        "valid_from": "2013-07-01", "daily_hours": "7", "requested_on": "2013-06-10"})
    assert refused.status_code == 422
    assert refused.json()["error"]["rule"].startswith("Anlage B §9(3)/(4)")
    assert len(http.get(f"/api/v1/contracts/{cid}/terms", headers=zvs).json()) == 3
    empty = http.post(f"/api/v1/contracts/{cid}/terms", headers=zvs,
                      json={"valid_from": "2013-07-01"})
    assert empty.status_code == 422 and empty.json()["error"]["record"] == "contract_term"


def test_a_tenant_reads_only_its_own_contracts_terms(engine):
    """Issue 13 item 1 with issue 12 R1: a facility lead of another facility gets 404 for
    the terms of a contract that is not theirs."""
    with work(engine) as s:
        city = build(s)
        cid = family(s, city.kita, [(BIRTH, KK, "9")]).contracts[0]
    http = client(engine)
    other = key(engine, Role.FACILITY_LEAD, facility_id=city.free_kita)
    assert http.get(f"/api/v1/contracts/{cid}/terms", headers=other).status_code == 404
    own = key(engine, Role.FACILITY_LEAD, facility_id=city.kita)
    assert len(http.get(f"/api/v1/contracts/{cid}/terms", headers=own).json()) == 1


# ------------------------------------------------------------------ migration 0015


@pytest.fixture(params=BACKENDS)
def at_0014(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A scratch database migrated to 0014, the revision before contract terms."""
    with database_at(request.param, "0014", tmp_path) as eng:
        yield eng


def test_migration_0015_turns_every_contract_into_one_term(at_0014: Engine) -> None:
    """Issue 13 item 1: a database at 0014 holding an open and an ended contract gets one
    term per contract over its period with its values; the downgrade drops the table."""
    now = utcnow()
    stamps = {"created_at": now, "updated_at": now}
    rows = [
        ("carrier", {"id": 1, "name": "EB", "category": "municipal", "carrier_type": "13",
                     "legal_form": "02"}),
        ("facility", {"id": 1, "carrier_id": 1, "name": "Kita", "cost_centre": "K1",
                      "street": "Weg", "house_no": "1", "postcode": "01067",
                      "town": "Dresden", "stadtteil_nr": "01", "integration_facility": False,
                      "barrier_free": False, "company_reserved_places": 0,
                      "flexible_capacity": False, "in_bedarfsplan": True, "status": "open"}),
        ("family", {"id": 1, "number": "100001"}),
        ("child", {"id": 1, "family_id": 1, "family_name": "Alt", "first_name": "Kind",
                   "birth_date": date(2010, 8, 1), "sex": "x", "integration_need": False,
                   "excluded_from_count": False, "school_deferred": False}),
        ("guardian", {"id": 1, "family_id": 1, "family_name": "Alt", "first_name": "Elter",
                      "single_parent": False, "notification_channel": "post"}),
        ("care_contract", {"id": 1, "child_id": 1, "facility_id": 1, "care_type": "krippe",
                           "start_date": date(2011, 9, 1), "end_date": date(2013, 7, 31),
                           "daily_hours": Decimal("7.5"), "payer_guardian_id": 1,
                           "payer_kind": "direct_debit", "company_reserved_place": True}),
        ("care_contract", {"id": 2, "child_id": 1, "facility_id": 1,
                           "care_type": "kindergarten", "start_date": date(2013, 8, 1),
                           "daily_hours": Decimal("9"), "payer_guardian_id": 1,
                           "payer_kind": "direct_debit", "company_reserved_place": False}),
    ]
    with at_0014.begin() as conn:
        for name, values in rows:
            table = Table(name, MetaData(), autoload_with=conn)
            conn.execute(table.insert().values({**values, **stamps}))
    upgrade(at_0014, "0015")
    with at_0014.connect() as conn:
        got = conn.execute(text(
            "SELECT contract_id, valid_from, valid_to, care_type, daily_hours,"
            " company_reserved_place FROM contract_term ORDER BY contract_id")).all()
    as_dates = [(r[0], str(r[1])[:10], r[2] and str(r[2])[:10], r[3], Decimal(r[4]),
                 bool(r[5])) for r in got]
    assert as_dates == [(1, "2011-09-01", "2013-07-31", "krippe", Decimal("7.5"), True),
                        (2, "2013-08-01", None, "kindergarten", Decimal("9"), False)]
    command.downgrade(alembic_config(at_0014), "0014")
    with at_0014.connect() as conn:
        assert "contract_term" not in at_0014.dialect.get_table_names(conn)


# ------------------------------------------------------------------ school start (item 5)


def test_school_start_month_is_charged_for_the_predominant_care_type(engine):
    """Issue 13 item 5 (Anlage B §10(2)): Kindergarten until the 9th, Hort from the 10th:
    September is charged as Hort (21 of 30 days), on the Hort contract; Hort only from the
    21st: September stays Kindergarten. One contract changing its care type by a term from
    the 10th is charged as Hort too."""
    with work(engine) as s:
        city = build(s)
        sep, aug, octo = date(2013, 9, 1), date(2013, 8, 1), date(2013, 10, 1)
        early = family(s, city.kita, [(date(2007, 3, 1), KG, "9")], end=date(2013, 9, 9))
        early_hort = add_contract(s, city.kita, early.children[0], early.guardian, HORT, "5",
                                  start=date(2013, 9, 10))
        late = family(s, city.kita, [(date(2007, 3, 1), KG, "9")], end=date(2013, 9, 20))
        late_hort = add_contract(s, city.kita, late.children[0], late.guardian, HORT, "5",
                                 start=date(2013, 9, 21))
        one = family(s, city.kita, [(date(2007, 3, 1), KG, "9")])
        contracts.add_term(s, one.contracts[0], date(2013, 9, 10),
                           {"care_type": HORT, "daily_hours": Decimal("5")})
        hort_fee = fees(s, octo, [early_hort])[0]
        kg_fee = fees(s, aug, [early.contracts[0]])[0]
        assert hort_fee != kg_fee and hort_fee > 0
        assert fees(s, sep, [early.contracts[0], early_hort]) == [0, hort_fee]
        assert fees(s, sep, [late.contracts[0], late_hort]) == [kg_fee, 0]
        assert fees(s, sep, one.contracts) == [hort_fee]
        assert fees(s, aug, one.contracts) == [kg_fee]


def test_an_exit_written_directly_on_the_contract_keeps_the_terms_tiling(engine):
    """Issue 13 item 1 with exits (3.6.15): a writer that sets the contract's end itself
    (``record_exit`` does) leaves no term after the end and the last one ends with it."""
    with work(engine) as s:
        city = build(s)
        cid = family(s, city.free_kita, [(BIRTH, KK, "9")]).contracts[0]
        contracts.add_term(s, cid, date(2013, 6, 1), {"daily_hours": Decimal("6")})
    with work(engine) as s:
        s.get(CareContract, cid).end_date = date(2013, 3, 31)
    with work(engine) as s:
        rows = terms.rows_of(s, s.get(CareContract, cid))
        assert [(r.valid_from, r.valid_to, r.daily_hours) for r in rows] == [
            (date(2011, 9, 1), date(2013, 3, 31), Decimal("9"))]


def test_daily_job_lets_a_future_term_take_over_the_contract_columns(engine):
    """Issue 13 item 1 ("a future change waits for its date"): the contract's own columns,
    still read by consumers that do not read terms, keep today's term until the future
    term's first day; the daily job ``contracts.term_mirror`` then copies it, and catches
    up a day it did not run."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from ekita.core.models.exchange import RunStatus
    from ekita.hub.config import Settings
    from ekita.hub.delivery.scheduler import run_job
    from ekita.hub.plugins import load_plugins
    from tests.delivery_kit import url_of

    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(BIRTH, KK, "9")])
        start = terms.earliest_change(today(), KK)  # a real future date: the mirror is today's
        _hours_change(s, fam.contracts[0], start, "6", today())
    with work(engine) as s:
        assert str(s.get(CareContract, fam.contracts[0]).daily_hours) == "9.00"
    settings = Settings(database_url=url_of(engine), load_plugins=["billing_jobs"])
    plugins = load_plugins(settings)
    job = plugins.jobs["contracts.term_mirror"]
    berlin = ZoneInfo("Europe/Berlin")
    eve = start - timedelta(days=1)
    before = run_job(engine, settings, plugins, job,
                     datetime(eve.year, eve.month, eve.day, 0, 5, tzinfo=berlin), "manual")
    assert before is not None and before.status == RunStatus.SUCCEEDED and before.records_in == 0
    with work(engine) as s:
        assert str(s.get(CareContract, fam.contracts[0]).daily_hours) == "9.00"
    third = start + timedelta(days=2)  # the first two days missed: caught up
    later = run_job(engine, settings, plugins, job,
                    datetime(third.year, third.month, third.day, 0, 5, tzinfo=berlin), "manual")
    assert later is not None and later.records_in == 1, later.detail
    with work(engine) as s:
        assert str(s.get(CareContract, fam.contracts[0]).daily_hours) == "6.00"
