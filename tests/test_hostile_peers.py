"""Hostile peers never block or crash the hub (issue 12 item 5); honest anonymous health
(issue 12 item 9).

Threats: a peer that drips one byte every half second, hangs after accepting, floods an
endless body or answers garbage (not JSON/XML, deep nesting, entities, wrong types,
missing keys). Against each: the MESO check when filing an application and the KIS lookup
when saving an address end within the deadline + 1 s in their documented degraded mode
(docs/registries.md: "check pending" / review list ``kis_unavailable``), never with a 500;
while the peer hangs no write lock is held (a write from another connection succeeds); a
worker delivery through the generic HTTP path ends as a transient or permanent error; a
flood is cut at the cap. All against real sockets (``ekita.hub.testkit.hostile``).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ekita.core.models import (
    AddressDistrict,
    AddressReview,
    Application,
    OutboxMessage,
    RegistryCheck,
)
from ekita.core.models.enums import Role
from ekita.core.models.exchange import MessageStatus
from ekita.core.services import people, registries
from ekita.hub import peers
from ekita.hub.api.app import create_app
from ekita.hub.config import AdapterSection, RetryPolicy, Settings
from ekita.hub.delivery.errors import (
    AnswerTooLarge,
    DeadlineExceeded,
    MalformedAnswer,
    PermanentError,
    TransientError,
)
from ekita.hub.hookspecs import hookimpl
from ekita.hub.plugins import load_plugins
from ekita.hub.registrations import AdapterSettings, Delivery, HealthResult
from ekita.hub.testkit.hostile import HostilePeer, deep_json, deep_xml, entity_xml, wait_for
from ekita.plugins import kis, meso
from ekita.plugins.kis import client as kis_client
from ekita.plugins.meso import client as meso_client
from ekita.plugins.meso.codes import NS, Purpose
from ekita.plugins.meso.settings import MesoSettings
from ekita.plugins.sap_fi.transport import to_http
from tests.api import key
from tests.conftest import work
from tests.delivery_kit import make_worker, put, url_of
from tests.test_meso import FIELDS, applicant_at_home
from tests.test_placement_flow import LATE, form
from tests.world import build_placement_world

DEADLINE = 0.6  # the peers' deadline in these tests; each must end by DEADLINE + 1 s
SLACK = 1.0
HOME = {"street": "Lindenstraße", "house_no": "12", "postcode": "01067", "town": "Dresden"}
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
CLOSED = "http://127.0.0.1:9"  # nothing listens: a fast refusal


def soap(body: str) -> bytes:
    return (f'<?xml version="1.0"?><s:Envelope xmlns:s="{SOAP}"><s:Body>{body}</s:Body>'
            f"</s:Envelope>").encode()


WRONG_TYPES = soap(f'<m:CheckAddressResponse xmlns:m="{NS}"><m:RequestId>x</m:RequestId>'
                   f"<m:ResultCode>99</m:ResultCode><m:MovedOn>soon</m:MovedOn>"
                   f"<m:CheckedAt>yesterday</m:CheckedAt></m:CheckAddressResponse>")
MISSING_KEYS = soap(f'<m:CheckAddressResponse xmlns:m="{NS}"/>')
#: Garbage a MESO peer may send: (name, body, content type).
MESO_GARBAGE = [("not_xml", b"<html>proxy error", "text/xml"),
                ("deep_xml", deep_xml(), "text/xml"),
                ("entities", entity_xml(), "text/xml"),
                ("wrong_types", WRONG_TYPES, "text/xml"),
                ("missing_keys", MISSING_KEYS, "text/xml"),
                ("json", b'{"ResultCode": "01"}', "application/json")]
#: Garbage a KIS peer may send.
KIS_GARBAGE = [("not_json", b"<html>", "text/html"),
               ("deep_json", deep_json(), "application/json"),
               ("wrong_types", json.dumps({k: ["x"] for k in (
                   "street_key", "postcode", "stadtteil_nr", "stadtteil", "bezirk", "art",
                   "source_version")}).encode(), "application/json"),
               ("missing_keys", b'{"street_key": "1"}', "application/json"),
               ("list", b"[1, 2, 3]", "application/json")]
HOSTILE_MODES = ["drip", "hang", "flood"]


@pytest.fixture(autouse=True)
def _uninstall() -> Iterator[None]:
    yield
    registries.uninstall_all()
    kis._state["settings"] = kis.KisSettings()
    meso._state["settings"] = MesoSettings()


def peer_for(mode: str, garbage: tuple[str, bytes, str] | None = None) -> HostilePeer:
    if garbage is not None:
        return HostilePeer("garbage", body=garbage[1], content_type=garbage[2])
    return HostilePeer(mode, interval=0.5)  # type: ignore[arg-type]


CASES = [(m, None) for m in HOSTILE_MODES]


def _ids(case: Any) -> str:
    return case[0] if case[1] is None else f"garbage-{case[1][0]}"


# ------------------------------------------------------------ the outbound-call helper


@pytest.mark.parametrize("mode", ["drip", "hang"])
def test_total_deadline_holds_against_dripping_and_hanging_peers(mode):
    """Issue 12 item 5, threat: httpx's per-read timeouts never fire on a peer dripping a
    byte every 0.5 s (status line and headers included). The total deadline does."""
    with HostilePeer(mode, interval=0.5) as peer:  # type: ignore[arg-type]
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match="timeout"):
            peers.call("GET", peer.url, peer="test", deadline_s=1.2)
        assert time.monotonic() - started < 1.2 + SLACK
        assert peer.requests == 1 and (mode == "hang" or peer.sent_bytes >= 1)


def test_a_flood_is_cut_at_the_cap_without_reading_it_whole():
    """Issue 12 item 5, threat: a 200 MB answer read into memory. Reading stops past the
    cap with a permanent error; the hub's memory peak stays near the cap."""
    with HostilePeer("flood") as peer:
        tracemalloc.start()
        try:
            with pytest.raises(AnswerTooLarge, match="cap of 1048576"):
                peers.call("GET", peer.url, peer="test", deadline_s=10, max_bytes=1024 * 1024)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 8 * 1024 * 1024
        sent = peer.sent_bytes
        time.sleep(0.3)  # the peer gives up once the hub has hung up
        assert peer.sent_bytes - sent < 16 * 1024 * 1024


def test_a_declared_oversize_answer_is_refused_before_reading():
    """Issue 12 item 5: a Content-Length over the cap is refused at the headers."""
    with HostilePeer("garbage", body=b"x" * 4096) as peer, \
            pytest.raises(AnswerTooLarge, match="4096 bytes"):
        peers.call("GET", peer.url, peer="test", deadline_s=2, max_bytes=1000)


def test_peer_json_and_xml_parsers_refuse_bombs_cleanly():
    """Issue 12 item 5, data-protection SEC6: deep nesting, DOCTYPE/entities, non-XML become
    ``MalformedAnswer`` (transient), never a RecursionError or an expanded entity."""
    with pytest.raises(MalformedAnswer, match="deeper than 64"):
        peers.parse_json(b"[" * 65 + b"]" * 65, "test")
    with pytest.raises(MalformedAnswer, match="not JSON"):
        peers.parse_json(deep_json(), "test")
    with pytest.raises(MalformedAnswer):
        peers.parse_xml(deep_xml(), "test")
    with pytest.raises(MalformedAnswer, match="DOCTYPE"):
        peers.parse_xml(entity_xml(), "test")
    for encoding in ("utf-16-le", "utf-16-be", "utf-32-le"):  # no BOM: decided after decoding
        with pytest.raises(MalformedAnswer, match="DOCTYPE"):
            peers.parse_xml('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'.encode(encoding), "test")
    with pytest.raises(MalformedAnswer):
        peers.parse_xml(b"<a><b></a>", "test")
    assert peers.parse_xml(b"<a><b>1</b></a>", "test").findtext("b") == "1"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_peer_json_parser_never_fails_other_than_malformed(data):
    """Issue 12 item 5 (property): any bytes are JSON or ``MalformedAnswer``, nothing else."""
    with contextlib.suppress(MalformedAnswer):
        peers.parse_json(data, "test")


# ------------------------------------------------------------ MESO: filing an application


def baseline(request: Any, args: list[Any]) -> float:
    """The hub's own time for the request (peer refusing at once), after a warm-up: what a
    hostile peer adds is measured on top of it, so a loaded test machine does not count."""
    took = []
    for arg in args:
        started = time.monotonic()
        assert request(arg).status_code in (200, 201)
        took.append(time.monotonic() - started)
    return min(took[1:] or took)


def timed(run: Any, bound: float) -> tuple[Any, float]:
    """``run()``'s answer and seconds; run once more when the first took longer than
    ``bound``, so a stall of a loaded test machine is not taken for the hub waiting on
    the peer (a hub that waits fails both runs)."""
    for _ in range(2):
        started = time.monotonic()
        answer = run()
        took = time.monotonic() - started
        if took < bound:
            break
    return answer, took


def warm(api: TestClient) -> TestClient:
    """One request first, so the timings measure the peer, not the app's first request."""
    assert api.get("/health").status_code == 200
    return api


def meso_api(engine, url: str, timeout_s: float = DEADLINE) -> TestClient:
    settings = Settings(database_url=url_of(engine), load_plugins=["meso"], adapters={
        "meso": AdapterSection(settings={"url": url, "intake_timeout_s": timeout_s})})
    return warm(TestClient(create_app(settings, engine, load_plugins(settings))))


def file_application(api: TestClient, headers: dict[str, str], child: int, facility: int
                     ) -> Any:
    body = json.loads(json.dumps(form([child], facility, start=LATE), default=str))
    return api.post("/api/v1/placement/applications", json=body, headers=headers)


@pytest.mark.parametrize("case", CASES + [("garbage", g) for g in MESO_GARBAGE], ids=_ids)
def test_meso_filing_degrades_to_check_pending_within_the_deadline(engine, case):
    """Issue 12 item 5, placement.md §3 (7): a dripping, hanging, flooding or garbage MESO
    never fails the filing: 201 within deadline + 1 s, check "pending", a queued re-check."""
    world = build_placement_world(engine)
    *children, spare_a, spare_b = (applicant_at_home(engine, n) for n in (1, 2, 3, 4))
    headers = key(engine, Role.ZVS)
    refused = meso_api(engine, CLOSED)
    own = baseline(lambda c: file_application(refused, headers, c, world.roomy),
                   [spare_a, spare_b])
    with peer_for(*case) as peer:
        api = meso_api(engine, peer.url)
        answer, took = timed(lambda: file_application(api, headers, children.pop(), world.roomy),
                             own + DEADLINE + SLACK)
        assert answer.status_code == 201, answer.text
        assert took < own + DEADLINE + SLACK, (took, own)
        assert peer.requests >= 1  # MESO was really asked
    with work(engine) as s:
        app = s.get(Application, answer.json()["application"]["id"])
        assert app.address_in_registry is None and len(app.child_ids) == 1
        (check,) = s.scalars(select(RegistryCheck).where(
            RegistryCheck.application_id == app.id)).all()
        assert (check.outcome, check.effect) == ("pending", "check_pending")
        assert s.scalar(select(OutboxMessage.operation).where(
            OutboxMessage.business_key.startswith(f"{app.id}:"))) == "intake"


def test_meso_hanging_holds_no_write_lock(engine):
    """Issue 12 item 5, observed: a slow MESO held the filing and another process's write
    failed with "database is locked". Now the check runs before the filing writes: while
    MESO hangs, a write from another connection succeeds at once."""
    world = build_placement_world(engine)
    child = applicant_at_home(engine, 1)
    with HostilePeer("hang") as peer:
        api = meso_api(engine, peer.url, timeout_s=4.0)
        headers = key(engine, Role.ZVS)
        answers: list[Any] = []
        filing = threading.Thread(target=lambda: answers.append(
            file_application(api, headers, child, world.roomy)))
        filing.start()
        assert wait_for(lambda: peer.requests == 1)
        started = time.monotonic()
        with work(engine) as s:  # another connection writes while MESO hangs
            people.create_family(s, {})
        assert time.monotonic() - started < 1.0
        assert filing.is_alive()  # the filing is still waiting for MESO
        filing.join(10)
    assert answers and answers[0].status_code == 201


def test_meso_client_errors_are_transient_or_permanent_never_other(engine):
    """Issue 12 item 5: every hostile answer ends as ``TransientError`` or
    ``PermanentError`` from the zeep client (wrong types and missing keys: permanent)."""
    expected = {"wrong_types": PermanentError, "missing_keys": PermanentError,
                "entities": PermanentError}
    for name, body, content_type in MESO_GARBAGE:
        with HostilePeer("garbage", body=body, content_type=content_type) as peer:
            settings = MesoSettings(url=f"{peer.url}/meso")
            with pytest.raises((TransientError, PermanentError)) as raised:
                meso_client.check(settings, "r-1", Purpose.INTAKE, FIELDS, DEADLINE)
            assert isinstance(raised.value, expected.get(name, TransientError)), (name, raised)
    with HostilePeer("flood") as peer, pytest.raises(AnswerTooLarge):
        meso_client.check(MesoSettings(url=peer.url), "r-1", Purpose.INTAKE, FIELDS, 5.0)


# ------------------------------------------------------------ KIS: saving an address


def kis_api(engine, url: str, timeout_s: float = DEADLINE) -> TestClient:
    settings = Settings(database_url=url_of(engine), load_plugins=["kis"], adapters={
        "kis": AdapterSection(settings={"source": "rest", "url": url, "timeout_s": timeout_s})})
    return warm(TestClient(create_app(settings, engine, load_plugins(settings))))


def save_guardian(api: TestClient, headers: dict[str, str], family_id: int) -> Any:
    return api.post("/api/v1/guardians", headers=headers, json={
        "family_id": family_id, "family_name": "Muster", "first_name": "Erika", **HOME})


@pytest.mark.parametrize("case", CASES + [("garbage", g) for g in KIS_GARBAGE], ids=_ids)
def test_kis_address_save_degrades_to_the_review_list_within_the_deadline(engine, case):
    """Issue 12 item 5, observed: a malformed KIS answer turned address saves into HTTP
    500. Now the save answers 201 within deadline + 1 s; the embedded directory assigns
    the district and the address goes on the review list as ``kis_unavailable``."""
    with work(engine) as s:
        family_id = people.create_family(s, {}).id
    headers = key(engine, Role.ADMIN)
    refused = kis_api(engine, CLOSED)
    own = baseline(lambda f: save_guardian(refused, headers, f), [family_id] * 2)
    with peer_for(*case) as peer:
        api = kis_api(engine, peer.url)
        answer, took = timed(lambda: save_guardian(api, headers, family_id),
                             own + DEADLINE + SLACK)
        assert answer.status_code == 201, answer.text
        assert took < own + DEADLINE + SLACK, (took, own)
        assert peer.requests >= 1
    guardian_id = answer.json()["id"]
    with work(engine) as s:
        district = s.scalars(select(AddressDistrict).where(
            AddressDistrict.entity_id == guardian_id, AddressDistrict.valid_to.is_(None))).one()
        assert district.stadtteil_nr == "01"
        reviews = s.scalars(select(AddressReview).where(AddressReview.entity_id == guardian_id))
        assert [r.reason for r in reviews] == ["kis_unavailable"]


def test_kis_hanging_holds_no_write_lock(engine):
    """Issue 12 item 5: KIS is asked only after the save's commit, so while it hangs a
    write from another connection succeeds at once."""
    with work(engine) as s:
        family_id = people.create_family(s, {}).id
    with HostilePeer("hang") as peer:
        api = kis_api(engine, peer.url, timeout_s=4.0)
        headers = key(engine, Role.ADMIN)
        answers: list[Any] = []
        save = threading.Thread(target=lambda: answers.append(
            save_guardian(api, headers, family_id)))
        save.start()
        assert wait_for(lambda: peer.requests == 1)
        started = time.monotonic()
        with work(engine) as s:
            people.create_family(s, {})
        assert time.monotonic() - started < 1.0 and save.is_alive()
        save.join(10)
    assert answers and answers[0].status_code == 201


def test_kis_street_suggestions_fall_back_on_a_hostile_peer(engine):
    """Issue 12 item 5: street suggestions (no transaction) use the embedded directory
    when KIS drips, hangs, floods or answers garbage; never a 500."""
    headers = key(engine, Role.ZVS)

    def streets(api: TestClient) -> Any:
        return api.get("/api/v1/addresses/streets", params={"prefix": "Linden"},
                       headers=headers)

    refused = kis_api(engine, CLOSED)
    own = baseline(lambda _: streets(refused), [None] * 2)
    for mode, garbage in CASES + [("garbage", g) for g in KIS_GARBAGE]:
        with peer_for(mode, garbage) as peer:
            api = kis_api(engine, peer.url)
            answer, took = timed(lambda api=api: streets(api), own + DEADLINE + SLACK)
            assert answer.status_code == 200 and answer.json(), (mode, garbage)
            assert took < own + DEADLINE + SLACK, (mode, garbage and garbage[0], took)


def test_kis_client_turns_wrong_shapes_into_kis_unavailable():
    """Issue 12 item 5: wrong types and missing keys end as ``KisUnavailable``."""
    for _, body, content_type in KIS_GARBAGE:
        with HostilePeer("garbage", body=body, content_type=content_type) as peer:
            with pytest.raises(kis_client.KisUnavailable):
                kis_client.resolve(peer.url, DEADLINE, **HOME)
            with pytest.raises(kis_client.KisUnavailable):
                kis_client.suggest(peer.url, DEADLINE, "Linden")


# ------------------------------------------------------------ worker: generic HTTP path


FAST = RetryPolicy(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.05, jitter_s=0.0,
                   timeout_s=DEADLINE)


@pytest.mark.parametrize("mode", ["drip", "hang", "flood", "garbage"])
def test_worker_delivery_to_a_hostile_peer_ends_in_time_with_a_clear_error(engine, mode):
    """Issue 12 item 5: the worker's HTTP deliveries keep the adapter's ``timeout_s`` as a
    total deadline: drip and hang are transient (retried), a flood is permanent (dead at
    once, cut at the cap); a garbage 200 is delivered without a reference."""
    with HostilePeer(mode, body=b"<<garbage>>" * 3) as peer:  # type: ignore[arg-type]
        worker = make_worker(engine, peer, retry=FAST)  # type: ignore[arg-type]
        (message_id,) = put(engine)
        started = time.monotonic()
        worker.run_once()
        assert time.monotonic() - started < DEADLINE + SLACK
    with work(engine) as s:
        row = s.get(OutboxMessage, message_id)
        if mode == "garbage":
            assert row.status == MessageStatus.DELIVERED
        elif mode == "flood":
            assert row.status == MessageStatus.DEAD and "cap" in row.last_error
        else:
            assert row.status == MessageStatus.FAILED and "timeout" in row.last_error


@pytest.mark.parametrize("mode", ["drip", "hang", "flood", "garbage"])
def test_sap_transport_check_before_resend_is_bounded_too(mode):
    """Issue 12 item 5: SAP-FI's "did the key take effect?" GET and its send are bounded
    and capped; the garbage answer to a 200 check still counts as "taken" (no resend)."""
    delivery = Delivery(message_id=1, adapter="sap_fi", operation="debmas", business_key="b",
                        idempotency_key="sap_fi:1", payload={}, payload_ref=None, attempt=2,
                        timeout_s=DEADLINE, settings=AdapterSettings(),
                        retryable_status=frozenset({500}))
    with HostilePeer(mode, body=deep_json()) as peer:  # type: ignore[arg-type]
        started = time.monotonic()
        if mode == "garbage":
            assert to_http(peer.url, delivery, "DEBMAS", b"<x/>", ".xml").reference \
                == "already delivered"
        else:
            with pytest.raises(TransientError if mode != "flood" else PermanentError):
                to_http(peer.url, delivery, "DEBMAS", b"<x/>", ".xml")
        assert time.monotonic() - started < DEADLINE + SLACK


# ------------------------------------------------------------ health (issue 12 item 9)


class _SlowHealth:
    """A plugin whose health check takes 5 s (a peer that hangs)."""

    @hookimpl
    def health_checks(self, settings: Settings) -> list[HealthResult]:
        time.sleep(5)
        return [HealthResult("slow", True, "late")]


def test_anonymous_health_says_only_up_and_asks_no_peer(engine):
    """Issue 12 item 9, observed: the anonymous /health took 40 s and showed the MESO URL.
    Now it answers at once with only ``{"status": "up"}``: no URL, plugin or error."""
    with HostilePeer("hang") as peer:
        settings = Settings(database_url=url_of(engine), adapters={
            "meso": AdapterSection(settings={"url": f"{peer.url}/meso"})})
        api = TestClient(create_app(settings, engine, load_plugins(
            settings, extra=[("slow", _SlowHealth())])))
        for headers in ({}, {"Authorization": "Bearer ekita_nope_nope"},
                        key(engine, Role.ZVS)):
            started = time.monotonic()
            answer = api.get("/health", headers=headers)
            assert time.monotonic() - started < 0.5
            assert answer.status_code == 200 and answer.json() == {"status": "up"}
            assert peer.url not in answer.text and "meso" not in answer.text
        assert peer.requests == 0


@pytest.mark.parametrize("role", [Role.OPS, Role.ADMIN])
def test_ops_health_has_the_details_within_a_short_bound(engine, role):
    """Issue 12 item 9: an ops or admin key sees the database, plugins and checks; a check
    waiting on a hanging peer is reported as not answering within the budget."""
    with HostilePeer("hang") as peer:
        settings = Settings(database_url=url_of(engine), adapters={
            "meso": AdapterSection(settings={"url": f"{peer.url}/meso"})})
        api = TestClient(create_app(settings, engine, load_plugins(
            settings, extra=[("slow", _SlowHealth())])))
        started = time.monotonic()
        answer = api.get("/health", headers=key(engine, role))
        assert time.monotonic() - started < 2.0 + SLACK
    body = answer.json()
    assert answer.status_code == 200 and body["status"] == "up" and body["degraded"]
    assert body["database"] == {"ok": True} and "meso" in body["plugins"]
    checks = {c["name"]: c for c in body["checks"]}
    assert not checks["meso.peer"]["ok"] and "timeout" in checks["meso.peer"]["detail"]
    assert checks["slow"] == {"name": "slow", "ok": False, "detail": "no answer within 2 s"}


def test_health_is_down_when_the_database_is_gone(engine, tmp_path):
    """Issue 12 item 9: "down" when the database does not answer, still with no detail."""
    from ekita.core.db.session import make_engine

    gone = make_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
    settings = Settings(database_url=url_of(engine))
    api = TestClient(create_app(settings, gone, load_plugins(settings)))
    answer = api.get("/health")
    assert answer.status_code == 503 and answer.json() == {"status": "down"}


def test_deadline_contexts_nest_to_the_earlier_end():
    """Issue 12 item 5: an inner call can never outlive its caller's deadline."""
    with peers.deadline(5.0) as outer, peers.deadline(60.0) as inner:
        assert inner == outer
    assert peers._deadline.get() is None  # no deadline left behind


@pytest.mark.parametrize("mode", ["hang", "flood", "garbage"])
def test_arrears_fetch_from_a_hostile_sap_is_bounded(mode):
    """Issue 12 items 5 and 6: the daily arrears fetch from SAP-FI ends within its total
    deadline, stops a flood at the arrears cap and turns garbage into a clear error."""
    from datetime import date

    from ekita.hub.delivery.errors import DeliveryError
    from ekita.plugins.sap_fi import fetch_arrears
    from ekita.plugins.sap_fi.settings import SapFiSettings

    with HostilePeer(mode, interval=0.5, body=b'{"document": 17}') as peer:  # type: ignore[arg-type]
        config = SapFiSettings(url=peer.url, arrears_timeout_s=1.0)
        started = time.monotonic()
        with pytest.raises(DeliveryError):
            fetch_arrears(config, date(2027, 4, 2))
        assert time.monotonic() - started < 2.5
