"""Import reports of carrier files (interfaces.md §9): what was applied, what quarantined.

The report holds row numbers, field names, rules and the offending value of quarantined
rows; it is readable by the carrier's own staff and the ZVS through the API.
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
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))  # applied | partial | refused | duplicate
    rows_total: Mapped[int] = mapped_column(default=0)
    applied: Mapped[int] = mapped_column(default=0)
    quarantined: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
