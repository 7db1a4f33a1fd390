"""SAP-CO key figures on the 20th (Lastenheft 3.19, Anlage H no. 10; interfaces.md §6;
schedules.md; issue 7 item 4): computed from the placement ledger for a small world,
rendered like BAPI_ACC_STAT_KEY_FIG_POST input, validated and delivered to the SAP peer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import select

from ekita.core.errors import RuleViolation
from ekita.core.models.enums import CareType
from ekita.core.models.exchange import JobRun, MessageStatus, OutboxMessage, RunStatus
from ekita.core.services import masterdata
from ekita.core.services.placement.forecast import add_months
from ekita.core.services.placement.rules import PlacementRules
from ekita.hub.config import AdapterSection, Settings, WorkerSettings
from ekita.hub.delivery.worker import Worker
from ekita.hub.plugins import load_plugins
from ekita.hub.registrations import JobContext
from ekita.plugins.sap_co import register_jobs
from ekita.plugins.sap_co.klr import KeyFigure, skf_code, snapshot, tier_of
from ekita.plugins.sap_co.settings import DEFAULT_SKF, SapCoSettings
from ekita.plugins.sap_co.statkeyfig import key_figure_schema, render_snapshot
from ekita.plugins.sap_fi.peer import SapPeer
from ekita.plugins.sap_fi.xmltools import parse_checked
from tests.conftest import work
from tests.test_sap_fi import FAST, deliver_all
from tests.world import build_world, place_child

TIERS = SapCoSettings().tiers
KEY = add_months(date.today().replace(day=20), 1)  # the next month's key date


def small_world(engine):
    """build_world (3 facilities × 50 Kindergarten places, 2 children of 9 h each) plus a
    Krippe group with its own cost centre at the municipal facility: 10 places, one child
    of 8 h."""
    world = build_world(engine)
    with work(engine) as s:
        masterdata.add_care_offer(s, world.facility_m, {
            "care_type": CareType.KRIPPE, "approved_places": 10, "cost_centre": "KST-M1-KR",
            "valid_from": date(2020, 1, 1)})
        place_child(s, world.facility_m, CareType.KRIPPE, birth=KEY - timedelta(days=400),
                    start=KEY - timedelta(days=30))
    return world


def figures_by(figures: list[KeyFigure]) -> dict[tuple, Decimal]:
    return {(f.cost_centre, f.care_type, f.measure, f.tier): f.quantity for f in figures}


def test_key_figures_per_cost_centre_and_care_type(engine):
    """Lastenheft 3.19 (capacity and occupancy by care type and care time on the 20th),
    interfaces.md §6 measures, 3.7.1.1 (a care type may have its own cost centre)."""
    small_world(engine)
    with work(engine) as s:
        got = figures_by(snapshot(s, KEY, PlacementRules(), TIERS))
    kg, kr = CareType.KINDERGARTEN.value, CareType.KRIPPE.value
    for centre in ("KST-M1", "KST-B1", "KST-B2"):
        assert got[(centre, kg, "CAPACITY", None)] == 50
        assert got[(centre, kg, "OCCUPIED", None)] == 2
        assert got[(centre, kg, "OCCUPIED", Decimal("9"))] == 2
        assert got[(centre, kg, "HOURS", Decimal("9"))] == Decimal("18")
        assert (centre, kg, "RESERVED", None) not in got  # zero rows are left out
    assert got[("KST-M1-KR", kr, "CAPACITY", None)] == 10
    assert got[("KST-M1-KR", kr, "OCCUPIED", Decimal("8"))] == 1
    assert got[("KST-M1-KR", kr, "HOURS", Decimal("8"))] == Decimal("8")
    assert got[("KST-M1-KR", kr, "COMMITTED_6M", None)] == 1


def test_key_figures_read_the_term_valid_on_the_key_date(engine):
    """Issue 13 item 3 (SAP-CO key figures, care-hour tiers): an hours change valid from
    the key date counts from that day on, not a day earlier; the day before the key date
    still counts the old term."""
    from ekita.core.models import CareContract
    from ekita.core.services import contracts
    from ekita.core.tracking import valid_from

    world = small_world(engine)
    kr = CareType.KRIPPE.value
    with work(engine) as s:
        krippe = s.scalars(select(CareContract.id).where(
            CareContract.facility_id == world.facility_m,
            CareContract.care_type == CareType.KRIPPE)).one()
        with valid_from(s, KEY):
            contracts.update_contract(s, krippe, {"daily_hours": Decimal("6")},
                                      override_reason="test: mid-month change")
    with work(engine) as s:
        before = figures_by(snapshot(s, KEY - timedelta(days=1), PlacementRules(), TIERS))
        on = figures_by(snapshot(s, KEY, PlacementRules(), TIERS))
    six = tier_of(Decimal("6"), TIERS)
    assert before[("KST-M1-KR", kr, "HOURS", Decimal("8"))] == Decimal("8")
    assert ("KST-M1-KR", kr, "HOURS", six) not in before
    assert on[("KST-M1-KR", kr, "HOURS", six)] == Decimal("6")
    assert ("KST-M1-KR", kr, "HOURS", Decimal("8")) not in on


def test_tier_is_the_smallest_offered_tier_not_below_the_hours():
    """fees.md §3 / Anlage B §4: care-time tiers 4.5, 6, 7, 8, 9, 10, 11 h."""
    assert tier_of(Decimal("4.5"), TIERS) == Decimal("4.5")
    assert tier_of(Decimal("5"), TIERS) == Decimal("6")
    assert tier_of(Decimal("9"), TIERS) == Decimal("9")
    assert tier_of(Decimal("12"), TIERS) == Decimal("11")


def test_skf_codes_fit_sap_and_follow_configuration():
    """interfaces.md §6: SKF codes are configuration; STATKEYFIG is CHAR 6."""
    fig = KeyFigure("KST", "kindergarten", "OCCUPIED", Decimal("4.5"), Decimal(3))
    assert skf_code(fig, {}, DEFAULT_SKF) == "OCCG45"
    assert skf_code(KeyFigure("KST", "krippe", "CAPACITY", None, Decimal(1)), {},
                    DEFAULT_SKF) == "CAPK"
    assert skf_code(fig, {"OCCUPIED:kindergarten": "Z0815"}, DEFAULT_SKF) == "Z0815"
    for care_type in CareType:
        for tier in TIERS:
            code = skf_code(KeyFigure("K", care_type.value, "HOURS", tier, Decimal(1)), {},
                            DEFAULT_SKF)
            assert len(code) <= 6


def test_document_is_shaped_like_the_bapi_input_and_validated():
    """interfaces.md §6: DOC_HEADER (CO_AREA, DOCDATE, POSTGDATE = the 20th, USERNAME) and
    DOC_ITEMS (STATKEYFIG, STAT_QTY with 3 decimals, REC_CCTR); invalid input is refused."""
    payload = {"key_date": "2027-04-20", "co_area": "1000", "run_id": 7,
               "cost_centre": "KST-M1",
               "items": [{"care_type": "kindergarten", "measure": "CAPACITY", "tier": None,
                          "quantity": "50.000", "skf": "CAPG"}]}
    doc = render_snapshot(payload, SapCoSettings())
    root = parse_checked(doc, key_figure_schema(), record="t")
    assert root.findtext("DOC_HEADER/POSTGDATE") == "20270420"
    assert root.findtext("DOC_ITEMS/item/STAT_QTY") == "50.000"
    assert root.findtext("DOC_ITEMS/item/REC_CCTR") == "KST-M1"
    with pytest.raises(RuleViolation):
        render_snapshot({**payload, "items": [{**payload["items"][0], "skf": "TOOLONGCODE"}]},
                        SapCoSettings())
    with pytest.raises(RuleViolation):
        render_snapshot({**payload, "items": []}, SapCoSettings())
    assert etree.fromstring(doc).get("VERSION") == "1"


def _settings(engine, url: str) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False),
                    load_plugins=["sap_co"],
                    adapters={"sap_co": AdapterSection(settings={"url": url}, retry=FAST)},
                    worker=WorkerSettings(batch_size=50, lease_margin_s=1.0, poll_s=0.05))


def test_job_on_the_20th_delivers_each_cost_centre_once(engine):
    """schedules.md (`sap_co.klr_snapshot`, 20th, key (cost centre, …, date)): the job
    enqueues one message per cost centre; a second run of the same key date adds nothing;
    every document is XSD-valid at the SAP peer and the run balances."""
    from ekita.hub.delivery.ops import reconciliation

    small_world(engine)
    with SapPeer() as peer:
        settings = _settings(engine, peer.url)
        loaded = load_plugins(settings)
        (job,) = register_jobs(settings)
        assert job.default_schedule == "0 6 20 * *"
        tick = datetime(KEY.year, KEY.month, KEY.day, 5, tzinfo=UTC)
        runs = []
        for minute in range(2):
            with work(engine) as s:
                run = JobRun(job=job.name, scheduled_for=tick + timedelta(minutes=minute),
                             trigger="test", status=RunStatus.RUNNING)
                s.add(run)
                s.flush()
                job.run(JobContext(session=s, run=run, scheduled_for=run.scheduled_for,
                                   settings=settings))
                runs.append(run.id)
        deliver_all(Worker(engine, loaded, settings, "co-w1"))
        with work(engine) as s:
            messages = s.scalars(select(OutboxMessage)).all()
            first = reconciliation(s, s.get(JobRun, runs[0]))
        assert {m.business_key for m in messages} == {
            f"{KEY.isoformat()}:{c}" for c in ("KST-M1", "KST-M1-KR", "KST-B1", "KST-B2")}
        assert all(m.status == MessageStatus.DELIVERED for m in messages)
        assert first["balanced"] and first["records_in"] == 4
        assert sum(peer.effects.values()) == 4
        received = {(f["rec_cctr"], f["statkeyfig"]): f["stat_qty"]
                    for f in peer.state.key_figures}
    assert received[("KST-B1", "CAPG")] == "50.000"
    assert received[("KST-M1-KR", "OCCK08")] == "1.000"
