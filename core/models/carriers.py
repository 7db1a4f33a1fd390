"""Carriers (Träger): the municipal Eigenbetrieb and the independent carriers."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ekita.core.db.base import Base, Tracked, enum_type
from ekita.core.models.enums import CarrierCategory, CarrierType, LegalForm


class Carrier(Tracked, Base):
    __tablename__ = "carrier"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    name2: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[CarrierCategory] = mapped_column(enum_type(CarrierCategory))
    carrier_type: Mapped[CarrierType] = mapped_column(enum_type(CarrierType))
    legal_form: Mapped[LegalForm] = mapped_column(enum_type(LegalForm))
    street: Mapped[str | None] = mapped_column(String(120))
    house_no: Mapped[str | None] = mapped_column(String(20))
    postcode: Mapped[str | None] = mapped_column(String(10))
    town: Mapped[str | None] = mapped_column(String(80))
    contact_person: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    fax: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    homepage: Mapped[str | None] = mapped_column(String(200))
    remark: Mapped[str | None] = mapped_column(Text)
