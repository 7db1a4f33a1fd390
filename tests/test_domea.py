"""plugins/domea: xdomea 3.0.0 messages, container, sandbox DMS (interfaces.md §2, §7).

Message tests run without a database; the delivery tests drive the real worker against
the sandbox DMS over HTTP on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ekita.core.models import Child
from ekita.core.models.documents import DocumentDmsRef, DocumentType, FiledDocument
from ekita.core.models.exchange import MessageStatus, OutboxMessage
from ekita.core.services.documents import family_file as ff
from ekita.core.services.documents import store, templates
from ekita.core.services.documents.generate import Generation, generate_and_file
from ekita.core.services.documents.samples import SAMPLES
from ekita.hub.config import AdapterSection, RetryPolicy, Settings, WorkerSettings
from ekita.hub.delivery.worker import Worker
from ekita.hub.plugins import load_plugins
from ekita.plugins.domea import container, messages
from ekita.plugins.domea.ids import process_uuid
from ekita.plugins.domea.peer import DomeaPeer
from ekita.plugins.domea.xml import XmlRefused, parse, validate
from tests.conftest import work
from tests.delivery_kit import deliver_all, url_of
from tests.world import build_world

NOW = datetime(2027, 1, 4, 9, 30, tzinfo=UTC)
PARTIES = messages.Parties()
FILE = messages.FileInfo(ff.family_file_uuid("123456"), "123456")
DOC = messages.DocumentInfo(
    uuid=ff.document_uuid("fee:2027-01:12345601"), business_key="fee:2027-01:12345601",
    title="Elternbeitragsbescheid", doc_class="fee_notice_single_debit", direction="outgoing",
    reference_date=date(2027, 1, 4), file_name=f"{ff.document_uuid('x')}_bescheid.pdf",
    original_name="bescheid.pdf", media_type="application/pdf", created_by="meier",
    machine_generated=True, retention="D1:5y-after-care", sha256="0" * 64, filed_at=NOW,
    pkn="12345601", cost_centre="KST-M1", valid_from=date(2027, 1, 1),
    statute_ref="§ 15 SächsKitaG")


def _all_messages() -> dict[str, bytes]:
    pid = process_uuid("0605", DOC.uuid)
    return {
        "0604": messages.create_file(process_uuid("0604", FILE.uuid), FILE, PARTIES, NOW),
        "0605": messages.file_document(pid, FILE, DOC, PARTIES, NOW),
        "0609": messages.metadata("0609", pid, DOC.uuid, {"Hinweis": "neu"}, PARTIES, NOW),
        "0610": messages.metadata("0610", pid, FILE.uuid, {"Status": "archived"}, PARTIES, NOW),
        "0629": messages.receipt(pid, PARTIES, NOW),
        "0630": messages.import_result(pid, DOC.uuid, "DOMEA-1", [], PARTIES, NOW),
        "0630-failed": messages.import_result(pid, DOC.uuid, None, ["Akte gesperrt"], PARTIES,
                                              NOW),
    }


@pytest.mark.parametrize("code", ["0604", "0605", "0609", "0610", "0629", "0630",
                                  "0630-failed"])
def test_every_message_validates_against_xdomea_3_0_0(code):
    """interfaces.md §7: every message is valid against the official 3.0.0 schemas."""
    root = validate(_all_messages()[code])
    assert root.tag.startswith("{urn:xoev-de:xdomea:schema:3.0.0}")


def test_fixed_boolean_must_be_written_1_not_true():
    """interfaces.md §7 pitfall: Importbestaetigung is fixed "1"; "true" fails validation."""
    xml = _all_messages()["0605"]
    assert b"<xdomea:Importbestaetigung>1</xdomea:Importbestaetigung>" in xml
    with pytest.raises(XmlRefused, match="fixed value"):
        validate(xml.replace(b"Importbestaetigung>1<", b"Importbestaetigung>true<"))


def test_0605_carries_the_family_file_metadata():
    """interfaces.md §7: PKN, class, direction, cost centre, validity, machine flag, clerk."""
    xml = _all_messages()["0605"].decode()
    for text in ("<xdomea:Ablageort>" + FILE.uuid, "12345601", "KST-M1", "2027-01-01",
                 "MaschinellErstellt", "Bearbeiter>meier<", "<code>044</code>"):
        assert text in xml


def test_acknowledgements_are_parsed():
    acks = _all_messages()
    ok = messages.parse_acknowledgement(acks["0630"])
    assert (ok.imported, ok.dms_id, ok.object_uuid) == (True, "DOMEA-1", DOC.uuid)
    failed = messages.parse_acknowledgement(acks["0630-failed"])
    assert not failed.imported and failed.reasons == ("Akte gesperrt",)
    assert messages.parse_acknowledgement(acks["0629"]).code == "0629"
    with pytest.raises(XmlRefused):
        messages.parse_acknowledgement(acks["0605"])


def test_doctype_and_entities_are_refused():
    """interfaces.md §2 rule 5: XML without DTD or external entities."""
    evil = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<x>&e;</x>")
    with pytest.raises(XmlRefused, match="DOCTYPE"):
        parse(evil)


def test_container_is_named_by_process_id_and_message():
    """interfaces.md §7: ZIP with the message XML and the primary files."""
    pid = process_uuid("0605", DOC.uuid)
    box = container.pack(pid, "0605", _all_messages()["0605"], {DOC.file_name: b"%PDF"})
    assert box.name == f"{pid}_FVDaten.SGOAblegen.0605.zip"
    back = container.unpack(box.data)
    assert back.message_name == f"{pid}_FVDaten.SGOAblegen.0605.xml"
    assert back.primaries == {DOC.file_name: b"%PDF"}
    assert container.pack(pid, "0605", box.message, box.primaries).data == box.data


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("members", [
    {"../evil_FVDaten.SGOAblegen.0605.xml": b"<x/>"},
    {"a_FVDaten.SGOAblegen.0605.xml": b"<x/>", "b_FVDaten.SGOAblegen.0605.xml": b"<x/>"},
    {"a_FVDaten.SGOAblegen.0605.xml": b"0" * 5_000_000},
    {"readme.txt": b"no message"},
])
def test_unsafe_or_incomplete_containers_are_refused(members):
    """interfaces.md §2 rule 5: size caps; a container holds exactly one message."""
    with pytest.raises(container.ContainerRefused):
        container.unpack(_zip(members))


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=400))
def test_container_and_xml_readers_refuse_garbage_cleanly(data):
    """Parsers: arbitrary bytes are refused with the module's own error, never a crash."""
    with pytest.raises(container.ContainerRefused):
        container.unpack(data)
    try:
        validate(data)
    except XmlRefused as exc:
        assert str(exc)


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=60), st.text(max_size=60))
def test_metadata_messages_validate_for_any_text(name, value):
    """Builders: any metadata text (XML-escaped by lxml) yields a valid 0610."""
    cleaned = {"".join(c for c in name if c.isprintable()) or "x":
               "".join(c for c in value if c.isprintable())}
    validate(messages.metadata("0610", process_uuid("0610", FILE.uuid), FILE.uuid, cleaned,
                               PARTIES, NOW))


# --- delivery through the engine to the sandbox DMS -----------------------------------

FAST = RetryPolicy(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.05, jitter_s=0.0,
                   timeout_s=5.0)


def _worker(engine, dms: DomeaPeer) -> Worker:
    url = url_of(engine)
    config = Settings(database_url=url, load_plugins=["domea"], adapters={"domea": AdapterSection(
        settings={"url": dms.url, "database_url": url}, retry=FAST)},
        worker=WorkerSettings(batch_size=20, lease_margin_s=1.0, poll_s=0.05))
    return Worker(engine, load_plugins(config), config, "domea-test")


def _file_notices(engine, months: list[str]) -> list[str]:
    world = build_world(engine)
    child = world.children[world.facility_m][0]
    notice = DocumentType.FEE_NOTICE_SINGLE_SELF
    uuids = []
    with work(engine) as s:
        templates.install_defaults(s)
        family_id = s.get(Child, child).family_id
        for month in months:
            doc, _ = generate_and_file(
                s, notice, SAMPLES[notice], Generation(family_id, f"fee:{month}:{child}",
                                                       date(2027, 1, 4), child, "12345601"),
                target="domea")
            uuids.append(doc.uuid)
    return uuids


def test_documents_reach_the_dms_once_even_when_redelivered(engine):
    """interfaces.md §7: 0604 then 0605 per document, acknowledged by 0630; a re-delivery
    (replay with the same key and ProzessID) files nothing twice."""
    with DomeaPeer() as dms:
        worker = _worker(engine, dms)
        uuids = _file_notices(engine, ["2027-01", "2027-02"])
        stats = deliver_all(worker)
        assert stats.delivered == 3 and stats.dead == 0
        stored = {d.uuid: d for d in dms.documents()}
        assert set(stored) == set(uuids)
        with work(engine) as s:
            for doc in s.scalars(select(FiledDocument)):
                (primary,) = stored[doc.uuid].primaries.values()
                assert primary == store.get(s, doc.sha256)  # unaltered (D5)
            refs = {r.object_uuid: r.dms_id for r in s.scalars(select(DocumentDmsRef))}
            assert set(uuids) <= set(refs) and all(refs.values())
            for message in s.scalars(select(OutboxMessage)):
                message.status = MessageStatus.PENDING  # a crash before the outcome write
                message.next_attempt_at = datetime.now(UTC)
        assert deliver_all(worker).delivered == 3
        assert len(dms.documents()) == 2
        assert dms.state.rejections == []
        assert len(dms.state.messages) == 3  # 0604 + 2 × 0605, each valid xdomea 3.0.0
        for xml in dms.state.messages:
            validate(xml)
        assert all(name.endswith((".0604.zip", ".0605.zip")) for name in dms.state.containers)


def test_rejection_ends_in_a_dead_letter_with_the_reason(engine):
    """A failed 0630 (the DMS refuses the import) is permanent: dead letter with reason."""
    with DomeaPeer() as dms:
        worker = _worker(engine, dms)
        _file_notices(engine, ["2027-01"])
        dms.refuse_next("Akte ist gesperrt")  # the 0604 is refused
        stats = deliver_all(worker)
        assert stats.dead >= 1
        with work(engine) as s:
            dead = s.scalars(select(OutboxMessage).where(
                OutboxMessage.status == MessageStatus.DEAD,
                OutboxMessage.operation == "create_file")).one()
            assert "Akte ist gesperrt" in dead.last_error
            assert dead.attempts == 1  # permanent: not retried


def test_document_before_its_file_is_retried_not_lost(engine):
    """An 0605 for an Akte the DMS does not know yet is transient (409), then filed."""
    with DomeaPeer() as dms:
        worker = _worker(engine, dms)
        _file_notices(engine, ["2027-01"])
        with work(engine) as s:
            create = s.scalars(select(OutboxMessage).where(
                OutboxMessage.operation == "create_file")).one()
            create.next_attempt_at = datetime(2099, 1, 1, tzinfo=UTC)
        worker.run_once()
        with work(engine) as s:
            doc = s.scalars(select(OutboxMessage).where(
                OutboxMessage.operation == "file_document")).one()
            assert doc.status is MessageStatus.FAILED and "not known" in doc.last_error
            s.get(OutboxMessage, create.id).next_attempt_at = datetime.now(UTC)
        deliver_all(worker)
        assert len(dms.documents()) == 1


def test_schemas_and_templates_are_package_data():
    """Issue 8: the xdomea schemas ship in the plugin package, the templates in the core
    (every file is matched by a package-data pattern of pyproject.toml, so the wheel has it;
    tests/test_packaging.py builds the wheel)."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package, folder, sub in (("ekita.plugins.domea", root / "plugins" / "domea", "schemas"),
                                 ("ekita.core.documents", root / "core" / "documents",
                                  "templates")):
        patterns = data["package-data"][package]
        covered = {p for pattern in patterns for p in folder.glob(pattern)}
        files = {p for p in (folder / sub).rglob("*") if p.is_file()}
        assert files and files <= covered, sorted(files - covered)[:3]
        assert package in data["packages"]


def test_archiving_updates_the_akte_metadata_in_the_dms(engine):
    """Lastenheft 3.17 with DOMEA: archive and reactivate send 0610 with the new status."""
    from ekita.core.models import CareContract
    from ekita.core.models.documents import FamilyFile

    with DomeaPeer() as dms:
        worker = _worker(engine, dms)
        _file_notices(engine, ["2027-01"])
        with work(engine) as s:
            file = s.scalars(select(FamilyFile)).one()
            for contract in s.scalars(select(CareContract).join(Child).where(
                    Child.family_id == file.family_id)):
                contract.end_date = date(2026, 7, 31)
            family_id, akte = file.family_id, file.uuid
        with work(engine) as s:
            ff.archive(s, family_id, date(2027, 1, 4), target="domea")
        deliver_all(worker)
        assert dms.state.objects[akte].metadata["Status"] == "archived"
        with work(engine) as s:
            ff.reactivate(s, family_id, target="domea")
        deliver_all(worker)
        assert dms.state.objects[akte].metadata["Status"] == "active"
        assert [n.rsplit("_", 1)[1] for n in dms.state.containers] == [
            "FVDaten.SGOErstellen.0604.zip", "FVDaten.SGOAblegen.0605.zip",
            "FVDaten.MetadatenAktualisieren.0610.zip", "FVDaten.MetadatenAktualisieren.0610.zip"]


def test_sandbox_dms_command_is_registered():
    """interfaces.md §2 rule 6: an offline mock peer per adapter (`ekita-hub peer domea`)."""
    import typer
    from typer.testing import CliRunner

    from ekita.plugins.domea import register_commands

    cli = typer.Typer()

    @cli.command()
    def version() -> None:
        """A second command, so the group is a sub-command."""

    register_commands(cli=cli)
    answer = CliRunner().invoke(cli, ["peer", "domea", "--help"])
    assert answer.exit_code == 0 and "sandbox DMS" in answer.output
