"""Care contracts (Betreuungsvertrag / Tagespflegevereinbarung, 3.14.2.2)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Numeric, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ekita.core.db.base import Base, Tracked, enum_type
from ekita.core.models.childminding import Childminder
from ekita.core.models.enums import CareType, PayerKind
from ekita.core.models.facilities import Facility
from ekita.core.models.people import Child, Guardian


class CareContract(Tracked, Base):
    __tablename__ = "care_contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    childminder_id: Mapped[int | None] = mapped_column(ForeignKey("childminder.id"), index=True)
    care_type: Mapped[CareType] = mapped_column(enum_type(CareType))
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    daily_hours: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    payer_guardian_id: Mapped[int] = mapped_column(ForeignKey("guardian.id"), index=True)
    payer_kind: Mapped[PayerKind] = mapped_column(enum_type(PayerKind))
    company_reserved_place: Mapped[bool] = mapped_column(Boolean, default=False)
    signed_on: Mapped[date | None]
    remark: Mapped[str | None] = mapped_column(Text)

    child: Mapped[Child] = relationship()
    facility: Mapped[Facility | None] = relationship()
    childminder: Mapped[Childminder | None] = relationship()
    payer: Mapped[Guardian] = relationship()

    __table_args__ = (
        CheckConstraint(
            "(facility_id IS NULL) <> (childminder_id IS NULL)", name="facility_xor_childminder"
        ),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="period_order"),
        CheckConstraint("daily_hours > 0", name="hours_positive"),
    )
