"""The change log: one immutable row per change, serving audit (M5) and history (3.14.3).

Each row holds the field-level before/after values, who made the change, when
and through which channel, and from which business date it is valid. Replaying
a record's rows with ``valid_from <= D`` in order gives the record as of D.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ekita.core.db.base import Base, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(BigId)
    action: Mapped[str] = mapped_column(String(10))  # create | update | delete
    valid_from: Mapped[date]
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_event_entity", "entity", "entity_id", "valid_from"),)
