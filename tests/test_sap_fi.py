"""SAP-FI documents (interfaces.md §5; issue 7 item 3): IDoc-style XML for receivables and
the run's trailer, DEBMAS-style debtors, the CSV profile, XSD validation and safe parsing.

Also the helpers the other SAP-FI test files use (settings, a worker, messages).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import Engine, func, select

from ekita.core.models.exchange import MessageStatus, OutboxMessage
from ekita.core.outbox import enqueue
from ekita.hub.config import AdapterSection, RetryPolicy, Settings, WorkerSettings
from ekita.hub.delivery.worker import Worker
from ekita.hub.plugins import load_plugins
from ekita.plugins.sap_fi.csv_profile import CsvProfile, render_receivables_csv
from ekita.plugins.sap_fi.idoc import receivables_schema, render_receivables
from ekita.plugins.sap_fi.xmltools import XmlRefused, parse_checked, validate_stream
from tests.conftest import work

FAST = RetryPolicy(max_attempts=4, backoff_initial_s=0.01, backoff_max_s=0.05, jitter_s=0.0,
                   timeout_s=1.0)
FEE_TYPES = ["ELTERNBEITRAG", "MEHRBETREUUNG", "NICHTABHOLUNG", "GASTKIND", "SONSTIGE"]
LINE_KINDS = ["SOLL", "GUTSCHRIFT", "NACHFORDERUNG", "STORNO"]


def line(pkn: str = "10000101", contract_id: int = 1, period: str = "2027-03",
         amount_cents: int = 21350, fee_type: str = "ELTERNBEITRAG", line_kind: str = "SOLL",
         correction_no: int = 0, run_id: int | None = 1, cost_centre: str = "KST-4711"
         ) -> dict[str, Any]:
    """A ReceivableLine payload as the debit run enqueues it (shared contract of issue 7)."""
    data = {"external_ref": f"{period}-{pkn}-{contract_id}-{correction_no}", "pkn": pkn,
            "contract_id": contract_id, "cost_centre": cost_centre, "period": period,
            "fee_type": fee_type, "line_kind": line_kind, "correction_no": correction_no,
            "amount_cents": amount_cents, "due_date": f"{period}-15"}
    if run_id is not None:
        data["run_id"] = run_id
    return data


def business_key(payload: Mapping[str, Any]) -> str:
    return (f"{payload['period']}:{payload['pkn']}:{payload['contract_id']}:"
            f"{payload['fee_type']}:{payload['line_kind']}:{payload['correction_no']}")


def sap_settings(engine: Engine, retry: RetryPolicy = FAST, **adapter: Any) -> Settings:
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False), load_plugins=["sap_fi"],
        adapters={"sap_fi": AdapterSection(settings=adapter, retry=retry)},
        worker=WorkerSettings(batch_size=50, lease_margin_s=1.0, poll_s=0.05))


def sap_worker(engine: Engine, retry: RetryPolicy = FAST, **adapter: Any) -> Worker:
    settings = sap_settings(engine, retry, **adapter)
    return Worker(engine, load_plugins(settings), settings, "sap-w1")


def deliver_all(worker: Worker, deadline_s: float = 20.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        worker.run_once()
        with work(worker.engine) as s:
            open_ = s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status.in_([MessageStatus.PENDING, MessageStatus.FAILED,
                                          MessageStatus.IN_FLIGHT])))
        if not open_:
            return
        time.sleep(0.02)
    raise AssertionError("messages still open after the deadline")


def enqueue_run(engine: Engine, lines: list[dict[str, Any]], run_id: int = 1,
                period: str = "2027-03") -> list[int]:
    """What the debit run writes: one message per line, then the trailer (issue 7 contract)."""
    load_plugins(sap_settings(engine))  # declares sap_fi as a recipient
    with work(engine) as s:
        ids = [enqueue(s, adapter="sap_fi", operation="receivable",
                       business_key=business_key(p), payload=p,
                       amount_cents=p["amount_cents"]).id for p in lines]
        ids.append(enqueue(s, adapter="sap_fi", operation="batch_trailer",
                           business_key=f"{period}:{run_id}",
                           payload={"run_id": run_id, "period": period,
                                    "line_count": len(lines),
                                    "sum_cents": sum(p["amount_cents"] for p in lines)}).id)
        s.commit()
    return ids


def message(engine: Engine, mid: int) -> OutboxMessage:
    with work(engine) as s:
        return s.get_one(OutboxMessage, mid)


# -- documents ---------------------------------------------------------------------------

def test_receivable_document_carries_customer_and_revenue_line_per_cost_centre():
    """interfaces.md §5 (FIDCCP02 / ACC_DOCUMENT): header, customer line on the PKN with the
    due date, revenue line on the facility's cost centre; amounts from integer cents."""
    doc = render_receivables([line(amount_cents=21350)], None)
    root = parse_checked(doc, receivables_schema(), record="t")
    kpf = root.find("IDOC/E1FIKPF")
    assert kpf.findtext("GJAHR") == "2027" and kpf.findtext("MONAT") == "3"
    customer, revenue = kpf.findall("E1FISEG")
    assert (customer.findtext("KUNNR"), customer.findtext("SHKZG")) == ("10000101", "S")
    assert customer.findtext("E1FINBU/ZFBDT") == "20270315"
    assert (revenue.findtext("KOSTL"), revenue.findtext("SHKZG")) == ("KST-4711", "H")
    assert customer.findtext("WRBTR") == revenue.findtext("WRBTR") == "213.50"


def test_a_credit_reverses_both_sides():
    """fees.md §11.4: a negative delta is a credit (Gutschrift): customer credited."""
    doc = render_receivables([line(amount_cents=-4200, line_kind="GUTSCHRIFT",
                                   correction_no=1)], None)
    root = parse_checked(doc, receivables_schema(), record="t")
    customer, revenue = root.findall("IDOC/E1FIKPF/E1FISEG")
    assert (customer.findtext("BSCHL"), customer.findtext("SHKZG")) == ("11", "H")
    assert (revenue.findtext("BSCHL"), revenue.findtext("SHKZG")) == ("40", "S")
    assert customer.findtext("WRBTR") == "42.00"
    assert root.findtext("IDOC/E1FIKPF/Z1EKREF/AMOUNT_CENTS") == "-4200"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(-10**7, 10**7), st.sampled_from(FEE_TYPES),
                          st.sampled_from(LINE_KINDS), st.integers(0, 99)),
                min_size=0, max_size=12))
def test_every_rendered_run_is_valid_and_reconciles(rows):
    """interfaces.md §5 BatchTrailer; fees.md §11.2: any run renders to a schema-valid
    document whose trailer equals the count and sum of its lines (Hypothesis)."""
    lines = [line(pkn=f"{10000100 + i:08d}", contract_id=i + 1, amount_cents=c, fee_type=f,
                  line_kind=k, correction_no=n) for i, (c, f, k, n) in enumerate(rows)]
    trailer = {"run_id": 9, "period": "2027-03", "line_count": len(lines),
               "sum_cents": sum(ln["amount_cents"] for ln in lines)}
    root = parse_checked(render_receivables(lines, trailer), receivables_schema(), record="t")
    refs = root.findall("IDOC/E1FIKPF/Z1EKREF")
    assert len(refs) == int(root.findtext("Z1EKTRL/LINE_COUNT"))
    assert sum(int(r.findtext("AMOUNT_CENTS")) for r in refs) == int(
        root.findtext("Z1EKTRL/SUM_CENTS"))
    euros = sum(Decimal(s.findtext("WRBTR")) * (1 if s.findtext("SHKZG") == "S" else -1)
                for s in root.iterfind("IDOC/E1FIKPF/E1FISEG[1]"))
    assert euros * 100 == trailer["sum_cents"]


def test_an_invalid_line_is_refused_before_delivery():
    """Brief (issue 7 item 3): every document is validated against the shipped XSD; a bad
    PKN or an unknown fee type never leaves the hub."""
    with pytest.raises(XmlRefused):
        render_receivables([line(pkn="1234")], None)
    with pytest.raises(XmlRefused):
        render_receivables([line(fee_type="TRINKGELD")], None)


def test_schema_refuses_a_tampered_document():
    """interfaces.md §5: the XSD checks structure (a missing segment fails)."""
    doc = render_receivables([line()], None)
    tampered = doc.replace(b"<BUKRS>1000</BUKRS>", b"")
    with pytest.raises(XmlRefused, match="BLART"):
        parse_checked(tampered, receivables_schema(), record="t")
    with pytest.raises(XmlRefused):
        validate_stream(tampered, receivables_schema(), record="t")


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE ARREARS [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ARREARS AS_OF="2027-05-03" VERSION="1"><ITEM><PKN>&xxe;</PKN></ITEM></ARREARS>"""
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<ARREARS AS_OF="2027-05-03" VERSION="1">&lol2;</ARREARS>"""


@pytest.mark.parametrize("content", [XXE, BOMB], ids=["xxe", "entity-expansion"])
def test_doctype_and_entities_are_refused(content):
    """interfaces.md §2.5: XML without DTD or external entities (XXE, billion laughs)."""
    from ekita.plugins.sap_fi.arrears import parse_arrears

    with pytest.raises(XmlRefused) as caught:
        parse_arrears(content)
    assert caught.value.field == "document" and "DOCTYPE" in caught.value.message
    assert b"root:" not in caught.value.message.encode()


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_parser_never_crashes_on_garbage(data):
    """interfaces.md §2.5: any bytes give a valid file or a clear refusal (Hypothesis)."""
    from ekita.plugins.sap_fi.arrears import parse_arrears

    try:
        parse_arrears(data)
    except XmlRefused as exc:
        assert exc.record == "arrears_file" and exc.rule


def test_csv_profile_renders_lines_and_trailer():
    """Issue 7 item 3: a flat CSV variant by profile (delimiter, encoding, column names)."""
    profile = CsvProfile(delimiter="|", encoding="cp1252", decimal_comma=False,
                         columns={"pkn": "Personenkennnummer", "amount": "Betrag"})
    lines = [line(amount_cents=21350), line(pkn="10000202", amount_cents=-500,
                                            line_kind="GUTSCHRIFT", correction_no=1)]
    text = render_receivables_csv(lines, {"run_id": 3, "period": "2027-03", "line_count": 2,
                                          "sum_cents": 20850}, profile).decode("cp1252")
    rows = [r.split("|") for r in text.strip().split("\r\n")]
    assert "Personenkennnummer" in rows[0] and "Betrag" in rows[0]
    assert rows[1][rows[0].index("Betrag")] == "213.50"
    assert rows[2][rows[0].index("Betrag")] == "-5.00"
    assert rows[-1] == ["TRAILER", "3", "2027-03", "2", "208.50"]


def test_debit_document_of_many_lines_streams_with_flat_memory():
    """Brief: render_receivables streams with lxml.etree.xmlfile; 5,000 lines validate."""
    lines = (line(pkn=f"{10000000 + i:08d}", contract_id=i + 1) for i in range(5000))
    doc = render_receivables(lines, {"run_id": 1, "period": "2027-03", "line_count": 5000,
                                     "sum_cents": 5000 * 21350})
    assert doc.count(b"<IDOC ") == 5000
    assert etree.fromstring(doc, etree.XMLParser(huge_tree=True)).findtext(
        "Z1EKTRL/LINE_COUNT") == "5000"


def test_sap_date_refuses_non_dates():
    """interfaces.md §5: due dates are ISO dates."""
    from ekita.plugins.sap_fi.idoc import sap_date

    assert sap_date(date(2027, 3, 1)) == "20270301"
    with pytest.raises(ValueError):
        sap_date("2027-13-01")


@settings(max_examples=50, deadline=None)
@given(st.integers(-10**8, 10**8), st.sampled_from(FEE_TYPES), st.sampled_from(LINE_KINDS),
       st.integers(0, 99), st.one_of(st.none(), st.integers(1, 10**6)),
       st.integers(1, 12))
def test_fast_template_equals_the_reference_rendering(cents, fee_type, kind, corr, run, month):
    """interfaces.md §5: the refilled IDOC template renders exactly what the field-by-field
    reference renders, for any line (Hypothesis)."""
    from ekita.plugins.sap_fi.idoc import IdocTemplate, idoc_element
    from ekita.plugins.sap_fi.settings import SapFiSettings

    data = line(period=f"2027-{month:02d}", amount_cents=cents, fee_type=fee_type,
                line_kind=kind, correction_no=corr, run_id=run)
    fast = IdocTemplate(SapFiSettings(), "20270101", run is not None).element(data)
    reference = idoc_element(data, SapFiSettings(), "20270101")
    assert etree.tostring(fast) == etree.tostring(reference)
