"""The one spreadsheet writer and every CSV/XLSX export through it (issue 12 item 4).

Threat: CSV/formula injection (OWASP "CSV Injection"). A child's, street's or facility's
name beginning with ``=``, ``+``, ``-``, ``@``, a tab or a CR (or the full-width ``＝ ＋ －
＠``) ran as a live formula when a clerk opened an Excel export of the placement lists.
Every export is fed hostile strings and read back: no cell is a formula, a dangerous first
character is always preceded by the neutralising apostrophe, numbers stay number cells,
dates date cells.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from ekita.hub.codepage import NOT_XML
from ekita.hub.spreadsheets import (
    DANGEROUS_PREFIXES,
    CsvFormat,
    Sheet,
    neutralise,
    unneutralise,
    write_csv,
    write_xlsx,
)
from ekita.plugins.carrier_export import render
from ekita.plugins.carrier_export.export import TEXT_FIELDS, fit_encoding
from ekita.plugins.carrier_export.formats import parse_xml
from ekita.plugins.carrier_export.profile import builtin_profiles
from ekita.plugins.octoware.csvfile import HEADERS
from ekita.plugins.octoware.csvfile import render as render_octoware
from ekita.plugins.octoware.listing import ROW_FIELDS
from ekita.plugins.sap_fi.csv_profile import FIELDS as SAP_FIELDS
from ekita.plugins.sap_fi.csv_profile import CsvProfile, render_receivables_csv
from tests.test_carrier_formats import ROW as CARRIER_ROW

#: Formula prefixes, full-width forms, control characters, and any other text.
HOSTILE = st.one_of(
    st.tuples(st.sampled_from(DANGEROUS_PREFIXES), st.text(max_size=12)).map("".join),
    st.sampled_from(['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
                     "\t=1", "\r=1", "＝1+1", "＋1", "－1", "＠A1", "\x00=1", "\x1b[31m",
                     "=1\n=2", "'=already", "#N/A", "#REF!", "Đorđe 😀", "\ufeff=1"]),
    st.text(max_size=20),
)
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _dangerous(text: str) -> bool:
    return text.startswith(DANGEROUS_PREFIXES)


def _assert_safe_text(written: str) -> None:
    """What a spreadsheet shows: never a cell that starts a formula."""
    assert not _dangerous(written), written


def _sheet_cells(content: bytes) -> list[list]:
    book = load_workbook(io.BytesIO(content))
    return [[c for c in row] for sheet in book.worksheets for row in sheet.iter_rows()]


# ---------------------------------------------------------------- the writer itself


def test_neutralise_prefixes_each_dangerous_character_and_nothing_else():
    """Issue 12 item 4: each of = + - @ tab CR and the full-width ＝ ＋ － ＠ is neutralised;
    other text is untouched, and importers get the original back."""
    for prefix in DANGEROUS_PREFIXES:
        assert neutralise(prefix + "x") == "'" + prefix + "x"
        assert unneutralise(neutralise(prefix + "x")) == prefix + "x"
    for safe in ("Anna", "'quoted", "1+1", " =x", "", "ä=1"):
        assert neutralise(safe) == safe


@FAST
@given(HOSTILE, st.decimals(allow_nan=False, allow_infinity=False, places=2,
                            min_value=-10**9, max_value=10**9),
       st.dates(min_value=date(1900, 3, 1)))
def test_xlsx_writer_has_no_formula_and_typed_numbers_and_dates(text, number, day):
    """Issue 12 item 4: a hostile text is a string cell (never data type "f") that starts
    with the apostrophe if the text was dangerous; a Decimal is a number cell, a date a
    date cell shown DD.MM.YYYY, a datetime in Europe/Berlin."""
    moment = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    content = write_xlsx([Sheet("T", [text, "n", "d", "t"],
                                [[text, number, day, moment]])])
    header, row = _sheet_cells(content)
    for cell in (header[0], row[0]):
        assert cell.data_type == "s" or (cell.value is None and not text)
        shown = NOT_XML.sub("\ufffd", text)
        assert (cell.value or "") == neutralise(shown)  # the apostrophe iff dangerous
        _assert_safe_text(cell.value or "")
    assert row[1].data_type == "n" and Decimal(str(row[1].value)) == number
    assert row[2].data_type == "d" and row[2].value.date() == day
    assert row[2].number_format == "DD.MM.YYYY"
    assert row[3].value == datetime(2026, 7, 1, 12, 0)  # summer time in Berlin


@FAST
@given(HOSTILE)
def test_csv_writer_neutralises_text_and_leaves_numbers_and_dates(text):
    """Issue 12 item 4: CSV re-read with the csv module; text neutralised, ``-5,25`` and a
    date written as numbers and dates are, never prefixed."""
    fmt = CsvFormat(delimiter=";", decimal_separator=",", date_format="%d.%m.%Y")
    content = write_csv(["t", "n", "d"], [[text, Decimal("-5.25"), date(2026, 1, 2)]], fmt)
    (_head, row) = list(csv.reader(io.StringIO(content.decode(), newline=""), delimiter=";"))
    assert row[0] == neutralise(text)
    _assert_safe_text(row[0])
    assert row[1:] == ["-5,25", "02.01.2026"]


# ---------------------------------------------------------------- every export


ROW = {**CARRIER_ROW, "child_id": 5, "daily_hours": "9.50"}
HOSTILE_FIELDS = ("family_name", "first_name", "street", "house_no", "town",
                  "guardian1_family_name", "facility")


def _carrier_rows(text: str, hours: str) -> list[dict]:
    return [{**ROW, **{f: text for f in HOSTILE_FIELDS}, "daily_hours": hours},
            {**ROW, "daily_hours": hours}]


@FAST
@given(HOSTILE)
def test_every_carrier_export_is_formula_safe(text):
    """Issue 12 items 4 and 11: every shipped carrier profile (CSV, XLSX, hub XML), fed a
    hostile name, delivers a file without formulas (text neutralised, hours a number, dates
    dates); a text the format cannot hold is transliterated, never an exception."""
    text = text if text.strip() else "x" + text  # a record's name is never blank
    for profile in builtin_profiles().values():
        hours = "9.50" if profile.format == "xml" else "-9.50"  # the XSD wants > 0
        rows, findings = fit_encoding(_carrier_rows(text, hours), profile)
        left_out = {f["record"] for f in findings if f["action"] == "left out"}
        # the shipped profiles transliterate; a name of nothing but control characters
        # would be blank: that record is left out and reported
        assert len(rows) == 2 - len(left_out)
        assert {f["field"] for f in findings} <= set(TEXT_FIELDS)
        content, suffix = render(rows, profile, {"carrier": "1"})
        if suffix == "xml":
            parsed = [r for _, r in parse_xml(content)]
            assert len(parsed) == len(rows) and parsed[-1]["family_name"] == "Muster"
            continue
        if suffix == "xlsx":
            header, *cells = _sheet_cells(content)
            names = [c.value for c in header]
            for row in cells:
                assert all(c.data_type != "f" for c in row)
                by = dict(zip(names, row, strict=True))
                assert by[profile.columns["daily_hours"]].data_type == "n"
                assert by[profile.columns["daily_hours"]].value == -9.5
                assert by[profile.columns["birth_date"]].value == datetime(2022, 3, 4)
                for field in HOSTILE_FIELDS:
                    _assert_safe_text(by[profile.columns[field]].value or "")
            continue
        text_file = content.decode(profile.encoding)
        lines = io.StringIO(text_file, newline="")
        if profile.sep_line:
            assert lines.readline() == f"sep={profile.delimiter}\r\n"
        header, *cells = list(csv.reader(lines, delimiter=profile.delimiter))
        assert len(cells) == len(rows)
        for row in cells:
            by = dict(zip(header, row, strict=True))
            for field in HOSTILE_FIELDS:
                _assert_safe_text(by[profile.columns[field]])
            hours = by[profile.columns["daily_hours"]]
            assert hours == "-9.50".replace(".", profile.decimal_separator)  # not prefixed
            assert by[profile.columns["birth_date"]] == date(2022, 3, 4).strftime(
                profile.date_format)


@FAST
@given(HOSTILE)
def test_octoware_csv_is_formula_safe(text):
    """Issue 12 item 4 (Octoware CSV v1, interfaces.md §8): names, addresses and facility
    names are neutralised, the birth date stays an ISO date, the version line stays first."""
    row = {f: text for f in ROW_FIELDS} | {"birth_date": "2023-05-06"}
    content = render_octoware([row], "2026-11-01").decode("utf-8")
    lines = io.StringIO(content, newline="")
    assert lines.readline() == "#ekita-octoware-csv;v1;2026-11-01\r\n"
    header, cells = list(csv.reader(lines, delimiter=";"))
    assert header == [HEADERS[f] for f in ROW_FIELDS]
    by = dict(zip(ROW_FIELDS, cells, strict=True))
    assert by.pop("birth_date") == "2023-05-06"
    for value in by.values():
        _assert_safe_text(value)
        assert value == neutralise(text)


@FAST
@given(HOSTILE)
def test_sap_receivables_csv_is_formula_safe(text):
    """Issue 12 item 4: the SAP FI CSV variant neutralises its text columns while a
    credit's negative amount stays a number (``-5,00``) and the due date a date."""
    line = {"external_ref": text, "pkn": "10000101", "contract_id": 1, "cost_centre": text,
            "period": "2027-03", "fee_type": text, "line_kind": "GUTSCHRIFT",
            "correction_no": 1, "amount_cents": -500, "due_date": "2027-03-15"}
    content = render_receivables_csv([line], {"run_id": 1, "period": "2027-03",
                                              "line_count": 1, "sum_cents": -500},
                                     CsvProfile(encoding="utf-8"))
    _header, row, trailer = list(csv.reader(io.StringIO(content.decode(), newline=""),
                                           delimiter=";"))
    by = dict(zip(SAP_FIELDS, row, strict=True))
    for field in ("external_ref", "cost_centre", "fee_type"):
        _assert_safe_text(by[field])
    assert (by["amount"], by["due_date"], by["correction_no"]) == ("-5,00", "2027-03-15", "1")
    assert trailer == ["TRAILER", "1", "2027-03", "1", "-5,00"]


def test_xlsx_dates_of_the_reports_use_the_german_format():
    """Issue 12 item 4 (dates are dates): a report's date is a date cell, DD.MM.YYYY."""
    content = write_xlsx([Sheet("t", ["on"], [[date(2025, 1, 1) + timedelta(days=1)]])])
    (_, (cell,)) = _sheet_cells(content)
    assert cell.is_date and cell.number_format == "DD.MM.YYYY"
