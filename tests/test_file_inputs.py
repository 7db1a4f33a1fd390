"""Hostile files (issue 12 item 6): every file input is capped and streamed, XML with a
DOCTYPE is refused as the parser sees it after decoding, XLSX is read with entity
expansion off, and import reports stay bounded.

Threats: memory exhaustion by a large file (the 200 MB arrears file that needed 6 GB), XXE
and billion laughs hidden behind UTF-16/32 or a prolog, an XLSX sheet part with a DOCTYPE
ending in a traceback, a million quarantined rows in one report.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ekita.core.errors import RuleViolation
from ekita.core.models.arrears import ArrearsCase
from ekita.core.models.contracts import CareContract
from ekita.core.models.documents import FiledDocument
from ekita.core.models.enums import Role
from ekita.core.models.exchange import InboxEntry
from ekita.core.models.people import Child
from ekita.hub import inputs
from ekita.hub.api.app import create_app
from ekita.hub.config import InputCaps, Settings
from ekita.hub.plugins import load_plugins
from ekita.plugins.carrier_export import render
from ekita.plugins.carrier_export.formats import FileRefused, parse_csv, parse_xlsx, parse_xml
from ekita.plugins.carrier_export.profile import load_profile
from ekita.plugins.carrier_export.report import QUARANTINE_SHOWN, ImportReport
from ekita.plugins.sap_fi.arrears import ArrearsRecord, import_arrears, render_arrears
from tests.api import key
from tests.conftest import work
from tests.world import build_world

CSV = load_profile("hub-csv")
XLSX = load_profile("example-xlsx")
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "utf-16", "utf-32-le",
             "utf-32-be", "utf-32"]
DOCTYPES = {
    "internal-entity": '<!DOCTYPE r [<!ENTITY e "x">]>',
    "xxe": '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    "external-dtd": '<!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd">',
    "billion-laughs": '<!DOCTYPE r [<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i else "&lol;" * 10}">'
        for i in range(9)) + "]>",
    "bare": "<!DOCTYPE r>",
}
BODY = {"xxe": "<r>&xxe;</r>", "billion-laughs": "<r>&lol8;</r>",
        "internal-entity": "<r>&e;</r>"}


def _document(encoding: str, declared: bool, prolog: str, doctype: str, body: str) -> bytes:
    name = encoding.replace("-sig", "")
    declaration = f'<?xml version="1.0" encoding="{name}"?>' if declared else ""
    return (declaration + prolog + doctype + body).encode(encoding)


def _rec(pkn: str, months: int = 3) -> ArrearsRecord:
    return ArrearsRecord(pkn=pkn, debtor_no=f"D{pkn}", months_overdue=months,
                         amount_overdue_cents=20000, oldest_due_date=date(2027, 1, 15))


def _arrears(n: int, as_of: date = date(2027, 5, 3)) -> bytes:
    return render_arrears([_rec(f"{10000000 + i:08d}") for i in range(n)], as_of)


def _client(engine, **caps: int) -> TestClient:
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False),
                        input_caps=InputCaps(**caps))
    return TestClient(create_app(settings, engine, load_plugins(settings)))


def _count(engine, model) -> int:
    with work(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


# ---------------------------------------------------------------- the capped reader


class _Counting(io.RawIOBase):
    """A stream of ``size`` bytes that records how many were handed out."""

    def __init__(self, size: int) -> None:
        self.left, self.given = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        self.given += n
        return n


def test_capped_reader_refuses_before_more_than_the_cap_is_read():
    """Issue 12 item 6 (memory exhaustion): a stream, a path and bytes over the cap raise
    InputTooLarge naming file, field "size" and the rule, having read at most cap + 1
    bytes of an endless-looking stream; just under the cap is read whole."""
    cap = 3 * inputs.CHUNK
    stream = _Counting(50 * inputs.CHUNK)
    with pytest.raises(inputs.InputTooLarge) as err:
        inputs.read_capped(stream, cap=cap, name="big.xml")
    assert stream.given <= cap + 1
    assert err.value.as_dict() == {"message": "file larger than 3 MB", "record": "big.xml",
                                   "field": "size", "rule": "issue 12: input size cap"}
    assert len(inputs.read_capped(_Counting(cap), cap=cap, name="ok")) == cap
    with pytest.raises(inputs.InputTooLarge):
        inputs.read_capped(b"x" * 11, cap=10, name="b")


def test_capped_path_is_refused_from_its_size_before_reading(tmp_path):
    """Issue 12 item 6: a file on disk over the cap is refused by its size, and
    ``spool_capped`` hashes what it spools (the inbox needs the hash, not the bytes)."""
    path = tmp_path / "f.csv"
    path.write_bytes(b"y" * 1001)
    with pytest.raises(inputs.InputTooLarge) as err:
        inputs.spool_capped(path, cap=1000)
    assert err.value.record == "f.csv"
    with inputs.spool_capped(path, cap=1001) as spooled:
        import hashlib

        assert spooled.sha256 == hashlib.sha256(b"y" * 1001).hexdigest()
        assert spooled.reader().read() == b"y" * 1001


# ---------------------------------------------------------------- XML: DOCTYPE refused


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared"])
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("kind", sorted(DOCTYPES))
def test_doctype_is_refused_in_every_encoding(kind, encoding, declared):
    """Issue 12 item 6 (XXE, billion laughs, external DTD): a DOCTYPE in UTF-8/16/32, LE
    and BE, with and without BOM and declaration, behind a comment, is refused with one
    clear error by the parser after decoding, by both the whole-document and the
    streaming parser, fast and without large memory."""
    content = _document(encoding, declared, "<!-- hidden -->\n", DOCTYPES[kind],
                        BODY.get(kind, "<r/>"))
    tracemalloc.start()
    started = time.perf_counter()
    for parse in (lambda: inputs.parse_xml(content, record="f.xml"),
                  lambda: list(inputs.iter_xml(io.BytesIO(content), record="f.xml", tag="r"))):
        with pytest.raises(inputs.XmlRefused) as err:
            parse()
        assert err.value.as_dict() == {"message": "a DOCTYPE is not allowed",
                                       "record": "f.xml", "field": "document",
                                       "rule": inputs.RULE_DOCTYPE}
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 5_000_000
    assert "root:" not in err.value.message  # no /etc/passwd content


PROLOG = st.lists(st.one_of(
    st.sampled_from([" ", "\n", "\t", "\r\n"]),
    st.text(st.characters(whitelist_categories=("L", "N")), max_size=8).map(
        lambda t: f"<!--{t}-->"),
    st.text("abcXYZ-_.", max_size=6).map(lambda t: f"<?p{t} data?>"),  # a valid PI name
), max_size=5).map("".join)


@settings(max_examples=150, deadline=None)
@given(encoding=st.sampled_from(ENCODINGS), declared=st.booleans(), prolog=PROLOG,
       kind=st.sampled_from(sorted(DOCTYPES)))
def test_property_any_encoding_and_prolog_before_a_doctype_is_refused(encoding, declared,
                                                                      prolog, kind):
    """Issue 12 item 6 (Hypothesis): random encoding × random prolog (whitespace,
    comments, processing instructions) before the DOCTYPE → always refused as a DOCTYPE;
    the same document without it still parses."""
    content = _document(encoding, declared, prolog, DOCTYPES[kind], "<r>t</r>")
    with pytest.raises(inputs.XmlRefused) as err:
        inputs.parse_xml(content, record="p")
    assert err.value.rule == inputs.RULE_DOCTYPE
    with pytest.raises(inputs.XmlRefused) as err:
        list(inputs.iter_xml(content, record="p", tag="r"))
    assert err.value.rule == inputs.RULE_DOCTYPE
    clean = _document(encoding, declared, prolog, "", "<r>t</r>")
    assert inputs.parse_xml(clean, record="p").text == "t"
    assert [e.text for e in inputs.iter_xml(clean, record="p", tag="r")][-1] == "t"


def test_xml_without_doctype_parses_and_streams_with_flat_memory():
    """Issue 12 item 6: a valid document parses; the streaming parser drops each element
    once the consumer moves on, so the tree never holds the 100,000 items."""
    head, item = b"<r a='1'>", b"<i><k>v</k></i>"
    content = head + item * 100_000 + b"</r>"
    items = inputs.iter_xml(io.BytesIO(content), record="r", tag="i")
    root = next(items)
    assert root.get("a") == "1"
    held = [len(root) for _ in items]
    # what the parser read ahead of the consumer (one read chunk), never the document
    assert len(held) == 100_000 and max(held) < 10_000


def test_xml_over_the_cap_is_refused_while_streaming():
    """Issue 12 item 6: the streaming parser stops at the cap (file larger than N)."""
    content = b"<r>" + b"<i/>" * 1000 + b"</r>"
    with pytest.raises(inputs.InputTooLarge):
        list(inputs.iter_xml(io.BytesIO(content), record="r", tag="i", cap=len(content) - 1))
    assert len(list(inputs.iter_xml(io.BytesIO(content), record="r", tag="i",
                                    cap=len(content)))) == 1001


def test_domea_answers_are_capped_and_doctype_refused_in_utf16():
    """Issue 12 item 6 (DMS answers): xdomea parsing refuses a UTF-16 DOCTYPE (which a
    byte search misses) and a message over its cap, each as one clear RuleViolation."""
    from ekita.plugins.domea.xml import XmlRefused, parse

    hidden = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r><r/>'.encode("utf-16")
    assert b"<!DOCTYPE" not in hidden
    with pytest.raises(XmlRefused, match="DOCTYPE") as err:
        parse(hidden)
    assert isinstance(err.value, RuleViolation) and err.value.field == "document"
    with pytest.raises(XmlRefused) as err:
        parse(b"<r>" + b" " * 100 + b"</r>", max_bytes=50)
    assert err.value.field == "size"


def test_sap_xml_answers_refuse_doctype_in_utf32():
    """Issue 12 item 6 (SAP answers): ``parse_checked`` refuses a UTF-32 DOCTYPE."""
    from ekita.plugins.sap_fi.xmltools import XmlRefused, parse_checked, schema

    xsd = schema("ekita.plugins.sap_fi", "arrears.xsd")
    hidden = _document("utf-32-be", False, "", DOCTYPES["xxe"], "<ARREARS/>")
    with pytest.raises(XmlRefused, match="DOCTYPE"):
        parse_checked(hidden, xsd, record="answer")


# ---------------------------------------------------------------- XLSX


def _xlsx_with(content: bytes, part: str, prefix: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info)
            target.writestr(info, prefix + body if info.filename == part else body)
    return out.getvalue()


ROW = {"record_type": "contract", "family_name": "Muster", "first_name": "Max",
       "birth_date": "2022-03-01", "facility": "KST-1", "care_type": "kindergarten",
       "start_date": "2025-08-01", "daily_hours": "9.00"}


def test_openpyxl_itself_reads_through_defusedxml():
    """Issue 12 item 6 (entity expansion in XLSX): openpyxl uses defusedxml, so a sheet
    part declaring an entity is refused by openpyxl itself (EntitiesForbidden)."""
    import openpyxl.xml
    from defusedxml import EntitiesForbidden
    from openpyxl import load_workbook

    assert openpyxl.xml.DEFUSEDXML is True
    content = _xlsx_with(render([ROW], XLSX, {})[0], "xl/worksheets/sheet1.xml",
                         b'<!DOCTYPE w [<!ENTITY e "x">]>')
    with pytest.raises(ValueError) as err:
        book = load_workbook(io.BytesIO(content), read_only=True)
        list(book.worksheets[0].iter_rows(values_only=True))
    assert isinstance(err.value.__context__, EntitiesForbidden)


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/workbook.xml",
                                  "[Content_Types].xml"])
@pytest.mark.parametrize("doctype", [b"<!DOCTYPE w>", b'<!DOCTYPE w [<!ENTITY e "x">]>',
                                     '<!DOCTYPE w>'.encode("utf-16")[2:]],
                         ids=["bare", "entity", "utf16-fragment"])
def test_xlsx_part_with_doctype_is_one_clear_error(part, doctype):
    """Issue 12 item 6 (observed: a traceback): an XLSX whose sheet (or any) XML part has
    a DOCTYPE is refused with one FileRefused naming the part, no traceback."""
    content = _xlsx_with(render([ROW], XLSX, {})[0], part, doctype)
    with pytest.raises(FileRefused) as err:
        list(parse_xlsx(content, XLSX))
    assert err.value.record == "carrier_file" and err.value.field in ("document", "file")
    assert part in err.value.message or "workbook" in err.value.message


def test_broken_and_oversized_workbooks_are_refused():
    """Issue 12 item 6: garbage, a truncated archive, a file over the profile's cap and a
    zip bomb (unpacked size over its cap) are each one clear refusal."""
    good = render([ROW], XLSX, {})[0]
    for content in (b"not a zip", good[: len(good) // 2]):
        with pytest.raises(FileRefused, match="workbook"):
            list(parse_xlsx(content, XLSX))
    small = XLSX.model_copy(update={"max_bytes": len(good) - 1})
    with pytest.raises(FileRefused) as err:
        list(parse_xlsx(good, small))
    assert err.value.field == "size"
    assert [r for _, r in parse_xlsx(good, XLSX.model_copy(update={"max_bytes": len(good)}))]
    with pytest.raises(inputs.InputTooLarge) as err:
        list(inputs.xlsx_rows(good, record="f.xlsx", cap=10**7, unpacked_cap=1000))
    assert err.value.record == "f.xlsx (unpacked)"


# ---------------------------------------------------------------- carrier files


def test_carrier_csv_over_the_cap_is_refused_and_just_under_is_read(tmp_path):
    """Issue 12 item 6 (carrier CSV): over the profile's max_bytes one FileRefused (field
    size), just under it every row; bytes, paths and streams alike."""
    content = render([ROW] * 50, CSV, {})[0]
    path = tmp_path / "c.csv"
    path.write_bytes(content)
    under = CSV.model_copy(update={"max_bytes": len(content)})
    over = CSV.model_copy(update={"max_bytes": len(content) - 1})
    for source in (content, path, io.BytesIO(content)):
        assert len(list(parse_csv(source, under))) == 50
    for source in (content, path, io.BytesIO(content)):
        with pytest.raises(FileRefused) as err:
            list(parse_csv(source, over))
        assert (err.value.field, err.value.rule) == ("size", "issue 12: input size cap")


def test_carrier_csv_decoding_errors_name_the_row_while_streaming():
    """Issue 12 item 6: decoded line by line, a bad byte still names its row; an
    over-long field is a FileRefused, not a csv.Error traceback."""
    content = render([ROW] * 3, CSV, {})[0]
    lines = content.split(b"\n")
    lines[2] = lines[2].replace(b"Muster", b"M\xffster")
    with pytest.raises(FileRefused, match="row 3") as err:
        list(parse_csv(b"\n".join(lines), CSV.model_copy(update={"encoding": "utf-8"})))
    assert err.value.field == "encoding"
    with pytest.raises(FileRefused, match="row 2") as err:
        list(parse_csv(content.replace(b"Max", b"M" * 200_000, 1), CSV))
    assert err.value.rule == "RFC 4180 CSV"


def test_carrier_xml_over_the_cap_and_with_utf16_doctype_is_refused():
    """Issue 12 item 6 (carrier XML): a cap, and a UTF-16 DOCTYPE (which the former byte
    search missed) refused before any record."""
    content = render([ROW], load_profile("hub-xml"), {"carrier": "1"})[0]
    with pytest.raises(FileRefused) as err:
        list(parse_xml(content, max_bytes=len(content) - 1))
    assert err.value.field == "size"
    assert len(list(parse_xml(content, max_bytes=len(content)))) == 1
    text = content.decode().replace("<?xml version='1.0' encoding='UTF-8'?>",
                                    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r>')
    with pytest.raises(FileRefused, match="DOCTYPE"):
        list(parse_xml(text.encode("utf-16")))


def test_import_report_is_bounded_and_says_how_many_were_left_out():
    """Issue 12 item 6 (report exhaustion): the first QUARANTINE_SHOWN rows in full, the
    rest counted; as_dict and as_text say how many were left out; the reason a whole file
    is refused is kept even after the limit."""
    report = ImportReport(carrier_id=1, source="f", profile="p", content_hash="h")
    for row in range(2, 252):
        report.quarantine_row(row, "pkn", "x" * 1000, "rule", "bad")
    assert len(report.quarantine) == QUARANTINE_SHOWN == 100
    assert report.quarantined == 250 and report.quarantine_omitted == 150
    data = report.as_dict()
    assert data["quarantined"] == 250 and data["quarantine_omitted"] == 150
    assert len(data["quarantine"]) == 100 and data["quarantine"][-1]["row"] == 101
    assert all(len(q["value"]) == 100 for q in data["quarantine"])
    assert "150 more quarantined rows not listed" in report.as_text()
    report.status = "refused"
    report.quarantine_row(0, "file", None, "cap", "file larger than 1 MB")
    assert report.quarantine[-1].message == "file larger than 1 MB"


def test_carrier_import_of_xlsx_with_doctype_is_refused_and_nothing_applied(engine):
    """Issue 12 item 6: an XLSX import whose sheet has a DOCTYPE ends in a refused report
    naming the part (no traceback) and changes no contract; 250 bad CSV rows give a
    bounded report with the full count."""
    from ekita.plugins.carrier_export.importer import import_file
    from tests.carrier_kit import rows_of_carrier, world_with_recipient

    world = world_with_recipient(engine)
    rows = rows_of_carrier(engine, world.independent)
    changed = [{**r, "daily_hours": "7.00"} for r in rows if r["record_type"] == "contract"]
    content = _xlsx_with(render(changed, XLSX, {})[0], "xl/worksheets/sheet1.xml",
                         b'<!DOCTYPE w [<!ENTITY e "x">]>')
    with work(engine) as s:
        before = sorted(s.scalars(select(CareContract.daily_hours)))
        report = import_file(s, world.independent, content, source="c.xlsx", profile=XLSX)
    assert report.status == "refused" and report.applied == 0
    assert "DOCTYPE" in report.quarantine[0].message
    with work(engine) as s:
        assert sorted(s.scalars(select(CareContract.daily_hours))) == before
    bad = [{**changed[0], "facility": "NOPE", "start_date": f"2026-{m:02d}-01"}
           for m in range(1, 13)] * 21
    with work(engine) as s:
        report = import_file(s, world.independent, render(bad, CSV, {})[0],
                             source="bad.csv", profile=CSV, dry_run=True)
    assert report.quarantined == len(bad) == 252
    assert len(report.quarantine) == QUARANTINE_SHOWN


# ---------------------------------------------------------------- SAP arrears


def test_arrears_over_the_cap_are_refused_and_nothing_applied(engine):
    """Issue 12 item 6 (observed: no cap on SAP arrears): a file one byte over the cap is
    refused naming the file, field size and the rule; no case, no inbox entry; a file
    exactly at the cap is applied."""
    content = _arrears(40)
    with work(engine) as s, pytest.raises(inputs.InputTooLarge) as err:
        import_arrears(s, content, "t", max_bytes=len(content) - 1)
    assert (err.value.record, err.value.field) == ("arrears_file", "size")
    assert _count(engine, ArrearsCase) == 0 and _count(engine, InboxEntry) == 0
    with work(engine) as s:
        result = import_arrears(s, io.BytesIO(content), "t", max_bytes=len(content))
    assert result.applied and result.records == 40 == _count(engine, ArrearsCase)


def test_arrears_with_a_bad_record_late_in_the_file_change_nothing(engine):
    """Issue 12 item 6 (no half-applied change): the file is applied in batches, so an
    invalid record after the first batches must still leave nothing behind; a DOCTYPE in
    UTF-16 is refused before any record."""
    records = [_rec(f"{10000000 + i:08d}") for i in range(2500)]
    content = render_arrears(records, date(2027, 5, 3)).replace(
        b"<PKN>10002400</PKN>", b"<PKN>1234</PKN>")
    with work(engine) as s, pytest.raises(inputs.XmlRefused, match="schema"):
        import_arrears(s, content, "t")
    hidden = _document("utf-16-le", False, "\n", DOCTYPES["billion-laughs"],
                       '<ARREARS AS_OF="2027-05-03" VERSION="1">&lol8;</ARREARS>')
    with work(engine) as s, pytest.raises(inputs.XmlRefused, match="DOCTYPE"):
        import_arrears(s, hidden, "t")
    assert _count(engine, ArrearsCase) == 0 and _count(engine, InboxEntry) == 0


def test_arrears_upload_api_is_capped_and_answers_422(engine):
    """Issue 12 item 6 over HTTP: an arrears upload over the configured cap (declared, or
    chunked without Content-Length) is a 422 with the error JSON and applies nothing; a
    DOCTYPE is a 422 too; under the cap the file is applied once."""
    content = _arrears(30)
    api = _client(engine, sap_arrears=len(content))
    finance = key(engine, Role.FINANCE)
    url = "/api/v1/adapters/sap_fi/arrears/files"
    big = _arrears(31)
    declared = api.post(url, headers=finance, content=big)
    chunked = api.post(url, headers=finance, content=iter([big[:100], big[100:]]))
    for answer in (declared, chunked):
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == {
            "message": f"file larger than {len(content)} bytes", "record": "arrears_file",
            "field": "size", "rule": "issue 12: input size cap"}
    doctype = api.post(url, headers=finance, content=b'<!DOCTYPE a SYSTEM "x">' + content[39:])
    assert doctype.status_code == 422 and doctype.json()["error"]["field"] == "document"
    assert _count(engine, ArrearsCase) == 0 and _count(engine, InboxEntry) == 0
    first = api.post(url, headers=finance, content=content)
    again = api.post(url, headers=finance, content=content)
    assert first.status_code == 200 and first.json()["records"] == 30, first.text
    assert first.json()["applied"] and not again.json()["applied"]
    lead = api.post(url, headers=key(engine, Role.ZVS), content=content)
    assert lead.status_code == 403
    assert _count(engine, ArrearsCase) == 30


def test_cli_arrears_over_the_cap_is_refused(engine, tmp_path, monkeypatch):
    """Issue 12 item 6: ``ekita-hub sap-fi import-arrears`` reads the file under
    ``input_caps.sap_arrears`` (EKITA_CONFIG); over it a clear error, nothing applied."""
    from typer.testing import CliRunner

    from ekita.hub.cli.main import app
    from ekita.plugins.sap_fi import register_commands

    if not any(g.name == "sap-fi" for g in app.registered_groups):
        register_commands(cli=app)
    path = tmp_path / "arrears.xml"
    path.write_bytes(_arrears(5))
    config = tmp_path / "ekita.toml"
    config.write_text(f"[input_caps]\nsap_arrears = {path.stat().st_size - 1}\n")
    monkeypatch.setenv("EKITA_CONFIG", str(config))
    monkeypatch.setenv("EKITA_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(app, ["sap-fi", "import-arrears", str(path)])
    assert isinstance(result.exception, inputs.InputTooLarge)
    assert result.exception.record == "arrears_file"
    assert _count(engine, ArrearsCase) == 0


# ---------------------------------------------------------------- documents


def test_document_upload_over_the_cap_is_422_and_nothing_filed(engine):
    """Issue 12 item 6 (uploaded documents): over the configured cap, declared or chunked,
    a 422 with the error JSON and nothing filed; at the cap the document is filed."""
    world = build_world(engine)
    with work(engine) as s:
        family_id = s.get(Child, world.children[world.facility_m][0]).family_id
    api = _client(engine, document=1000)
    finance = {**key(engine, Role.FINANCE), "Content-Type": "application/pdf"}
    url = f"/api/v1/families/{family_id}/documents"
    params = {"doc_class": "Nachweis", "received_on": "2027-01-03", "file_name": "p.pdf"}
    before = _count(engine, FiledDocument)
    pdf = b"%PDF-1.4 " + b"x" * 991
    for n, body in enumerate((pdf + b"x", iter([pdf[:500], pdf[500:] + b"x"]))):
        answer = api.post(url, headers=finance, content=body,
                          params={**params, "business_key": f"big:{n}"})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == {"message": "file larger than 1000 bytes",
                                          "record": "p.pdf", "field": "size",
                                          "rule": "issue 12: input size cap"}
    assert _count(engine, FiledDocument) == before
    ok = api.post(url, headers=finance, content=pdf, params={**params, "business_key": "ok"})
    assert ok.status_code == 201, ok.text
    assert _count(engine, FiledDocument) == before + 1


# ---------------------------------------------------------------- peak memory, real cap

_CHILD = textwrap.dedent("""
    import resource, subprocess, sys
    done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(done.returncode, peak_kb, repr(done.stdout[-300:] + done.stderr[-600:]))
""")


def _write_arrears_just_under(path: Path, cap: int) -> int:
    """An arrears file just under ``cap``, written item by item (never whole in memory)."""
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n<ARREARS AS_OF="2027-05-03" VERSION="1">'
    tail = b"</ARREARS>\n"
    count = 0
    with path.open("wb") as out:
        out.write(head)
        size = len(head) + len(tail)
        while True:
            item = (f"<ITEM><PKN>{10000000 + count:08d}</PKN><DEBTOR_NO>D{count}</DEBTOR_NO>"
                    f"<MONTHS_OVERDUE>{count % 6}</MONTHS_OVERDUE><AMOUNT_OVERDUE_CENTS>"
                    f"{count * 7}</AMOUNT_OVERDUE_CENTS><OLDEST_DUE_DATE>2027-01-15"
                    f"</OLDEST_DUE_DATE></ITEM>\n").encode()
            if size + len(item) > cap:
                break
            out.write(item)
            size += len(item)
            count += 1
        out.write(b" " * (cap - size - 1) + tail)  # exactly one byte under the cap
    return count


def test_arrears_just_under_the_real_default_cap_stay_under_300_mb(tmp_path):
    """Issue 12 item 6 (observed: a 200 MB arrears file needed 6 GB): the CLI imports a
    file one byte under the real default cap (``input_caps.sap_arrears``) in a
    subprocess with a peak RSS under 300 MB, measured with getrusage(RUSAGE_CHILDREN) in
    a fresh parent; a file one byte over is refused with exit code 1 and nothing applied."""
    cap = inputs.cap_for("sap_arrears")
    path = tmp_path / "arrears.xml"
    count = _write_arrears_just_under(path, cap)
    db = tmp_path / "hub.db"
    env = {**os.environ, "EKITA_DATABASE_URL": f"sqlite:///{db}"}
    env.pop("EKITA_CONFIG", None)
    hub = [sys.executable, "-m", "ekita.hub.cli.main"]
    subprocess.run([*hub, "db", "upgrade"], env=env, check=True, capture_output=True)
    with path.open("ab") as out:
        out.write(b"  ")  # one byte over the cap
    over = subprocess.run([*hub, "sap-fi", "import-arrears", str(path)], env=env,
                          capture_output=True, text=True)
    assert over.returncode == 1, over.stdout + over.stderr
    assert f"file larger than {cap / inputs.MIB:g} MB" in over.stderr
    import sqlite3

    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM arrears_case").fetchone() == (0,)
    with path.open("r+b") as out:
        out.truncate(cap - 1)  # back to one byte under
    done = subprocess.run([sys.executable, "-c", _CHILD, *hub, "sap-fi", "import-arrears",
                           str(path)], env=env, capture_output=True, text=True, check=True)
    code, peak_kb, output = done.stdout.split(" ", 2)
    assert code == "0", output
    assert f"{count} payers" in output
    assert int(peak_kb) < 300 * 1024, f"peak RSS {int(peak_kb) // 1024} MB"


def test_carrier_csv_just_under_the_real_default_cap_stays_under_300_mb(engine, tmp_path):
    """Issue 12 item 6 (carrier CSV): the CLI imports a file one byte under the real
    default cap (``input_caps.carrier_file``, about 625,000 rows of children the carrier
    does not hold) in a subprocess with a peak RSS under 300 MB; every row is quarantined
    and the report stays bounded."""
    if engine.dialect.name != "sqlite":
        pytest.skip("one database suffices: the memory is the importer's, not the server's")
    world = build_world(engine)
    cap = inputs.cap_for("carrier_file")
    header, line = render([{**ROW, "facility": "KST-B1"}], CSV, {})[0].splitlines(True)[:2]
    path = tmp_path / "carrier.csv"
    rows = 0
    with path.open("wb") as out:
        out.write(header)
        size = len(header)
        while size + len(line) < cap:
            out.write(line)
            size += len(line)
            rows += 1
        out.write(b"\n" * (cap - 1 - size))  # blank lines up to one byte under the cap
    assert path.stat().st_size == cap - 1
    env = {**os.environ, "EKITA_DATABASE_URL": str(engine.url)}
    env.pop("EKITA_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, sys.executable, "-m", "ekita.hub.cli.main", "import",
         "carrier", str(world.independent), str(path), "--profile", "hub-csv", "--json"],
        env=env, capture_output=True, text=True, check=True, timeout=600)
    code, peak_kb, output = done.stdout.split(" ", 2)
    assert code in ("0", "1"), output  # exit 1: the file was refused or wholly quarantined
    assert f'"quarantined": {rows}' in output or f"quarantined: {rows}" in output, output
    assert int(peak_kb) < 300 * 1024, f"peak RSS {int(peak_kb) // 1024} MB"
