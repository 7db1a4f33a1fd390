"""The flat CSV variant of the receivables, for SAP systems that take CSV (by profile).

A profile names the delimiter, the encoding, the decimal separator and the column
headers; the columns are the ReceivableLine fields of interfaces.md §5. The trailer is a
last row whose first column is ``TRAILER`` and which carries the run, period, line count
and sum in cents, so a CSV file reconciles with its run exactly as the XML does. The file
is written by the hub's one spreadsheet writer (issue 12 item 4): text cells formula-safe,
amounts numbers (a credit's ``-5,00`` is never prefixed), due dates dates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ekita.hub.spreadsheets import CsvFormat, write_csv

FIELDS = ("external_ref", "pkn", "contract_id", "cost_centre", "period", "fee_type",
          "line_kind", "correction_no", "amount", "due_date")


class CsvProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delimiter: str = Field(default=";", min_length=1, max_length=1)
    encoding: str = "utf-8"
    decimal_comma: bool = True
    columns: dict[str, str] = Field(default_factory=lambda: {f: f.upper() for f in FIELDS})


def _euros(cents: int) -> Decimal:
    return Decimal(int(cents)).scaleb(-2)  # exact, two places: 21350 -> 213.50


def _row(line: Mapping[str, Any]) -> list[Any]:
    row = {**line, "amount": _euros(line["amount_cents"]),
           "due_date": date.fromisoformat(str(line["due_date"]))}
    return [row[f] for f in FIELDS]


def render_receivables_csv(lines: Iterable[Mapping[str, Any]], trailer: Mapping[str, Any] | None,
                           profile: CsvProfile) -> bytes:
    """Header, one row per line (signed amount in euros), then the trailer row if given."""
    rows = [_row(line) for line in lines]
    if trailer is not None:
        rows.append(["TRAILER", trailer["run_id"], trailer["period"], trailer["line_count"],
                     _euros(trailer["sum_cents"])])
    fmt = CsvFormat(delimiter=profile.delimiter, encoding=profile.encoding,
                    decimal_separator="," if profile.decimal_comma else ".",
                    quoting="minimal")
    return write_csv([profile.columns.get(f, f.upper()) for f in FIELDS], rows, fmt)
