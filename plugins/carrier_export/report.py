"""The import report: counts, and the quarantined rows with row number, field, value and
rule, as JSON (API, machines) and as readable text (the carrier's staff).

Bounded (issue 12 item 6): a hostile or broken file of a million bad rows must not make a
million report entries in memory, in the database and in every answer. The first
``QUARANTINE_SHOWN`` rows are kept in full (enough to see and fix each kind of mistake,
and the order of the file is kept, so the first faults come first); the rest are counted,
and ``as_dict``/``as_text`` say how many were left out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Quarantined rows kept in full; 100 rows of ~300 bytes keep a report under ~50 KB.
QUARANTINE_SHOWN = 100


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
    quarantine: list[Quarantined] = field(default_factory=list)  # the first ones, in full
    quarantine_omitted: int = 0  # quarantined rows counted but not kept
    id: int | None = None

    @property
    def applied(self) -> int:
        return self.created + self.updated

    @property
    def quarantined(self) -> int:
        """Every quarantined row, kept in full or only counted."""
        return len(self.quarantine) + self.quarantine_omitted

    def quarantine_row(self, row: int, field: str, value: Any, rule: str, message: str) -> None:
        # The reason a whole file is refused (status set first) is always kept in full.
        if len(self.quarantine) >= QUARANTINE_SHOWN and self.status != "refused":
            self.quarantine_omitted += 1
            return
        shown = None if value is None else str(value)[:100]
        self.quarantine.append(Quarantined(row, field, shown, rule, message[:500]))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["applied"] = self.applied
        data["quarantined"] = self.quarantined
        return data

    def as_text(self) -> str:
        mode = " (dry run: nothing was changed)" if self.dry_run else ""
        lines = [
            f"Import of {self.source} for carrier {self.carrier_id}, profile {self.profile}"
            f"{mode}",
            f"status: {self.status}; rows: {self.rows_total}; created: {self.created}; "
            f"updated: {self.updated}; unchanged: {self.unchanged}; skipped: {self.skipped}; "
            f"quarantined: {self.quarantined}",
        ]
        for q in self.quarantine:
            where = f"row {q.row}" if q.row else "file"
            lines.append(f"  {where}, field {q.field}, value {q.value!r}: {q.message} "
                         f"[rule: {q.rule}]")
        if self.quarantine_omitted:
            lines.append(f"  … and {self.quarantine_omitted} more quarantined rows not listed "
                         f"(the first {len(self.quarantine)} are shown)")
        return "\n".join(lines)
