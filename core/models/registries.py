"""What the registry adapters leave behind (Lastenheft 3.2.4, 3.3.2, 3.4.2, 3.14.1.10).

``RegistryCheck`` is the append-only history of MESO answers per application;
``AddressDistrict`` is the KIS assignment of a saved address to its Stadtteil and
Stadtbezirk/Ortschaft, with its validity, so past reports keep past assignments;
``AddressReview`` is the ZVS review list of addresses that lie outside Dresden or that the
street directory does not know (3.4.2). None of them holds a name or a street.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ekita.core.db.base import Base, utcnow


class RegistryCheck(Base):
    """One MESO answer for one application (intake, re-check or pool check)."""

    __tablename__ = "registry_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))  # intake | recheck | pool
    outcome: Mapped[str] = mapped_column(String(24))  # ResultCode name, or "pending"
    code: Mapped[str | None] = mapped_column(String(2))  # the wire code 01..06
    moved_on: Mapped[date | None]
    effect: Mapped[str] = mapped_column(String(40))  # what the hub did with it
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    message_id: Mapped[int | None] = mapped_column(Integer)  # the outbox message, if batch


class AddressDistrict(Base):
    """A saved address's statistical Stadtteil and Stadtbezirk/Ortschaft, valid from … to."""

    __tablename__ = "address_district"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))  # guardian | child | facility
    entity_id: Mapped[int] = mapped_column(Integer)
    stadtteil_nr: Mapped[str] = mapped_column(ForeignKey("stadtteil.nr"))
    bezirk: Mapped[str] = mapped_column(String(80))
    art: Mapped[str] = mapped_column(String(12))  # Stadtbezirk | Ortschaft
    street_key: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(40))  # directory version or KIS service
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_to: Mapped[datetime | None]

    __table_args__ = (Index("ix_address_district_entity", "entity", "entity_id"),)


class AddressReview(Base):
    """An address the ZVS must look at: outside Dresden or unknown to the directory."""

    __tablename__ = "address_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(40))  # outside_dresden | unknown_street | …
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_address_review_entity", "entity", "entity_id"),)
