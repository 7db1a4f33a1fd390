"""Excel export of the reports (Lastenheft 3.12: "Alle Auswertungen … nach Excel exportiert").

One sheet per list, written by the hub's one spreadsheet writer (``ekita.hub.spreadsheets``,
issue 12 item 4): text cells formula-safe, numbers as number cells, dates as date cells,
a bold frozen header.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import Response

from ekita.hub.spreadsheets import XLSX, Sheet, write_xlsx

Report = tuple[str, Sequence[str], Iterable[Mapping[str, Any]]]


def _sheet(title: str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Sheet:
    return Sheet(title, list(columns), [[row.get(c) for c in columns] for row in rows])


def workbook(sheets: Sequence[Report]) -> bytes:
    """An .xlsx file with one sheet per (title, columns, rows)."""
    return write_xlsx([_sheet(*report) for report in sheets])


def xlsx_response(filename: str, sheets: Sequence[Report]) -> Response:
    return Response(workbook(sheets), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
