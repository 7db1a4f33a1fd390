"""Facilities (Kitas) and their dated care offers (3.7.1, 3.14.1.5)."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ekita.core.db.base import Base, Tracked, enum_type
from ekita.core.models.carriers import Carrier
from ekita.core.models.districts import Stadtteil
from ekita.core.models.enums import CareType, FacilityStatus


class Facility(Tracked, Base):
    __tablename__ = "facility"

    id: Mapped[int] = mapped_column(primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carrier.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    name2: Mapped[str | None] = mapped_column(String(200))
    cost_centre: Mapped[str] = mapped_column(String(20), unique=True)
    street: Mapped[str] = mapped_column(String(120))
    house_no: Mapped[str] = mapped_column(String(20))
    postcode: Mapped[str] = mapped_column(String(10))
    town: Mapped[str] = mapped_column(String(80), default="Dresden")
    stadtteil_nr: Mapped[str] = mapped_column(ForeignKey("stadtteil.nr"), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    homepage: Mapped[str | None] = mapped_column(String(200))
    head_name: Mapped[str | None] = mapped_column(String(120))
    opens_at: Mapped[time | None]
    closes_at: Mapped[time | None]
    profile: Mapped[str | None] = mapped_column(Text)
    permit_date: Mapped[date | None]
    integration_facility: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    barrier_free: Mapped[bool] = mapped_column(Boolean, default=False)
    company_reserved_places: Mapped[int] = mapped_column(Integer, default=0)
    # decisions.md D8: count the total capacity instead of the care type's one.
    flexible_capacity: Mapped[bool] = mapped_column(Boolean, default=False)
    in_bedarfsplan: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[FacilityStatus] = mapped_column(
        enum_type(FacilityStatus), default=FacilityStatus.OPEN
    )
    closure_from: Mapped[date | None]
    closure_to: Mapped[date | None]
    replacement_site: Mapped[str | None] = mapped_column(String(300))
    remark: Mapped[str | None] = mapped_column(Text)

    carrier: Mapped[Carrier] = relationship(lazy="joined", innerjoin=True)
    stadtteil: Mapped[Stadtteil] = relationship(lazy="joined", innerjoin=True)
    care_offers: Mapped[list[CareOffer]] = relationship(
        back_populates="facility", order_by="CareOffer.valid_from"
    )

    __table_args__ = (
        CheckConstraint("company_reserved_places >= 0", name="reserved_places_nonneg"),
    )


class CareOffer(Tracked, Base):
    """Approved places of one care type at one facility for a validity period."""

    __tablename__ = "care_offer"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    care_type: Mapped[CareType] = mapped_column(enum_type(CareType))
    approved_places: Mapped[int] = mapped_column(Integer)
    cost_centre: Mapped[str | None] = mapped_column(String(20))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]

    facility: Mapped[Facility] = relationship(back_populates="care_offers")

    __table_args__ = (
        CheckConstraint("approved_places >= 0", name="places_nonneg"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_order"),
    )
