"""Parental fees (fees.md): statute versions, fee facts with validity, extra care,
payment setup, debit runs and receivable lines.

Receivable lines and debit runs are append-only business records (not ``Tracked``: a
debit run writes tens of thousands of them, and they are never changed after commit).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ekita.core.db.base import Base, Tracked, enum_type, utcnow
from ekita.core.db.types import EncryptedText
from ekita.core.models.exchange import BigId


class FeeType(enum.StrEnum):
    ELTERNBEITRAG = "ELTERNBEITRAG"
    MEHRBETREUUNG = "MEHRBETREUUNG"
    NICHTABHOLUNG = "NICHTABHOLUNG"
    GASTKIND = "GASTKIND"
    SONSTIGE = "SONSTIGE"


class LineKind(enum.StrEnum):
    SOLL = "SOLL"
    GUTSCHRIFT = "GUTSCHRIFT"
    NACHFORDERUNG = "NACHFORDERUNG"
    STORNO = "STORNO"


class PaymentMethod(enum.StrEnum):
    DIRECT_DEBIT = "DIRECT_DEBIT"
    SELF_PAYER = "SELF_PAYER"


class FactKind(enum.StrEnum):
    """Fee-relevant facts with a validity period, per child (optionally per contract)."""

    SINGLE_PARENT = "single_parent"  # B §10(6): discount granted for the period
    FOSTER_CARE = "foster_care"  # §§ 33, 34, 42 SGB VIII: no fee, not counted (B §13(4))
    HEILPAED = "heilpaed"  # Sozialamt-financed heilpädagogischer Platz (B §10(7))
    CARE_OUTSIDE_DRESDEN = "care_outside_dresden"  # counts as a Zählkind (B §10(5))
    HALF_MONTH = "half_month"  # case flag for the half fee (B §10(1), 3.10.1.6)
    OVERRIDE = "override"  # manual amount; the computed one stays visible (3.10.1)
    WAIVER = "waiver"  # Erlass: no fee for the period (B §13)
    REDUCTION = "reduction"  # Ermäßigung to amount_cents for the period (B §13)
    FOERDERHORT = "foerderhort"  # charged from the Förd. table


class DebitRunKind(enum.StrEnum):
    SOLL = "SOLL"
    KORREKTUR = "KORREKTUR"


class FeeStatute(Tracked, Base):
    """One version of the fee statute with its validity (fees.md §3, §14); the fee tables
    and percentages are data in ``params`` (see ``ekita.core.services.fees.statutes``)."""

    __tablename__ = "fee_statute"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    valid_from: Mapped[date] = mapped_column(unique=True)
    valid_to: Mapped[date | None]
    params: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_order"),
    )


class FeeFact(Tracked, Base):
    """A fee-relevant fact of a child for a period: single parent, exclusion, case flag,
    override, waiver or reduction decision (fees.md §5, §6, §7.2, §9)."""

    __tablename__ = "fee_fact"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("care_contract.id"))
    kind: Mapped[FactKind] = mapped_column(enum_type(FactKind))
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_order"),
    )


class SiblingLink(Tracked, Base):
    """Children of different households counted together (Wechselmodell, fees.md §5 Z5)."""

    __tablename__ = "fee_sibling_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"), index=True)
    sibling_id: Mapped[int] = mapped_column(ForeignKey("child.id"), index=True)
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]

    __table_args__ = (CheckConstraint("child_id <> sibling_id", name="distinct_children"),)


class FacilityFeeOption(Tracked, Base):
    """Per-facility options of the statute (G4: KG fee from the completed 34th month)."""

    __tablename__ = "fee_facility_option"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), unique=True)
    kg_from_34_months: Mapped[bool] = mapped_column(Boolean, default=False)


class ExtraCare(Tracked, Base):
    """One day of extra care or non-pickup a facility reported (3.6.13, fees.md §8)."""

    __tablename__ = "fee_extra_care"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("care_contract.id"), index=True)
    day: Mapped[date]
    exceeded_tiers: Mapped[int] = mapped_column(Integer, default=0)
    not_picked_up: Mapped[bool] = mapped_column(Boolean, default=False)
    school_free_day: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        CheckConstraint("exceeded_tiers >= 0", name="tiers_nonneg"),
        UniqueConstraint("contract_id", "day"),
    )


class PaymentSetup(Tracked, Base):
    """How a paying guardian pays (Anlage I, J): direct debit with a SEPA mandate, or
    self-payer. The IBAN is stored only encrypted (``ekita.core.crypto``): its service
    encrypts it, and the ciphertext travels as such to the SAP-FI adapter. BIC and account
    holder are encrypted at rest by their column type (issue 12 item 3)."""

    __tablename__ = "payment_setup"
    __sensitive__ = {"iban_encrypted": "bank", "bic": "bank", "holder": "bank"}

    id: Mapped[int] = mapped_column(primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardian.id"), unique=True)
    payment_method: Mapped[PaymentMethod] = mapped_column(enum_type(PaymentMethod))
    iban_encrypted: Mapped[str | None] = mapped_column(Text)
    bic: Mapped[str | None] = mapped_column(EncryptedText)
    holder: Mapped[str | None] = mapped_column(EncryptedText)
    mandate_reference: Mapped[str | None] = mapped_column(String(35))
    mandate_signed_on: Mapped[date | None]


class DebitRun(Base):
    """A debit run (Sollstellungslauf) of one period, or one correction run."""

    __tablename__ = "debit_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    kind: Mapped[DebitRunKind] = mapped_column(enum_type(DebitRunKind))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    job_run_id: Mapped[int | None] = mapped_column(ForeignKey("job_run.id"))
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    control_sum_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # One debit run per period; correction runs are numbered.
    __table_args__ = (UniqueConstraint("period", "kind", "seq"),)


class ReceivableLine(Base):
    """One receivable for SAP-FI: a debit (SOLL) or a correction of one month."""

    __tablename__ = "receivable_line"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(80), unique=True)
    pkn: Mapped[str] = mapped_column(String(8), index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("care_contract.id"), index=True)
    payer_guardian_id: Mapped[int] = mapped_column(ForeignKey("guardian.id"))
    cost_centre: Mapped[str] = mapped_column(String(20))
    period: Mapped[str] = mapped_column(String(7), index=True)
    fee_type: Mapped[FeeType] = mapped_column(enum_type(FeeType))
    line_kind: Mapped[LineKind] = mapped_column(enum_type(LineKind))
    correction_no: Mapped[int] = mapped_column(Integer, default=0)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[date]
    run_id: Mapped[int] = mapped_column(ForeignKey("debit_run.id"), index=True)

    __table_args__ = (
        UniqueConstraint("pkn", "contract_id", "period", "fee_type", "line_kind",
                         "correction_no"),
    )
