"""The flat CSV variant of the receivables, for SAP systems that take CSV (by profile).

A profile names the delimiter, the encoding, the decimal separator and the column
headers; the columns are the ReceivableLine fields of interfaces.md §5. The trailer is a
last row whose first column is ``TRAILER`` and which carries the run, period, line count
and sum in cents, so a CSV file reconciles with its run exactly as the XML does.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from decimal import Decimal
from io import StringIO
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

FIELDS = ("external_ref", "pkn", "contract_id", "cost_centre", "period", "fee_type",
          "line_kind", "correction_no", "amount", "due_date")


class CsvProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delimiter: str = Field(default=";", min_length=1, max_length=1)
    encoding: str = "utf-8"
    decimal_comma: bool = True
    columns: dict[str, str] = Field(default_factory=lambda: {f: f.upper() for f in FIELDS})


def _amount(cents: int, comma: bool) -> str:
    text = f"{Decimal(int(cents)) / 100:.2f}"
    return text.replace(".", ",") if comma else text


def render_receivables_csv(lines: Iterable[Mapping[str, Any]], trailer: Mapping[str, Any] | None,
                           profile: CsvProfile) -> bytes:
    """Header, one row per line (signed amount in euros), then the trailer row if given."""
    out = StringIO()
    writer = csv.writer(out, delimiter=profile.delimiter, lineterminator="\r\n")
    writer.writerow([profile.columns.get(f, f.upper()) for f in FIELDS])
    for line in lines:
        row = {**line, "amount": _amount(line["amount_cents"], profile.decimal_comma)}
        writer.writerow([row[f] for f in FIELDS])
    if trailer is not None:
        writer.writerow(["TRAILER", trailer["run_id"], trailer["period"], trailer["line_count"],
                         _amount(trailer["sum_cents"], profile.decimal_comma)])
    return out.getvalue().encode(profile.encoding)
