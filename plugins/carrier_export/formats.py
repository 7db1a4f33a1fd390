"""Reading and writing canonical rows as CSV, Excel (.xlsx) or hub XML.

Parsers yield ``(row number, {field: text})`` with the hub's field names and the file's
own spelling of dates and decimals (the importer converts them with the profile). A
problem with the file as a whole raises ``FileRefused`` naming the row, before anything
is applied. XML is refused if it has a DOCTYPE (checked on the raw bytes before parsing,
so no entity is ever expanded) and is validated against the shipped XSD while parsed.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib.resources import files
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from ekita.core.errors import RuleViolation
from ekita.hub import inputs
from ekita.hub.spreadsheets import (
    DANGEROUS_PREFIXES,
    CsvFormat,
    Sheet,
    csv_text,
    write_csv,
    write_xlsx,
)
from ekita.plugins.carrier_export.profile import PACKAGE, Profile
from ekita.plugins.carrier_export.records import DATE_FIELDS, DECIMAL_FIELDS, FIELDS

NS = "urn:ekita:carrier-exchange:v1"
_DANGER = frozenset(p for p in DANGEROUS_PREFIXES)
XSD_NAME = "carrier-exchange-v1.xsd"
Row = dict[str, str | None]


class FileRefused(RuleViolation):
    """The file as a whole cannot be taken in; ``row`` is 0 when no row is to blame."""

    def __init__(self, message: str, *, field: str, rule: str, row: int = 0) -> None:
        super().__init__(message, record="carrier_file", field=field, rule=rule)
        self.row = row


# ---------------------------------------------------------------- cells


def csv_format(profile: Profile) -> CsvFormat:
    """The hub writer's CSV settings for a profile."""
    return CsvFormat(delimiter=profile.delimiter, encoding=profile.encoding,
                     quoting=profile.quoting, date_format=profile.date_format,
                     decimal_separator=profile.decimal_separator,
                     preamble=(f"sep={profile.delimiter}",) if profile.sep_line else ())


def to_cell(field: str, value: Any, profile: Profile) -> str:
    """One canonical value as the profile's CSV writes it (text cells formula-safe)."""
    return csv_text(cell_writer(field, profile)(value), csv_format(profile))


def _typed(field: str, kind: type, parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None or value == "" or isinstance(value, kind):
            return None if value == "" else value
        try:
            return parse(str(value))
        except (ValueError, InvalidOperation):
            raise RuleViolation(f"{field} {str(value)[:40]!r} is not a {kind.__name__}",
                                record="carrier_file", field=field,
                                rule="records.py: canonical dates and decimals") from None
    return convert


def cell_writer(field: str, profile: Profile) -> Callable[[Any], Any]:
    """One field's canonical value as a typed cell for the hub's writer (a ``date``, a
    ``Decimal`` or mapped text, which the writer neutralises), decided once per field."""
    if field in DATE_FIELDS:
        return _typed(field, date, date.fromisoformat)
    if field in DECIMAL_FIELDS:
        return _typed(field, Decimal, Decimal)
    mapping = profile.value_maps.get(field)
    if mapping:
        return lambda v: mapping.get(str(v), str(v)) if v not in (None, "") else None
    return lambda v: str(v) if v not in (None, "") else None


def from_cell(field: str, text: str, profile: Profile) -> str | None:
    """A cell as the hub reads it: the export's apostrophe removed, value map inverted."""
    return cell_reader(field, profile)(text)


def cell_reader(field: str, profile: Profile) -> Callable[[str], str | None]:
    """``from_cell`` for one field, with the value map inverted once (import speed)."""
    reverse = {theirs: hub for hub, theirs in profile.value_maps.get(field, {}).items()}

    def read(text: str) -> str | None:
        if text[:1] == "'" and text[1:2] in _DANGER:
            text = text[1:]
        text = text.strip()
        if not text:
            return None
        return reverse.get(text, text) if reverse else text

    return read


# ---------------------------------------------------------------- CSV


def _typed_rows(rows: Sequence[Mapping[str, Any]], profile: Profile) -> list[list[Any]]:
    pairs = [(f, cell_writer(f, profile)) for f in profile.columns]
    return [[c(row.get(f)) for f, c in pairs] for row in rows]


def render_csv(rows: Sequence[Mapping[str, Any]], profile: Profile) -> bytes:
    """The rows as the profile's CSV, through the hub's one writer (issue 12 item 4)."""
    return write_csv(list(profile.columns.values()), _typed_rows(rows, profile),
                     csv_format(profile))


#: What a parser takes: the bytes, a path or a binary stream (read capped, in chunks).
Content = bytes | str | IO[bytes]


def _too_large(exc: inputs.RuleViolation) -> FileRefused:
    return FileRefused(exc.message, field=exc.field or "file", rule=exc.rule or "")


def _decode(stream: IO[bytes], profile: Profile) -> Iterator[str]:
    """The file's lines, decoded incrementally (memory: one chunk, not the file); a byte
    the profile's encoding cannot read refuses the file naming its row."""
    decoder = codecs.getincrementaldecoder(profile.encoding)()
    pending, newlines = "", 0
    while True:
        raw = stream.readline(inputs.CHUNK)
        try:
            text = decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            line = newlines + exc.object[:exc.start].count(b"\n") + 1
            raise FileRefused(f"row {line}: byte 0x{exc.object[exc.start]:02x} is not valid "
                              f"{profile.encoding}", field="encoding", row=line,
                              rule=f"profile {profile.name}: encoding {profile.encoding}"
                              ) from None
        newlines += raw.count(b"\n")
        pending += text
        cut = len(pending) if not raw else pending.rfind("\n") + 1
        if cut:  # whole lines only (a CR LF pair is never cut), split as csv expects
            yield from io.StringIO(pending[:cut], newline="")
            pending = pending[cut:]
        if not raw:
            return


def _header_map(header: list[str], profile: Profile, line: int) -> list[str | None]:
    by_header = {h: f for f, h in profile.columns.items()}
    mapped: list[str | None] = []
    for name in header:
        field = by_header.get(name.strip())
        if field is None and profile.unknown_columns == "reject":
            raise FileRefused(f"row {line}: unknown column {name!r}", field=name, row=line,
                              rule=f"profile {profile.name}: unknown columns are rejected")
        mapped.append(field)
    missing = [profile.columns[f] for f in ("family_name", "first_name", "birth_date",
                                             "facility", "care_type", "start_date",
                                             "daily_hours") if f not in mapped]
    if missing:
        raise FileRefused(f"row {line}: required column(s) missing: {', '.join(missing)}",
                          field=missing[0], row=line, rule="carrier-exchange.md: columns")
    return mapped


def parse_csv(content: Content, profile: Profile) -> Iterator[tuple[int, Row]]:
    """Rows of a CSV file, streamed: read in chunks up to the profile's ``max_bytes``
    (issue 12 item 6), decoded line by line; a malformed line refuses the file."""
    try:
        with inputs.open_capped(content, cap=profile.max_bytes, name="carrier_file") as raw:
            yield from _csv_rows(_decode(raw, profile), profile)
    except inputs.InputTooLarge as exc:
        raise _too_large(exc) from None


def _csv_rows(lines: Iterator[str], profile: Profile) -> Iterator[tuple[int, Row]]:
    line = 1
    first = next(lines, "")
    sep_line = profile.sep_line and first.strip().startswith("sep=")
    if sep_line:
        line += 1
    else:
        lines = _chain(first, lines)
    reader = csv.reader(lines, delimiter=profile.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FileRefused("the file is empty", field="file", rule="a header line") from None
    except csv.Error as exc:
        raise FileRefused(f"row {line}: {exc}", field="file", row=line,
                          rule="RFC 4180 CSV") from None
    mapped = _header_map(header, profile, line)
    # the reader's logic inlined per cell (a million calls for 50,000 rows otherwise)
    specs = [(f, {t: h for h, t in profile.value_maps.get(f, {}).items()}) if f else None
             for f in mapped]
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a NUL byte, a field over csv's size limit
            bad = reader.line_num + int(sep_line)
            raise FileRefused(f"row {bad}: {exc}", field="file", row=bad,
                              rule="RFC 4180 CSV") from None
        line = reader.line_num + int(sep_line)
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(mapped):
            yield line, {"__error__": f"{len(cells)} cells, the header has {len(mapped)}"}
            continue
        row: Row = {}
        for spec, text in zip(specs, cells, strict=True):
            if spec is None:
                continue
            if text[:1] == "'" and text[1:2] in _DANGER:
                text = text[1:]
            text = text.strip()
            row[spec[0]] = (spec[1].get(text, text) if spec[1] else text) if text else None
        yield line, row


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest


# ---------------------------------------------------------------- Excel


def render_xlsx(rows: Sequence[Mapping[str, Any]], profile: Profile) -> bytes:
    """The rows as one worksheet through the hub's one writer (issue 12 item 4): text cells
    formula-safe strings, dates date cells, hours number cells."""
    return write_xlsx([Sheet("E-KITA", list(profile.columns.values()),
                             _typed_rows(rows, profile))])


def _xlsx_text(value: Any, profile: Profile) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().strftime(profile.date_format)
    if isinstance(value, date):
        return value.strftime(profile.date_format)
    if isinstance(value, float | int):
        return str(value).replace(".", profile.decimal_separator)
    return str(value)


def parse_xlsx(content: Content, profile: Profile) -> Iterator[tuple[int, Row]]:
    """Rows of the first sheet, streamed (``read_only``), through ``ekita.hub.inputs``: size
    and unpacked size capped, no DOCTYPE in any part, entities never expanded (defusedxml);
    a broken workbook is one ``FileRefused``, never a traceback (issue 12 item 6)."""
    rows = inputs.xlsx_rows(content, record="carrier_file", cap=profile.max_bytes,
                            unpacked_cap=inputs.cap_for("xlsx_unpacked"))
    try:
        header = next(rows, None)
        if header is None:
            raise FileRefused("the workbook is empty", field="file", rule="a header line")
        mapped = _header_map([_xlsx_text(h, profile) for h in header], profile, 1)
        readers = [cell_reader(f, profile) if f is not None else None for f in mapped]
        for number, cells in enumerate(rows, start=2):
            texts = [_xlsx_text(c, profile) for c in cells]
            if not any(t.strip() for t in texts):
                continue
            texts += [""] * (len(mapped) - len(texts))
            yield number, {f: read(t) for f, read, t in zip(mapped, readers, texts,
                                                            strict=False) if f is not None}
    except FileRefused:
        raise
    except inputs.RuleViolation as exc:  # SpreadsheetRefused, InputTooLarge
        raise _too_large(exc) from None


# ---------------------------------------------------------------- hub XML


@cache
def schema() -> etree.XMLSchema:
    data = files(PACKAGE).joinpath("xsd", XSD_NAME).read_bytes()
    return etree.XMLSchema(etree.fromstring(data, etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False)))


def render_xml(rows: Sequence[Mapping[str, Any]], meta: Mapping[str, str]) -> bytes:
    """The hub XML v1 document, written as text (fixed tag names, values escaped by
    ``xml.sax.saxutils``) and then validated against its XSD while read back, streaming,
    so memory stays flat; an invalid document is our bug."""
    out = io.StringIO()
    attributes = "".join(f" {k}={quoteattr(str(v))}" for k, v in meta.items())
    out.write(f"<?xml version='1.0' encoding='UTF-8'?>\n"
              f'<carrierExchange xmlns="{NS}" version="1"{attributes}>')
    for row in rows:
        out.write("<record>")
        for field in FIELDS:
            value = row.get(field)
            if value is not None and value != "":
                out.write(f"<{field}>{escape(str(value))}</{field}>")
        out.write("</record>")
    out.write("</carrierExchange>")
    document = out.getvalue().encode("utf-8")
    try:
        for _ in parse_xml(document):
            pass
    except FileRefused as exc:
        raise RuleViolation(f"export does not match the XSD: {exc.message}",
                            record="carrier_file", field="document",
                            rule="carrier-exchange-v1.xsd") from None
    return document


def refuse_doctype(content: bytes) -> None:
    """No DOCTYPE (so no entity declaration): decided by the parser after decoding, so
    UTF-16/32 and a DOCTYPE after comments are caught too (issue 12 item 6)."""
    try:
        inputs.refuse_doctype_stream(io.BytesIO(content), record="carrier_file")
    except inputs.XmlRefused as exc:
        raise FileRefused(exc.message, field="document", rule=exc.rule or "") from None


def parse_xml(content: Content, max_bytes: int | None = None
              ) -> Iterator[tuple[int, Row]]:
    """Records of a hub XML document, streamed and validated against the XSD while parsed;
    a DOCTYPE is refused by the parser before any record (``ekita.hub.inputs.iter_xml``)."""
    tag = f"{{{NS}}}record"
    cut = len(NS) + 2  # "{urn…}name" -> "name"
    number = 0
    elements = inputs.iter_xml(content, record="carrier_file", tag=tag, cap=max_bytes,
                               schema=schema())
    try:
        next(elements)  # the root, at its start: the DOCTYPE check has passed
        for element in elements:
            number += 1
            yield number, {child.tag[cut:]: (child.text or "").strip() or None
                           for child in element}
    except inputs.InputTooLarge as exc:
        raise _too_large(exc) from None
    except inputs.XmlRefused as exc:
        if exc.rule == inputs.RULE_DOCTYPE:
            raise FileRefused("a DOCTYPE or entity declaration is not allowed",
                              field="document", rule=exc.rule) from None
        raise FileRefused(f"not a valid hub XML document (after record {number}): "
                          f"{exc.message}", field="document", row=number,
                          rule="carrier-exchange-v1.xsd") from None
