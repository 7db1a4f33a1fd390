"""Childminding (Kindertagespflege): childminders and the three BVS-KTP offices."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ekita.core.db.base import Base, Tracked
from ekita.core.db.types import EncryptedText


class ChildmindingOffice(Tracked, Base):
    """Beratungs- und Vermittlungsstelle Kindertagespflege (BVS-KTP, 3.14.1.8)."""

    __tablename__ = "childminding_office"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str | None] = mapped_column(String(120))
    house_no: Mapped[str | None] = mapped_column(String(20))
    postcode: Mapped[str | None] = mapped_column(String(10))
    town: Mapped[str | None] = mapped_column(String(80))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    remark: Mapped[str | None] = mapped_column(Text)


class Childminder(Tracked, Base):
    """Tagespflegeperson (3.14.1.9); at most 5 children (3.5.2).

    The IBAN (the city pays the childminder) is encrypted at rest and revealed to the fee
    office and administrators only, never to carriers (issue 12 item 3).
    """

    __tablename__ = "childminder"
    __sensitive__ = {"iban": "childminder_bank"}

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("childminding_office.id"), index=True)
    family_name: Mapped[str] = mapped_column(String(120))
    first_name: Mapped[str] = mapped_column(String(120))
    cost_centre: Mapped[str] = mapped_column(String(20), unique=True)
    street: Mapped[str | None] = mapped_column(String(120))
    house_no: Mapped[str | None] = mapped_column(String(20))
    postcode: Mapped[str | None] = mapped_column(String(10))
    stadtteil_nr: Mapped[str] = mapped_column(ForeignKey("stadtteil.nr"), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    capacity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(40), default="active")
    permit_valid_to: Mapped[date | None]
    iban: Mapped[str | None] = mapped_column(EncryptedText)
    remark: Mapped[str | None] = mapped_column(Text)

    office: Mapped[ChildmindingOffice] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (CheckConstraint("capacity BETWEEN 1 AND 5", name="capacity_max_5"),)
