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


class ContractTerm(Tracked, Base):
    """One dated term of a contract (issue 13 item 1): the fee-relevant fields valid from
    ``valid_from`` to ``valid_to``, both inclusive like the contract's own period (NULL:
    open). A contract's terms tile its period without gap or overlap."""

    __tablename__ = "contract_term"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("care_contract.id"), index=True)
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    care_type: Mapped[CareType] = mapped_column(enum_type(CareType))
    daily_hours: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    company_reserved_place: Mapped[bool] = mapped_column(Boolean, default=False)
    # why a change inside the notice period was accepted (Anlage B §9(3)/(4), issue 13 item 2)
    override_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period_order"),
        CheckConstraint("daily_hours > 0", name="hours_positive"),
    )
