"""The Octoware CSV, version 1 (interfaces.md §8, "Hub contract CSV v1").

A version line first (``#ekita-octoware-csv;v1;<reference day>``), then the header line,
then one row per child: ``;``-separated, UTF-8, RFC 4180 quoting, ISO dates, every text
cell formula-safe (the hub's one spreadsheet writer, issue 12 item 4). The version line
lets the receiver refuse a layout it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ekita.hub.spreadsheets import CsvFormat, write_csv
from ekita.plugins.octoware.listing import ROW_FIELDS

VERSION = 1
HEADERS = {
    "family_name": "nachname", "first_name": "vorname", "birth_date": "geburtsdatum",
    "sex": "geschlecht", "street": "strasse", "house_no": "hausnummer", "postcode": "plz",
    "town": "ort", "facility_name": "einrichtung_name",
    "facility_cost_centre": "einrichtung_kostenstelle",
    "facility_address": "einrichtung_adresse", "care_type": "betreuungsart",
}
DATES = frozenset({"birth_date"})  # ISO text in the payload, a date cell in the file


def _cell(field: str, value: Any) -> Any:
    if field in DATES and isinstance(value, str) and value:
        return date.fromisoformat(value)
    return value if value is not None else ""


def render(rows: Sequence[Mapping[str, Any]], as_of: str) -> bytes:
    """Version line, header, one row per child (UTF-8 holds every name: nothing is left out)."""
    fmt = CsvFormat(delimiter=";", encoding="utf-8",
                    preamble=(f"#ekita-octoware-csv;v{VERSION};{as_of}",))
    return write_csv([HEADERS[f] for f in ROW_FIELDS],
                     ([_cell(f, row[f]) for f in ROW_FIELDS] for row in rows), fmt)
