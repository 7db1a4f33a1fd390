"""MESO adapter (issue 6): contract, zeep client, sandbox SOAP peer over real HTTP, intake
flag, batch re-check through the delivery engine, faults. Spec: interfaces.md §2, §3;
placement.md §3 (7), §4 W3; data-protection C4, C5, SEC6; Lastenheft 3.2.4, 3.3.2, 3.4.4."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import select

from ekita.core.db.base import utcnow
from ekita.core.errors import RuleViolation
from ekita.core.models import Application, AuditEvent, DomainEvent, OutboxMessage, RegistryCheck
from ekita.core.models.exchange import MessageStatus
from ekita.core.models.placement import ApplicationState, InactiveReason
from ekita.core.outbox import enqueue
from ekita.core.services import people, registries
from ekita.core.services.placement.tick import tick
from ekita.hub.config import AdapterSection, RetryPolicy, Settings, WorkerSettings
from ekita.hub.delivery.errors import PermanentError, TransientError
from ekita.hub.delivery.worker import Worker
from ekita.hub.placement_jobs import recheck_via
from ekita.hub.plugins import load_plugins
from ekita.hub.testkit.peer import SandboxPeer
from ekita.plugins import meso
from ekita.plugins.meso import client
from ekita.plugins.meso.codes import NS, Purpose, ResultCode, wsdl_path
from ekita.plugins.meso.peer import MesoPeer, RequestRefused, parse_envelope
from ekita.plugins.meso.register import Resident, key_of
from ekita.plugins.meso.settings import MesoSettings
from tests.conftest import work
from tests.delivery_kit import deliver_all, url_of
from tests.test_placement_flow import LATE, ON, RULES, form, submit
from tests.world import add_applicant, build_placement_world

FAST = RetryPolicy(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.05, jitter_s=0.0,
                   timeout_s=2.0)
HOME = ("Lindenstraße", "4", "01067", "Dresden")
FIELDS = {"family_name": "Antrag1", "first_name": "Kind", "birth_date": "2023-05-10",
          "street": HOME[0], "house_no": HOME[1], "postcode": HOME[2], "town": HOME[3]}
RECHECK_DAY = date(2028, 1, 2)  # within 5 weeks of LATE's window entry (2028-02-01)


@pytest.fixture(scope="module")
def peer() -> Iterator[MesoPeer]:
    with MesoPeer({}) as p:
        yield p


@pytest.fixture(autouse=True)
def _clean(peer: MesoPeer) -> Iterator[None]:
    peer.service.clear()
    peer.service.register = {}
    yield
    registries.install_intake_check(None)


def hub_settings(engine, url: str, **meso_settings) -> Settings:
    return Settings(database_url=url_of(engine), load_plugins=["meso", "placement_jobs"],
                    adapters={"meso": AdapterSection(settings={"url": url, **meso_settings},
                                                     retry=FAST)},
                    worker=WorkerSettings(poll_s=0.05, lease_margin_s=1.0))


def loaded(engine, url: str, **meso_settings):
    settings = hub_settings(engine, url, **meso_settings)
    return settings, load_plugins(settings)


def resident(peer: MesoPeer, n: int, address=HOME, status="registered", moved_on=None,
             birth: date = date(2023, 5, 10)) -> None:
    peer.service.register[key_of(f"Antrag{n}", "Kind", birth)] = [
        Resident(address, status, moved_on)]


def applicant_at_home(engine, n: int, birth: date = date(2023, 5, 10)) -> int:
    with work(engine) as s:
        child, _ = add_applicant(s, n, birth)
        people.update_child(s, child, {"street": HOME[0], "house_no": HOME[1],
                                       "postcode": HOME[2], "town": HOME[3]})
        return child


# ------------------------------------------------------------ contract and client


def test_wsdl_ships_with_the_package_and_the_client_is_hardened(peer):
    """interfaces.md §2.5, §3; SEC6: WSDL from the package, no DTD/entities/external."""
    assert wsdl_path().is_file() and wsdl_path().with_suffix(".xsd").is_file()
    c = client.client_for(MesoSettings(url=peer.url), 3.0)
    assert c.settings.forbid_dtd and c.settings.forbid_entities and c.settings.forbid_external
    assert c.settings.strict
    assert c.wsdl.location == str(wsdl_path())
    assert c.transport.operation_timeout == 3.0
    assert client.client_for(MesoSettings(url=peer.url), 3.0) is c  # one per process


@pytest.mark.parametrize(("status", "address", "code"), [
    ("registered", HOME, ResultCode.REGISTERED),
    ("registered", ("Ahornweg", "1", "01326", "Dresden"), ResultCode.MOVED_WITHIN_DRESDEN),
    ("moved_away", HOME, ResultCode.MOVED_AWAY),
    ("blocked", HOME, ResultCode.INFORMATION_BLOCKED),
    (None, HOME, ResultCode.NOT_FOUND),
])
def test_peer_answers_every_result_code_over_http(peer, status, address, code):
    """interfaces.md §3: each result code of the contract, over real SOAP on localhost."""
    if status:
        resident(peer, 1, address, status, date(2026, 9, 1) if status == "moved_away" else None)
    result = client.check(MesoSettings(url=peer.url), "r1", Purpose.RECHECK, FIELDS, 2.0)
    assert result.code is code and result.request_id == "r1"
    assert (result.moved_on is not None) == (code is ResultCode.MOVED_AWAY)
    assert (result.registered_address is not None) == (code is ResultCode.MOVED_WITHIN_DRESDEN)


def test_ambiguous_when_two_residents_match(peer):
    """interfaces.md §3: several persons with the same name and birth date → code 06."""
    peer.service.register[key_of("Antrag1", "Kind", date(2023, 5, 10))] = [
        Resident(HOME), Resident(("Ahornweg", "1", "01326", "Dresden"))]
    result = client.check(MesoSettings(url=peer.url), "r1", Purpose.RECHECK, FIELDS, 2.0)
    assert result.code is ResultCode.AMBIGUOUS


def test_request_carries_only_the_declared_fields(peer):
    """data-protection C5: the SOAP request holds name, first names, birth date and the
    address, nothing else; the outbox refuses any other personal field for MESO (M6)."""
    client.check(MesoSettings(url=peer.url), "r1", Purpose.INTAKE, FIELDS, 2.0)
    body = etree.fromstring(peer.service.requests[-1])
    leaves = {etree.QName(el).localname for el in body.iter() if len(el) == 0}
    assert leaves == {"RequestId", "Purpose", "FamilyName", "FirstNames", "BirthDate",
                      "Street", "HouseNumber", "Postcode", "City"}
    assert frozenset(FIELDS) == meso.REQUEST_FIELDS


def test_outbox_refuses_an_undeclared_personal_field_for_meso(engine, peer):
    """data-protection C5/M6: a MESO message with e.g. the confession is refused."""
    loaded(engine, peer.url)
    with work(engine) as s, pytest.raises(RuleViolation) as err:
        enqueue(s, adapter="meso", operation="recheck", business_key="x",
                payload={**FIELDS, "confession": "rk"})
    assert err.value.field == "confession"


@pytest.mark.parametrize(("mode", "error"), [
    ("soap_fault", TransientError), ("client_fault", PermanentError),
    ("http500", TransientError), ("malformed", TransientError),
    ("doctype", PermanentError), ("entities", PermanentError), ("wrong_ns", PermanentError),
])
def test_faults_from_the_peer_end_in_a_clear_error(peer, mode, error):
    """interfaces.md §2.3/§2.5, SEC6: SOAP faults, HTTP 500, malformed XML, DOCTYPE or
    entities, wrong namespace: each a transient or permanent error with a reason."""
    resident(peer, 1)
    peer.service.fail(mode)
    with pytest.raises(error) as err:
        client.check(MesoSettings(url=peer.url), "r1", Purpose.RECHECK, FIELDS, 2.0)
    assert str(err.value).startswith("meso:") and "Antrag1" not in str(err.value)


def test_timeout_is_transient(peer):
    """interfaces.md §2.3: an answer slower than the operation timeout is retried later."""
    resident(peer, 1)
    peer.service.fail("slow", delay=1.0)
    with pytest.raises(TransientError, match="timeout"):
        client.check(MesoSettings(url=peer.url), "r1", Purpose.RECHECK, FIELDS, 0.3)


def test_faults_injected_by_the_delivery_engines_peer():
    """interfaces.md §2.3: HTTP 503, a reset connection and a non-SOAP answer from the
    test kit's fault-injecting peer end in clear errors."""
    with SandboxPeer() as sandbox:
        settings = MesoSettings(url=f"{sandbox.url}/meso")
        sandbox.fail(status=503)
        with pytest.raises(TransientError, match="HTTP 503"):
            client.check(settings, "r1", Purpose.RECHECK, FIELDS, 2.0)
        sandbox.reset_connection()
        with pytest.raises(TransientError, match="connection"):
            client.check(settings, "r2", Purpose.RECHECK, FIELDS, 2.0)
        sandbox.time_out_after_receiving(delay=1.5)
        with pytest.raises(TransientError, match="timeout"):
            client.check(settings, "r3", Purpose.RECHECK, FIELDS, 0.3)
        with pytest.raises((TransientError, PermanentError)):  # JSON, not SOAP
            client.check(settings, "r4", Purpose.RECHECK, FIELDS, 2.0)


def test_peer_refuses_a_doctype_and_expands_no_entity(peer):
    """SEC6: the peer's parser refuses any DOCTYPE with a client fault."""
    body = (b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            b'<t:PingRequest xmlns:t="' + NS.encode() + b'">&x;</t:PingRequest>'
            b'</s:Body></s:Envelope>')
    answer = httpx.post(peer.url, content=body, headers={"Content-Type": "text/xml"})
    assert answer.status_code == 500 and b"DOCTYPE not allowed" in answer.content
    assert b"root:" not in answer.content


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
def test_peer_envelope_parser_refuses_junk_cleanly(data):
    """SEC6 (Hypothesis): any bytes either parse to an operation or are refused with
    ``RequestRefused``; nothing else escapes."""
    try:
        operation = parse_envelope(data)
    except RequestRefused as exc:
        assert str(exc)
    else:
        assert isinstance(operation.tag, str)


def test_credentials_by_ws_security_or_basic_auth():
    """interfaces.md §3: MESOWebService authenticates by user name and password; the
    password is a SecretStr and travels as WS-Security UsernameToken or HTTP basic."""
    with MesoPeer({}, username="kita", password="geheim") as p:
        for auth in ("wsse", "basic"):
            good = MesoSettings(url=p.url, auth=auth, username="kita", password="geheim")
            assert client.ping(good) == "1.0"
            bad = MesoSettings(url=p.url, auth=auth, username="kita", password="falsch")
            with pytest.raises(PermanentError, match="Client"):
                client.ping(bad)
        assert "geheim" not in repr(good)


def test_health_check_reports_reachability_and_contract_version(engine, peer):
    """issue 6 §6: the adapter's health check names the peer's contract version."""
    settings, _ = loaded(engine, peer.url)
    (ok,) = meso.health_checks(settings)
    assert ok.ok and ok.detail == "contract 1.0"
    settings, _ = loaded(engine, "http://127.0.0.1:9/meso")
    (down,) = meso.health_checks(settings)
    assert not down.ok and "connection" in down.detail
    assert meso.health_checks(Settings()) == []  # no peer configured, nothing to report


# ------------------------------------------------------------ intake (3.3.2)


def test_intake_flags_meso_conform_or_deviation_and_accepts_anyway(engine, peer):
    """Lastenheft 3.3.2, placement.md §3 (7): found at the address → "MESO-conform";
    not found → deviation flagged, the application is accepted and goes to the ZVS."""
    world = build_placement_world(engine)
    loaded(engine, peer.url)
    conform, deviant = applicant_at_home(engine, 1), applicant_at_home(engine, 2)
    resident(peer, 1)
    app_ok, _ = submit(engine, form([conform], world.roomy, start=LATE))
    app_dev, _ = submit(engine, form([deviant], world.roomy, start=LATE))
    with work(engine) as s:
        ok, dev = s.get(Application, app_ok), s.get(Application, app_dev)
        assert ok.address_in_registry and not ok.address_mismatch
        assert ok.state == ApplicationState.INTAKE_POOL
        assert dev.address_mismatch and dev.state == ApplicationState.ZVS_REVIEW
        checks = {c.application_id: c for c in s.scalars(select(RegistryCheck))}
        assert checks[app_ok].effect == "meso_conform"
        assert checks[app_dev].outcome == "not_found"


def test_intake_falls_back_to_check_pending_and_the_worker_applies_it(engine, peer):
    """Lastenheft 3.3.2, issue 6 §2: the synchronous check has a short bounded timeout; a
    slow registry never blocks the application: "check pending", queued for the worker."""
    world = build_placement_world(engine)
    settings, plugins = loaded(engine, peer.url, intake_timeout_s=0.2)
    child = applicant_at_home(engine, 1)
    resident(peer, 1)
    peer.service.fail("slow", delay=1.0)
    app_id, _ = submit(engine, form([child], world.roomy, start=LATE))
    with work(engine) as s:
        (pending,) = s.scalars(select(RegistryCheck)).all()
        assert pending.outcome == "pending" and pending.effect == "check_pending"
        assert s.get(Application, app_id).address_in_registry is None
        assert s.scalar(select(OutboxMessage.operation)) == "intake"
    deliver_all(Worker(engine, plugins, settings, "w1"))
    with work(engine) as s:
        assert s.get(Application, app_id).address_in_registry is True
        assert [c.outcome for c in s.scalars(select(RegistryCheck).order_by(RegistryCheck.id))
                ] == ["pending", "registered"]


# ------------------------------------------------------------ batch re-check (3.2.4)


def _recheck(engine, plugins) -> None:
    with work(engine) as s:
        report = tick(s, RECHECK_DAY, RULES, recheck=recheck_via(plugins.manager.hook))
        assert report.recheck_requested >= 1


def _checked(s, app_id: int) -> list[DomainEvent]:
    return list(s.scalars(select(DomainEvent).where(
        DomainEvent.application_id == app_id, DomainEvent.kind == "RegistryChecked")))


def test_batch_recheck_applies_each_result_through_the_delivery_engine(engine, peer):
    """Lastenheft 3.2.4, placement.md §4 W3, data-protection C4: 4–6 weeks before the
    window the tick queues one message per application; ok → "placement starts" notice;
    moved within Dresden → flag only, parents NOT informed; moved away → inactive with a
    notice. Every result is in the application's history."""
    world = build_placement_world(engine)
    children = [applicant_at_home(engine, n) for n in (1, 2, 3)]
    ids = [submit(engine, form([c], world.roomy, start=LATE))[0] for c in children]
    settings, plugins = loaded(engine, peer.url)
    resident(peer, 1)
    resident(peer, 2, ("Ahornweg", "1", "01326", "Dresden"))
    resident(peer, 3, HOME, "moved_away", date(2027, 11, 1))
    _recheck(engine, plugins)
    with work(engine) as s:
        keys = set(s.scalars(select(OutboxMessage.idempotency_key)))
        assert keys == {f"meso:recheck:{i}:{RECHECK_DAY}" for i in ids}
    stats = deliver_all(Worker(engine, plugins, settings, "w1"))
    assert stats.delivered == 3
    ok, within, away = ids
    with work(engine) as s:
        assert s.get(Application, ok).state == ApplicationState.INTAKE_POOL
        assert [e.payload["notice"] for e in _checked(s, ok)] == ["placement_starts"]
        app = s.get(Application, within)
        assert app.moved_within_dresden and app.state == ApplicationState.INTAKE_POOL
        assert [e.payload["notice"] for e in _checked(s, within)] == [None]  # C4
        gone = s.get(Application, away)
        assert gone.state == ApplicationState.INACTIVE
        assert gone.inactive_reason == InactiveReason.MOVED_AWAY
        assert [e.payload["notice"] for e in _checked(s, away)] == ["placement_impossible"]
        effects = {c.application_id: c.effect for c in s.scalars(
            select(RegistryCheck).where(RegistryCheck.purpose == "recheck"))}
        assert effects == {ok: "confirmed", within: "moved_within_flagged",
                           away: "inactivated_moved_away"}
        audited = set(s.scalars(select(AuditEvent.entity_id).where(
            AuditEvent.entity == "application", AuditEvent.action == "update")))
        assert {str(i) for i in ids} <= {str(a) for a in audited}


def test_recheck_retries_transient_faults_and_applies_once(engine, peer):
    """interfaces.md §2.2/§2.3: two SOAP server faults are retried per policy; the answer
    then takes effect exactly once, even if the message is delivered again."""
    world = build_placement_world(engine)
    child = applicant_at_home(engine, 1)
    app_id, _ = submit(engine, form([child], world.roomy, start=LATE))
    settings, plugins = loaded(engine, peer.url)
    resident(peer, 1)
    _recheck(engine, plugins)
    peer.service.fail("soap_fault", times=2)
    worker = Worker(engine, plugins, settings, "w1")
    stats = deliver_all(worker)
    assert stats.delivered == 1 and stats.retried == 2
    with work(engine) as s:
        message = s.scalars(select(OutboxMessage)).one()
        assert message.attempts == 3
        message.status = MessageStatus.PENDING  # an at-least-once redelivery
        message.next_attempt_at = utcnow()
    deliver_all(worker)
    with work(engine) as s:
        assert len(s.scalars(select(RegistryCheck).where(
            RegistryCheck.application_id == app_id)).all()) == 1
        assert len(_checked(s, app_id)) == 1


def test_permanent_fault_leaves_the_application_untouched(engine, peer):
    """interfaces.md §2.3: a DOCTYPE in the answer is refused; the message is dead with a
    reason and nothing is half-applied."""
    world = build_placement_world(engine)
    child = applicant_at_home(engine, 1)
    app_id, _ = submit(engine, form([child], world.roomy, start=LATE))
    settings, plugins = loaded(engine, peer.url)
    resident(peer, 1, HOME, "moved_away", date(2027, 11, 1))
    _recheck(engine, plugins)
    peer.service.fail("doctype")
    stats = deliver_all(Worker(engine, plugins, settings, "w1"))
    assert stats.dead == 1
    with work(engine) as s:
        message = s.scalars(select(OutboxMessage)).one()
        assert message.status == MessageStatus.DEAD and "DOCTYPE" in (message.last_error or "")
        assert s.get(Application, app_id).state == ApplicationState.INTAKE_POOL
        assert s.scalars(select(RegistryCheck)).all() == []


def test_pool_check_notes_moves_away_for_the_zvs(engine, peer):
    """Lastenheft 3.4.4, placement.md §10.4: the ZVS checks the central pool; a move away
    is noted (the ZVS inactivates by hand), the application stays active."""
    world = build_placement_world(engine)
    child = applicant_at_home(engine, 1)
    app_id, _ = submit(engine, form([child], world.roomy, start=LATE))
    settings, plugins = loaded(engine, peer.url)
    with work(engine) as s:
        s.get(Application, app_id).state = ApplicationState.POOL  # as routing leaves it
    resident(peer, 1, HOME, "moved_away", date(2027, 11, 1))
    with work(engine) as s:
        assert meso.apply.queue_checks(s, meso.apply.pool_ids(s), ON, Purpose.POOL) == 1
    deliver_all(Worker(engine, plugins, settings, "w1"))
    with work(engine) as s:
        app = s.get(Application, app_id)
        assert app.state == ApplicationState.POOL and app.address_in_registry is False
        assert s.scalar(select(RegistryCheck.effect)) == "moved_away_noted"


def test_sandbox_register_is_generated_from_the_hubs_children(engine, peer):
    """issue 6 §3: the peer's resident register comes from the demo data (the database's
    children), with deterministic moves and blocks; the peer answers from it."""
    from ekita.plugins.meso.register import from_database, vary

    ids = [applicant_at_home(engine, n) for n in range(1, 41)]
    with work(engine) as s:
        register = from_database(s, ON)
    assert len(register) == 40
    statuses = {r[0].status for r in register.values()}
    assert statuses <= {"registered", "moved_away", "blocked"}
    assert [vary(i, HOME, ON) for i in ids] == [vary(i, HOME, ON) for i in ids]
    peer.service.register = register
    result = client.check(MesoSettings(url=peer.url), "r1", Purpose.RECHECK, FIELDS, 2.0)
    entry = register[key_of("Antrag1", "Kind", date(2023, 5, 10))][0]
    expected = {"moved_away": ResultCode.MOVED_AWAY,
                "blocked": ResultCode.INFORMATION_BLOCKED}.get(
        entry.status, ResultCode.REGISTERED if entry.address == HOME
        else ResultCode.MOVED_WITHIN_DRESDEN)
    assert result.code is expected


def test_peer_commands_are_registered_on_the_cli():
    """issue 6 §3, §5: ``ekita-hub peer meso`` and ``ekita-hub peer kis`` exist."""
    import typer
    from typer.testing import CliRunner

    from ekita.plugins import kis

    cli = typer.Typer()
    meso.register_commands(cli)
    kis.register_commands(cli)
    answer = CliRunner().invoke(cli, ["peer", "--help"])
    assert answer.exit_code == 0 and "meso" in answer.output and "kis" in answer.output
