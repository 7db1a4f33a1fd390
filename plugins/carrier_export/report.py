"""The import report: counts, and each quarantined row with row number, field, value and
rule, as JSON (API, machines) and as readable text (the carrier's staff)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Quarantined:
    row: int  # line in the file (header = 1), record number in XML; 0: the file as a whole
    field: str
    value: str | None
    rule: str
    message: str


@dataclass
class ImportReport:
    carrier_id: int
    source: str
    profile: str
    content_hash: str
    dry_run: bool = False
    status: str = "applied"  # applied | partial | refused | duplicate
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # rows the import does not apply (placed applications: export only)
    quarantine: list[Quarantined] = field(default_factory=list)
    id: int | None = None

    @property
    def applied(self) -> int:
        return self.created + self.updated

    def quarantine_row(self, row: int, field: str, value: Any, rule: str, message: str) -> None:
        shown = None if value is None else str(value)[:100]
        self.quarantine.append(Quarantined(row, field, shown, rule, message))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["applied"] = self.applied
        data["quarantined"] = len(self.quarantine)
        return data

    def as_text(self) -> str:
        mode = " (dry run: nothing was changed)" if self.dry_run else ""
        lines = [
            f"Import of {self.source} for carrier {self.carrier_id}, profile {self.profile}"
            f"{mode}",
            f"status: {self.status}; rows: {self.rows_total}; created: {self.created}; "
            f"updated: {self.updated}; unchanged: {self.unchanged}; skipped: {self.skipped}; "
            f"quarantined: {len(self.quarantine)}",
        ]
        for q in self.quarantine:
            where = f"row {q.row}" if q.row else "file"
            lines.append(f"  {where}, field {q.field}, value {q.value!r}: {q.message} "
                         f"[rule: {q.rule}]")
        return "\n".join(lines)
