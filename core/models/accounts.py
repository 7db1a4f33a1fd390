"""API keys: the hub's users. Only a hash of each key is stored.

A key lives from ``created_at`` until it is revoked (``revoked_at``, final) or
its ``expires_at`` passes (issue 12 item 13). Rotation issues a successor that
names its predecessor in ``rotated_from``; a key has at most one successor.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from ekita.core.db.base import Base, Tracked, as_utc, enum_type, utcnow
from ekita.core.errors import RuleViolation
from ekita.core.models.enums import Role


class ApiKey(Tracked, Base):
    __tablename__ = "api_key"
    __sensitive__ = {"secret_hash": "secret"}
    # The last use is bookkeeping, not a change: it stays out of the change log, while
    # revocation, rotation and expiry changes are logged like every other field.
    __audit_ignore__: ClassVar[frozenset[str]] = frozenset({"updated_at", "last_used_at"})

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(enum_type(Role))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    carrier_id: Mapped[int | None] = mapped_column(ForeignKey("carrier.id"))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(120))
    revoke_reason: Mapped[str | None] = mapped_column(String(200))
    last_used_at: Mapped[datetime | None]
    rotated_from: Mapped[int | None] = mapped_column(ForeignKey("api_key.id"), unique=True)

    __table_args__ = (
        CheckConstraint(
            "(role = 'facility_lead') = (facility_id IS NOT NULL)", name="lead_has_facility"
        ),
        CheckConstraint(
            "(role = 'carrier') = (carrier_id IS NOT NULL)", name="carrier_has_carrier"
        ),
    )

    @validates("revoked_at")
    def _revocation_is_final(self, _key: str, value: datetime | None) -> datetime | None:
        """A revoked key stays revoked: a leaked key must never come back to life."""
        if self.revoked_at is not None and value != self.revoked_at:
            raise RuleViolation(f"api key {self.id} is revoked for good", record="api_key",
                                field="revoked_at", rule="a revoked key cannot be un-revoked")
        return value

    def status_at(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``active``: what the holder of the key gets at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and as_utc(self.expires_at) <= now:
            return "expired"
        return "active"

    @property
    def status(self) -> str:
        return self.status_at(utcnow())
