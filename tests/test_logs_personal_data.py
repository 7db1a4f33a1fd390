"""No personal data in any log line, even with everything at DEBUG (issue 12 item 8).

Threat: logs are read, shipped and kept by more people and systems than the database
(operators, log collectors, support tickets); a name, an address or an IBAN in a log line
is social data (§ 35 SGB I) outside every access rule of data-protection §3. Sources found
and closed: SQL parameters in database errors (and PostgreSQL's DETAIL, which repeats the
failing row), httpx logging KIS query strings at INFO, zeep logging whole MESO envelopes at
DEBUG. The flow runs through the real API, the real KIS REST and MESO SOAP sandbox peers on
localhost, and the real database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from ekita.core.models import Application
from ekita.core.models.enums import Role
from ekita.core.services import registries
from ekita.hub.api.app import create_app
from ekita.hub.config import AdapterSection, RetryPolicy, Settings
from ekita.hub.plugins import load_plugins
from ekita.plugins import kis
from ekita.plugins.kis.peer import KisPeer
from ekita.plugins.meso.peer import MesoPeer
from ekita.plugins.meso.register import Resident, key_of
from tests.api import key
from tests.conftest import work
from tests.delivery_kit import url_of
from tests.test_placement_flow import CONSENT, LATE
from tests.world import build_placement_world

FAMILY = "Zauberkraut"
CHILD = "Quirinius"
GUARDIAN = "Wilhelmine"
BIRTH = date(2023, 5, 17)
#: A street of the KIS directory (so the REST peer resolves it); house number and postcode.
HOME = {"street": "Lindenstraße", "house_no": "4", "postcode": "01067", "town": "Dresden"}
EMAIL = "wilhelmine.zauberkraut@example.org"
PHONE = "0351 4711 0815"
IBAN = "DE89370400440532013000"
#: Every personal value the flow creates; none may appear in any captured record.
PERSONAL = (FAMILY, CHILD, GUARDIAN, BIRTH.isoformat(), HOME["street"], EMAIL, PHONE, IBAN,
            "Lindenstra")  # also URL-encoded ("Lindenstra%C3%9Fe")
FAST = RetryPolicy(max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.05, jitter_s=0.0,
                   timeout_s=5.0)


@pytest.fixture(scope="module")
def peers() -> Iterator[tuple[KisPeer, MesoPeer]]:
    with KisPeer() as k, MesoPeer({}) as m:
        yield k, m


@pytest.fixture(autouse=True)
def _uninstall(peers: tuple[KisPeer, MesoPeer]) -> Iterator[None]:
    peers[1].service.clear()
    yield
    registries.uninstall_all()
    kis._state["settings"] = kis.KisSettings()


def hub(engine, peers: tuple[KisPeer, MesoPeer], **extra) -> TestClient:
    """The hub's API with KIS over REST and MESO over SOAP, against the sandbox peers."""
    kis_peer, meso_peer = peers
    settings = Settings(
        database_url=url_of(engine), load_plugins=["kis", "meso"],
        adapters={"kis": AdapterSection(settings={"source": "rest", "url": kis_peer.url}),
                  "meso": AdapterSection(settings={"url": meso_peer.url}, retry=FAST)},
        **extra)
    return TestClient(create_app(settings, engine, load_plugins(settings)))


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write of a record: message, arguments, exception, stack."""
    parts = [record.getMessage(), repr(record.args), record.exc_text or "",
             record.stack_info or ""]
    if record.exc_info:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


def leaks(records: list[logging.LogRecord]) -> list[tuple[str, str]]:
    """(logger, value) for each personal value found in a record."""
    return [(r.name, value) for r in records for value in PERSONAL
            if value.lower() in record_text(r).lower()]


def run_flow(engine, api: TestClient, meso_peer: MesoPeer) -> int:
    """Family, child and guardian with address, contacts and IBAN, then an application that
    the hub checks with MESO at intake; returns the application id."""
    world = build_placement_world(engine)
    zvs, finance = key(engine, Role.ZVS), key(engine, Role.FINANCE)
    meso_peer.service.register[key_of(FAMILY, CHILD, BIRTH)] = [
        Resident((HOME["street"], HOME["house_no"], HOME["postcode"], HOME["town"]),
                 "registered", None)]
    family = api.post("/api/v1/families", json={}, headers=zvs)
    assert family.status_code == 201, family.text
    family_id = family.json()["id"]
    guardian = api.post("/api/v1/guardians", headers=zvs, json={
        "family_id": family_id, "family_name": FAMILY, "first_name": GUARDIAN, **HOME,
        "contacts": [{"kind": "email", "value": EMAIL, "visibility": "administrative"},
                     {"kind": "phone", "value": PHONE, "visibility": "emergency"}]})
    assert guardian.status_code == 201, guardian.text
    child = api.post("/api/v1/children", headers=zvs, json={
        "family_id": family_id, "family_name": FAMILY, "first_name": CHILD,
        "birth_date": BIRTH.isoformat(), **HOME})
    assert child.status_code == 201, child.text
    child_id = child.json()["id"]
    linked = api.post(f"/api/v1/children/{child_id}/guardians", headers=zvs,
                      json={"guardian_id": guardian.json()["id"]})
    assert linked.status_code == 201, linked.text
    paid = api.put("/api/v1/fees/payment-setups", headers=finance, json={
        "guardian_id": guardian.json()["id"], "payment_method": "DIRECT_DEBIT", "iban": IBAN,
        "holder": f"{GUARDIAN} {FAMILY}", "mandate_reference": "M-1",
        "mandate_signed_on": "2027-01-04"})
    assert paid.status_code in (200, 201), paid.text
    search = api.get("/api/v1/children", params={"q": FAMILY}, headers=zvs)
    assert search.status_code == 200 and search.json()["total"] == 1
    filed = api.post("/api/v1/placement/applications", headers=zvs, json={
        "child_ids": [child_id], "desired_start": LATE.isoformat(), "daily_hours": "9",
        "preferences": [{"facility_id": world.roomy}], "consents": CONSENT})
    assert filed.status_code == 201, filed.text
    return filed.json()["application"]["id"]


def provoke_integrity_error(engine) -> None:
    """A row the database refuses, with personal values among its parameters, logged the
    way an unexpected error is logged (with its traceback)."""
    log = logging.getLogger("ekita.test")
    with pytest.raises(IntegrityError) as caught, work(engine) as s:
        s.execute(text("INSERT INTO guardian (family_id, family_name, first_name, street, "
                       "employer) VALUES (NULL, :family, :first, :street, :iban)"),
                  {"family": FAMILY, "first": GUARDIAN, "street": HOME["street"],
                   "iban": IBAN})
    log.exception("database refused a row", exc_info=caught.value)
    log.error("database refused a row: %s", caught.value)


def test_a_whole_flow_at_debug_logs_no_personal_value(engine, peers, caplog):
    """Issue 12 item 8, data-protection M9 ("no secrets in logs") and § 35 SGB I: with the
    root logger at DEBUG (and SQL logging on), a whole flow through the API, KIS over REST,
    MESO over SOAP and a refused database row leaves no name, address, e-mail, phone, birth
    date or IBAN in any log record: not in a message, its arguments or a traceback."""
    meso_peer = peers[1]
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # statements, not parameters
    api = hub(engine, peers)
    app_id = run_flow(engine, api, meso_peer)
    provoke_integrity_error(engine)
    with work(engine) as s:  # the flow really ran through both peers
        assert s.get(Application, app_id).address_in_registry is True
    assert meso_peer.service.requests and CHILD.encode() in meso_peer.service.requests[-1]
    names = {r.name for r in caplog.records}
    assert "ekita.access" in names and "sqlalchemy.engine.Engine" in names
    assert "ekita.test" in names
    assert not [r for r in caplog.records if "KIS unavailable" in r.getMessage()]  # REST used
    assert leaks(caplog.records) == []


def test_lowering_the_transport_log_level_shows_what_the_default_hides(engine, peers, caplog):
    """Issue 12 item 8, the control: ``transport_log_level = "DEBUG"`` (for debugging with
    test data only) lets httpx log the KIS query strings (addresses), so the capture above
    would have seen them; the default keeps httpx, urllib3 and zeep at WARNING."""
    caplog.set_level(logging.DEBUG)
    api = hub(engine, peers, transport_log_level="DEBUG")
    run_flow(engine, api, peers[1])
    found = {name.split(".")[0] for name, _ in leaks(caplog.records)}
    assert "httpx" in found
    assert found <= {"httpx", "httpcore", "urllib3", "zeep"}  # the hub's own lines stay clean
    hub(engine, peers)  # the default again, for the tests after this one
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("zeep.transports").level == logging.WARNING
