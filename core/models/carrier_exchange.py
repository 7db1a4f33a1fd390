"""Import reports of carrier files (interfaces.md §9): what was applied, what quarantined.

The report holds row numbers, field names, rules and the offending value of quarantined
rows; it is readable by the carrier's own staff, the ZVS and administrators through the
API; operators and integrations see the counts only (issue 12 item 2). The body is
deferred: lists read the counts and metadata columns, never the stored quarantine
(issue 12 item 6).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ekita.core.db.base import Base, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class CarrierImportReport(Base):
    __tablename__ = "carrier_import_report"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carrier.id"), index=True)
    source: Mapped[str] = mapped_column(String(300))
    profile: Mapped[str] = mapped_column(String(60))
    # The profile's mapping version (importer.mapping_version): with the content hash and
    # the profile it is what makes a file a duplicate (issue 12 item 12). None: before 0014.
    mapping_version: Mapped[str | None] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))  # applied | partial | refused | duplicate
    rows_total: Mapped[int] = mapped_column(default=0)
    applied: Mapped[int] = mapped_column(default=0)
    quarantined: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
