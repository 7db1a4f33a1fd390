"""The Octoware CSV, version 1 (interfaces.md §8, "Hub contract CSV v1").

A version line first (``#ekita-octoware-csv;v1;<reference day>``), then the header line,
then one row per child: ``;``-separated, UTF-8, RFC 4180 quoting, ISO dates, every text
cell formula-safe. The version line lets the receiver refuse a layout it does not know.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from ekita.plugins.carrier_export.csvsafe import neutralise
from ekita.plugins.octoware.listing import ROW_FIELDS

VERSION = 1
HEADERS = {
    "family_name": "nachname", "first_name": "vorname", "birth_date": "geburtsdatum",
    "sex": "geschlecht", "street": "strasse", "house_no": "hausnummer", "postcode": "plz",
    "town": "ort", "facility_name": "einrichtung_name",
    "facility_cost_centre": "einrichtung_kostenstelle",
    "facility_address": "einrichtung_adresse", "care_type": "betreuungsart",
}
NOT_TEXT = frozenset({"birth_date"})  # dates stay as they are


def render(rows: Sequence[Mapping[str, Any]], as_of: str) -> bytes:
    out = io.StringIO()
    out.write(f"#ekita-octoware-csv;v{VERSION};{as_of}\r\n")
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([HEADERS[f] for f in ROW_FIELDS])
    for row in rows:
        writer.writerow([str(row[f]) if f in NOT_TEXT else neutralise(str(row[f] or ""))
                         for f in ROW_FIELDS])
    return out.getvalue().encode("utf-8")
