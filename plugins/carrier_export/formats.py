"""Reading and writing canonical rows as CSV, Excel (.xlsx) or hub XML.

Parsers yield ``(row number, {field: text})`` with the hub's field names and the file's
own spelling of dates and decimals (the importer converts them with the profile). A
problem with the file as a whole raises ``FileRefused`` naming the row, before anything
is applied. XML is refused if it has a DOCTYPE (checked on the raw bytes before parsing,
so no entity is ever expanded) and is validated against the shipped XSD while parsed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from ekita.core.errors import RuleViolation
from ekita.plugins.carrier_export.csvsafe import DANGEROUS_PREFIXES, neutralise
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


def to_cell(field: str, value: Any, profile: Profile) -> str:
    """One canonical value as the profile writes it (text cells formula-safe)."""
    if value is None or value == "":
        return ""
    text = str(value)
    if field in DATE_FIELDS:
        return date.fromisoformat(text).strftime(profile.date_format)
    if field in DECIMAL_FIELDS:
        return text.replace(".", profile.decimal_separator)
    return neutralise(profile.to_file(field, text))


def cell_writer(field: str, profile: Profile) -> Callable[[Any], str]:
    """``to_cell`` for one field, with the per-field decisions taken once (export speed)."""
    if field in DATE_FIELDS:
        if profile.date_format == "%Y-%m-%d":
            return lambda v: str(v) if v else ""
        fmt = profile.date_format
        return lambda v: date.fromisoformat(str(v)).strftime(fmt) if v else ""
    if field in DECIMAL_FIELDS:
        sep = profile.decimal_separator
        return lambda v: str(v).replace(".", sep) if v not in (None, "") else ""
    mapping = profile.value_maps.get(field)
    if mapping:
        return lambda v: neutralise(mapping.get(str(v), str(v))) if v not in (None, "") else ""
    return lambda v: neutralise(str(v)) if v not in (None, "") else ""


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


def render_csv(rows: Sequence[Mapping[str, Any]], profile: Profile) -> bytes:
    out = io.StringIO()
    if profile.sep_line:
        out.write(f"sep={profile.delimiter}\r\n")
    writer = csv.writer(out, delimiter=profile.delimiter, lineterminator="\r\n",
                        quoting=csv.QUOTE_ALL if profile.quoting == "all" else csv.QUOTE_MINIMAL)
    fields = list(profile.columns)
    writer.writerow([profile.columns[f] for f in fields])
    convert = [cell_writer(f, profile) for f in fields]
    pairs = list(zip(fields, convert, strict=True))
    writer.writerows([[c(row.get(f)) for f, c in pairs] for row in rows])
    try:
        return out.getvalue().encode(profile.encoding)
    except UnicodeEncodeError as exc:
        raise RuleViolation(f"a value cannot be written in {profile.encoding}: {exc.reason}",
                            record="carrier_file", field="encoding",
                            rule="the profile's encoding") from None


def _decode(content: bytes, profile: Profile) -> str:
    try:
        return content.decode(profile.encoding)
    except UnicodeDecodeError as exc:
        line = content[:exc.start].count(b"\n") + 1
        raise FileRefused(f"row {line}: byte 0x{content[exc.start]:02x} is not valid "
                          f"{profile.encoding}", field="encoding", row=line,
                          rule=f"profile {profile.name}: encoding {profile.encoding}") from None


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


def parse_csv(content: bytes, profile: Profile) -> Iterator[tuple[int, Row]]:
    text = _decode(content, profile)
    lines = io.StringIO(text, newline="")
    line = 1
    first = lines.readline()
    if profile.sep_line and first.strip().startswith("sep="):
        line += 1
    else:
        lines.seek(0)
    reader = csv.reader(lines, delimiter=profile.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FileRefused("the file is empty", field="file", rule="a header line") from None
    mapped = _header_map(header, profile, line)
    # the reader's logic inlined per cell (a million calls for 50,000 rows otherwise)
    specs = [(f, {t: h for h, t in profile.value_maps.get(f, {}).items()}) if f else None
             for f in mapped]
    for cells in reader:
        line = reader.line_num + (1 if profile.sep_line and first.startswith("sep=") else 0)
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


# ---------------------------------------------------------------- Excel


def render_xlsx(rows: Sequence[Mapping[str, Any]], profile: Profile) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("E-KITA")
    fields = list(profile.columns)
    sheet.append([profile.columns[f] for f in fields])
    for row in rows:
        sheet.append([to_cell(f, row.get(f), profile) for f in fields])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


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


def parse_xlsx(content: bytes, profile: Profile) -> Iterator[tuple[int, Row]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # zipfile/openpyxl raise many kinds for a broken workbook
        raise FileRefused(f"not an Excel workbook ({type(exc).__name__})", field="file",
                          rule="Office Open XML (.xlsx)") from None
    rows = book.worksheets[0].iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise FileRefused("the workbook is empty", field="file", rule="a header line")
    mapped = _header_map([_xlsx_text(h, profile) for h in header], profile, 1)
    for number, cells in enumerate(rows, start=2):
        texts = [_xlsx_text(c, profile) for c in cells]
        if not any(t.strip() for t in texts):
            continue
        texts += [""] * (len(mapped) - len(texts))
        yield number, {f: from_cell(f, t, profile) for f, t in zip(mapped, texts, strict=False)
                       if f is not None}


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
    """No DOCTYPE, no entity declarations: checked on the bytes, before any parsing."""
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:  # XML keywords are upper case
        raise FileRefused("a DOCTYPE or entity declaration is not allowed", field="document",
                          rule="interfaces.md §2.5: XML without DTD or external entities")


def parse_xml(content: bytes) -> Iterator[tuple[int, Row]]:
    """Records of a hub XML document, validated against the XSD while parsed."""
    refuse_doctype(content)
    tag = f"{{{NS}}}record"
    cut = len(NS) + 2  # "{urn…}name" -> "name"
    number = 0
    try:
        for _, element in etree.iterparse(
                io.BytesIO(content), events=("end",), tag=tag, schema=schema(),
                resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False):
            number += 1
            row = {child.tag[cut:]: (child.text or "").strip() or None for child in element}
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
            yield number, row
    except etree.XMLSyntaxError as exc:
        raise FileRefused(f"not a valid hub XML document (after record {number}): {exc}",
                          field="document", row=number, rule="carrier-exchange-v1.xsd"
                          ) from None
