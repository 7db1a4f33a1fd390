"""The one spreadsheet writer of the hub: every CSV and XLSX it produces goes through here
(issue 12 item 4; OWASP "CSV Injection").

Threat: a text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
(or the full-width ``＝ ＋ － ＠``, which some spreadsheet programs fold to ASCII) is run as
a formula when a clerk opens the file. So the cell policy is by Python type, decided here
once for every export:

* ``str`` (and anything that is not a number or a date) is text: a dangerous first
  character gets a leading apostrophe (``neutralise``); in XLSX it is a string cell
  (``data_type "s"``, set explicitly wherever openpyxl would infer a formula or an error
  code), never a formula; characters XML cannot hold become U+FFFD;
* ``int``, ``float`` and ``Decimal`` are numbers: never prefixed (``-5.00`` stays a
  number), number cells in XLSX, the profile's decimal separator in CSV;
* ``date`` is a date: a date cell shown ``DD.MM.YYYY`` in XLSX, the profile's format in
  CSV; ``datetime`` is shown in Europe/Berlin time.

Callers hand typed values (a date as ``date``, an amount as ``Decimal``), not text that
looks like them: text is always treated as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from ekita.core.errors import RuleViolation
from ekita.core.tracking import BERLIN
from ekita.hub.codepage import NOT_XML

#: First characters that make a spreadsheet program evaluate a cell.
DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
NEUTRALISER = "'"
DATE_FORMAT_XLSX = "DD.MM.YYYY"
DATETIME_FORMAT_XLSX = "DD.MM.YYYY HH:MM:SS"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_NUMBERS = (int, float, Decimal)
_DANGER = frozenset(DANGEROUS_PREFIXES)


def neutralise(text: str) -> str:
    """The text as a spreadsheet shows it literally: a dangerous first character gets an
    apostrophe."""
    if text.startswith(DANGEROUS_PREFIXES):
        return NEUTRALISER + text
    return text


def unneutralise(text: str) -> str:
    """The text a reader gets back from a neutralised cell (for importers)."""
    if text[:1] == NEUTRALISER and text[1:2] in _DANGER:
        return text[1:]
    return text


def _berlin(value: datetime) -> datetime:
    """A wall-clock time in Europe/Berlin; naive values are taken as Berlin already."""
    return value.astimezone(BERLIN).replace(tzinfo=None) if value.tzinfo else value


class UnencodableCell(RuleViolation):
    """A cell the file's encoding cannot hold (the caller should have transliterated or
    left the record out: ``ekita.hub.codepage``)."""

    def __init__(self, row: int, column: str, encoding: str) -> None:
        super().__init__(f"row {row}, column {column!r}: a character cannot be written in "
                         f"{encoding}", record=f"row {row}", field=column,
                         rule=f"the file's encoding {encoding}")
        self.row = row


# ---------------------------------------------------------------- CSV


@dataclass(frozen=True)
class CsvFormat:
    """How one CSV file is written. ``preamble`` lines come first, as they are (Excel's
    ``sep=;`` line, a version line); they are the writer's own text, never data."""

    delimiter: str = ";"
    encoding: str = "utf-8"
    quoting: Literal["minimal", "all"] = "minimal"
    date_format: str = "%Y-%m-%d"
    decimal_separator: Literal[".", ","] = "."
    line_terminator: str = "\r\n"
    preamble: tuple[str, ...] = field(default=())


def csv_text(value: Any, fmt: CsvFormat) -> str:
    """One value as its CSV cell text, by the cell policy above."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, _NUMBERS):
        text = str(value)
        return text.replace(".", ",") if fmt.decimal_separator == "," else text
    if isinstance(value, datetime):
        return _berlin(value).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.strftime(fmt.date_format)
    return neutralise(str(value))


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]], fmt: CsvFormat) -> bytes:
    """Preamble, header and rows as the format asks; a cell the encoding cannot hold is an
    ``UnencodableCell`` naming row and column."""
    out = io.StringIO()
    for line in fmt.preamble:
        out.write(line + fmt.line_terminator)
    writer = csv.writer(out, delimiter=fmt.delimiter, lineterminator=fmt.line_terminator,
                        quoting=csv.QUOTE_ALL if fmt.quoting == "all" else csv.QUOTE_MINIMAL)
    writer.writerow([neutralise(h) for h in header])
    cells = [[csv_text(v, fmt) for v in row] for row in rows]
    writer.writerows(cells)
    try:
        return out.getvalue().encode(fmt.encoding)
    except UnicodeEncodeError:
        for number, row in enumerate([list(header), *cells]):
            for column, text in zip(header, row, strict=False):
                try:
                    text.encode(fmt.encoding)
                except UnicodeEncodeError:
                    raise UnencodableCell(number, column, fmt.encoding) from None
        raise UnencodableCell(0, "preamble", fmt.encoding) from None


# ---------------------------------------------------------------- XLSX


@dataclass(frozen=True)
class Sheet:
    """One worksheet: a bold, frozen header row, then the rows (values by the cell policy)."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]


def _text_cell(sheet: Any, value: str) -> Any:
    """A string cell. openpyxl types a ``str`` as a formula if it starts with ``=`` and as an
    error if it is an error code (``#N/A``): such a cell is built with ``data_type "s"``
    explicitly; any other ``str`` openpyxl types as a string itself (a cell object per
    text would cost a third more time for a city-sized export)."""
    if not value:
        return None  # an empty cell, not an empty string cell
    text = neutralise(NOT_XML.sub("\ufffd", value))
    if not text.startswith(("=", "#")):
        return text
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # explicit: never a formula or an error, whatever the text
    return cell


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime | date):
        cell = WriteOnlyCell(sheet, value=_berlin(value) if isinstance(value, datetime)
                             else value)
        cell.number_format = (DATETIME_FORMAT_XLSX if isinstance(value, datetime)
                              else DATE_FORMAT_XLSX)
        return cell
    return _text_cell(sheet, str(value))


def write_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """An .xlsx workbook with one worksheet per ``Sheet`` (streamed, write-only)."""
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for spec in sheets:
        sheet = book.create_sheet(spec.title[:31])
        for i, name in enumerate(spec.header, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = max(12, len(name) + 2)
        sheet.freeze_panes = "A2"
        head = []
        for name in spec.header:
            if not name:
                head.append(None)
                continue
            cell = WriteOnlyCell(sheet, value=neutralise(NOT_XML.sub("\ufffd", name)))
            cell.data_type = "s"
            cell.font = bold
            head.append(cell)
        sheet.append(head)
        for row in spec.rows:
            sheet.append([_xlsx_cell(sheet, v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
