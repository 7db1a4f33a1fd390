"""Domain events of the placement procedure, written in the same transaction as the change.

A later delivery engine turns them into outbound messages (letters, e-mails, adapter
calls). The payload holds ids and dates only, never names (data-protection M8).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ekita.core.db.base import Base, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class DomainEvent(Base):
    """One transition: ``kind`` (e.g. ``RoutedToFacility``), the application and facility it
    concerns, the business date and a JSON payload with what an adapter needs to react."""

    __tablename__ = "domain_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)  # alert lists by kind
    # Plain ids, no foreign keys: the log is append-only like the change log, and the tick
    # writes tens of thousands of rows at once (PostgreSQL checks each key row by row).
    application_id: Mapped[int | None] = mapped_column(Integer, index=True)
    facility_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_on: Mapped[date]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
