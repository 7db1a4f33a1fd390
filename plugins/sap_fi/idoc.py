"""Receivables as IDoc-style XML (FIDCCP02 / FIDCC2, modelled on ACC_DOCUMENT).

One ``IDOC`` per receivable line: control record ``EDI_DC40``, document header
``E1FIKPF`` with the hub's reference segment ``Z1EKREF`` (PKN, contract, period, fee type,
line kind, correction number, signed cents) and two items ``E1FISEG``: the customer line
(account = PKN, due date in ``E1FINBU``) and the revenue line on the facility's cost
centre. A credit reverses debit and credit sides. The run's control total and record count
travel in the hub's trailer segment ``Z1EKTRL``. Documents are written with
``lxml.etree.xmlfile`` (streaming, constant memory) and validated against
``xsd/fidccp02.xsd`` before they leave.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from copy import deepcopy
from datetime import date
from decimal import Decimal
from io import BytesIO
from typing import Any

from lxml import etree

from ekita.plugins.sap_fi.settings import SapFiSettings
from ekita.plugins.sap_fi.xmltools import schema, validate_stream

PACKAGE = "ekita.plugins.sap_fi"
XSD = "fidccp02.xsd"
_DEFAULTS = SapFiSettings()


def receivables_schema() -> etree.XMLSchema:
    return schema(PACKAGE, XSD)


def euros(cents: int) -> str:
    """Unsigned amount in euros with two decimals, as IDoc amount fields carry it."""
    return f"{(Decimal(abs(int(cents))) / 100):.2f}"


def sap_date(value: date | str) -> str:
    """YYYYMMDD, the IDoc date format."""
    if isinstance(value, date):
        return f"{value.year:04d}{value.month:02d}{value.day:02d}"
    text = str(value)
    date.fromisoformat(text)  # refuse anything that is not an ISO date
    return text.replace("-", "")


def _leaf(xf: Any, tag: str, text: object) -> None:
    el = etree.Element(tag)
    el.text = str(text)
    xf.write(el)


def _item(parent: etree._Element, buzei: int, posting_key: str, side: str,
          fields: Iterable[tuple[str, str]], amount: str, assignment: str, text: str,
          due: str | None = None) -> None:
    seg = etree.SubElement(parent, "E1FISEG", SEGMENT="1")
    etree.SubElement(seg, "BUZEI").text = str(buzei)
    etree.SubElement(seg, "BSCHL").text = posting_key
    etree.SubElement(seg, "SHKZG").text = side
    for tag, value in fields:
        etree.SubElement(seg, tag).text = value
    etree.SubElement(seg, "WRBTR").text = amount
    etree.SubElement(seg, "ZUONR").text = assignment
    etree.SubElement(seg, "SGTXT").text = text
    if due is not None:
        nbu = etree.SubElement(seg, "E1FINBU", SEGMENT="1")
        etree.SubElement(nbu, "ZFBDT").text = due


def _header(line: Mapping[str, Any], settings: SapFiSettings, created: str) -> etree._Element:
    period = str(line["period"])
    cents = int(line["amount_cents"])
    kpf = etree.Element("E1FIKPF", SEGMENT="1")
    for tag, text in (("BUKRS", settings.company_code), ("BLART", settings.document_type),
                      ("BLDAT", created), ("BUDAT", created),
                      ("GJAHR", period[:4]), ("MONAT", str(int(period[5:7]))),
                      ("XBLNR", str(line["external_ref"])), ("WAERS", "EUR"),
                      ("GLVOR", "RFBU")):
        etree.SubElement(kpf, tag).text = text
    ref = etree.SubElement(kpf, "Z1EKREF", SEGMENT="1")
    for tag, key in (("PKN", "pkn"), ("CONTRACT", "contract_id"), ("FEE_TYPE", "fee_type"),
                     ("LINE_KIND", "line_kind"), ("CORRECTION_NO", "correction_no"),
                     ("AMOUNT_CENTS", "amount_cents"), ("RUN_ID", "run_id")):
        if tag == "FEE_TYPE":
            etree.SubElement(ref, "PERIOD").text = period.replace("-", "")
        if key == "run_id" and line.get("run_id") is None:
            continue
        etree.SubElement(ref, tag).text = str(line[key])
    amount = euros(cents)
    text = f"{line['fee_type']} {period} {line['line_kind']}"[:50]
    assignment = f"{line['contract_id']}"
    debit = cents >= 0  # a charge debits the customer; a credit reverses both sides
    _item(kpf, 1, "01" if debit else "11", "S" if debit else "H",
          [("KUNNR", str(line["pkn"]))], amount, assignment, text, sap_date(line["due_date"]))
    _item(kpf, 2, "50" if debit else "40", "H" if debit else "S",
          [("HKONT", settings.revenue_account), ("KOSTL", str(line["cost_centre"])),
           ("KOKRS", settings.controlling_area)], amount, assignment, text)
    return kpf


def _trailer(xf: Any, trailer: Mapping[str, Any]) -> None:
    seg = etree.Element("Z1EKTRL", SEGMENT="1")
    etree.SubElement(seg, "RUN_ID").text = str(trailer["run_id"])
    etree.SubElement(seg, "PERIOD").text = str(trailer["period"]).replace("-", "")
    etree.SubElement(seg, "LINE_COUNT").text = str(trailer["line_count"])
    etree.SubElement(seg, "SUM_CENTS").text = str(trailer["sum_cents"])
    xf.write(seg)


def idoc_element(line: Mapping[str, Any], settings: SapFiSettings, stamp: str
                 ) -> etree._Element:
    """One receivable as an ``IDOC`` element, built field by field (the reference form)."""
    idoc = etree.Element("IDOC", BEGIN="1")
    dc = etree.SubElement(idoc, "EDI_DC40", SEGMENT="1")
    for tag, text in (("TABNAM", "EDI_DC40"), ("DOCNUM", str(line["external_ref"])),
                      ("IDOCTYP", "FIDCCP02"), ("MESTYP", "FIDCC2"), ("SNDPRT", "LS"),
                      ("SNDPRN", settings.sender), ("RCVPRT", "LS"),
                      ("RCVPRN", settings.receiver), ("CREDAT", stamp)):
        etree.SubElement(dc, tag).text = text
    idoc.append(_header(line, settings, stamp))
    return idoc


_SAMPLE = {"external_ref": "X", "pkn": "00000000", "contract_id": 1, "cost_centre": "X",
           "period": "2000-01", "fee_type": "SONSTIGE", "line_kind": "SOLL", "correction_no": 0,
           "amount_cents": 1, "due_date": "2000-01-01"}


class IdocTemplate:
    """A rendered ``IDOC`` whose varying leaves are refilled per line: one C-level deep copy
    and 25 text assignments instead of 45 element constructions (about 3× faster for a
    45,000-line run). Equal to ``idoc_element`` by construction and by test."""

    def __init__(self, settings: SapFiSettings, stamp: str, with_run: bool) -> None:
        sample = {**_SAMPLE, "run_id": 1} if with_run else _SAMPLE
        self.settings = settings
        self.root = idoc_element(sample, settings, stamp)
        seen: dict[str, int] = {}
        self.position: dict[str, int] = {}
        for i, el in enumerate(self.root.iter()):
            seen[el.tag] = seen.get(el.tag, 0) + 1
            self.position[f"{el.tag}{seen[el.tag]}"] = i

    def element(self, line: Mapping[str, Any]) -> etree._Element:
        cents = int(line["amount_cents"])
        period = str(line["period"])
        debit = cents >= 0
        amount = euros(cents)
        assignment = str(line["contract_id"])
        text = f"{line['fee_type']} {period} {line['line_kind']}"[:50]
        values = {
            "DOCNUM1": str(line["external_ref"]), "GJAHR1": period[:4],
            "MONAT1": str(int(period[5:7])), "XBLNR1": str(line["external_ref"]),
            "PKN1": str(line["pkn"]), "CONTRACT1": assignment,
            "PERIOD1": period.replace("-", ""), "FEE_TYPE1": str(line["fee_type"]),
            "LINE_KIND1": str(line["line_kind"]), "CORRECTION_NO1": str(line["correction_no"]),
            "AMOUNT_CENTS1": str(cents),
            "BSCHL1": "01" if debit else "11", "SHKZG1": "S" if debit else "H",
            "KUNNR1": str(line["pkn"]), "WRBTR1": amount, "ZUONR1": assignment,
            "SGTXT1": text, "ZFBDT1": sap_date(line["due_date"]),
            "BSCHL2": "50" if debit else "40", "SHKZG2": "H" if debit else "S",
            "KOSTL1": str(line["cost_centre"]), "WRBTR2": amount, "ZUONR2": assignment,
            "SGTXT2": text,
        }
        if "RUN_ID1" in self.position:
            values["RUN_ID1"] = str(line["run_id"])
        copy = deepcopy(self.root)
        nodes = list(copy.iter())
        for key, value in values.items():
            nodes[self.position[key]].text = value
        return copy


def write_receivables(out: Any, lines: Iterable[Mapping[str, Any]],
                      trailer: Mapping[str, Any] | None,
                      settings: SapFiSettings = _DEFAULTS, created: date | None = None) -> None:
    """Stream the document to ``out`` (a file or buffer), one IDOC at a time."""
    stamp = sap_date(created or date.today())
    templates = {flag: IdocTemplate(settings, stamp, flag) for flag in (False, True)}
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element("FIDCCP02", VERSION="1"):
            for line in lines:
                xf.write(templates[line.get("run_id") is not None].element(line))
            if trailer is not None:
                _trailer(xf, trailer)


def render_receivables(lines: Iterable[Mapping[str, Any]], trailer: Mapping[str, Any] | None,
                       settings: SapFiSettings = _DEFAULTS, created: date | None = None
                       ) -> bytes:
    """The IDoc-XML document for many receivable lines and the run's trailer, validated.

    Raises ``XmlRefused`` when the result does not match ``xsd/fidccp02.xsd`` (a bug on
    our side: the adapter turns it into a ``PermanentError``).
    """
    buffer = BytesIO()
    write_receivables(buffer, lines, trailer, settings, created)
    content = buffer.getvalue()
    validate_stream(content, receivables_schema(), record="receivable")
    return content
