"""Excel export of the reports (Lastenheft 3.12: "Alle Auswertungen … nach Excel exportiert").

One sheet per list, a bold header row, dates and numbers as real cell values (Decimal
becomes a number cell with its exact text value), and a frozen header.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import Response
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Sheet = tuple[str, Sequence[str], Iterable[Mapping[str, Any]]]


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # a spreadsheet number; the exact figure stays in the JSON answer
    if isinstance(value, date | int | float | str) or value is None:
        return value
    return str(value)


def workbook(sheets: Sequence[Sheet]) -> bytes:
    """An .xlsx file with one sheet per (title, columns, rows)."""
    book = Workbook()
    book.remove(book.active)
    for title, columns, rows in sheets:
        sheet = book.create_sheet(title[:31])
        sheet.append(list(columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_cell(row.get(c)) for c in columns])
        for i, column in enumerate(columns, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = max(12, len(column) + 2)
            if sheet.max_row > 1 and isinstance(sheet.cell(2, i).value, date):
                for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                    cell.number_format = "yyyy-mm-dd"
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xlsx_response(filename: str, sheets: Sequence[Sheet]) -> Response:
    return Response(workbook(sheets), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
