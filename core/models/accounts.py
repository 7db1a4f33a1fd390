"""API keys: the hub's users. Only a hash of each key is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ekita.core.db.base import Base, Tracked, enum_type
from ekita.core.models.enums import Role


class ApiKey(Tracked, Base):
    __tablename__ = "api_key"
    __sensitive__ = {"secret_hash": "secret"}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(enum_type(Role))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    carrier_id: Mapped[int | None] = mapped_column(ForeignKey("carrier.id"))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(
            "(role = 'facility_lead') = (facility_id IS NOT NULL)", name="lead_has_facility"
        ),
        CheckConstraint(
            "(role = 'carrier') = (carrier_id IS NOT NULL)", name="carrier_has_carrier"
        ),
    )
