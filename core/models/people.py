"""Children, guardians (PSB), families and the PKN (3.14.1.1–3, 3.10.1.7)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, synonym

from ekita.core.db.base import Base, Tracked, enum_type
from ekita.core.db.types import EncryptedText
from ekita.core.models.enums import (
    ContactKind,
    ContactVisibility,
    CustodyKind,
    NotificationChannel,
    Sex,
)


class Family(Tracked, Base):
    """A household for fees: its 6-digit number is the first part of every child's PKN."""

    __tablename__ = "family"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(6), unique=True)
    remark: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("length(number) = 6", name="number_6_digits"),)


class Child(Tracked, Base):
    __tablename__ = "child"
    # Lastenheft 3.14.1.2, data-protection R6: only the facility (and its carrier) sees these;
    # health notes are also encrypted at rest (M9, issue 12 item 3).
    __sensitive__ = {"health_notes": "health", "emergency_contact": "facility_only"}

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id"), index=True)
    family_name: Mapped[str] = mapped_column(String(120))
    first_name: Mapped[str] = mapped_column(String(120))
    birth_date: Mapped[date]
    sex: Mapped[Sex] = mapped_column(enum_type(Sex), default=Sex.UNKNOWN)
    street: Mapped[str | None] = mapped_column(String(120))
    house_no: Mapped[str | None] = mapped_column(String(20))
    postcode: Mapped[str | None] = mapped_column(String(10))
    town: Mapped[str | None] = mapped_column(String(80))
    stadtteil_nr: Mapped[str | None] = mapped_column(ForeignKey("stadtteil.nr"))
    integration_need: Mapped[bool] = mapped_column(Boolean, default=False)
    # Heim-/Pflegekind or heilpädagogisch: not counted for sibling fees (3.10.1).
    excluded_from_count: Mapped[bool] = mapped_column(Boolean, default=False)
    school_deferred: Mapped[bool] = mapped_column(Boolean, default=False)
    # Schulrücksteller (3.6.17): the placement contract's name for the column above.
    school_entry_deferred: Mapped[bool] = synonym("school_deferred")
    health_notes: Mapped[str | None] = mapped_column(EncryptedText)
    emergency_contact: Mapped[str | None] = mapped_column(String(300))

    family: Mapped[Family] = relationship()
    pkns: Mapped[list[Pkn]] = relationship(
        back_populates="child", order_by="Pkn.valid_from", foreign_keys="Pkn.child_id"
    )
    guardian_links: Mapped[list[ChildGuardian]] = relationship(back_populates="child")

    __table_args__ = (UniqueConstraint("family_name", "first_name", "birth_date", "family_id"),)


class Pkn(Tracked, Base):
    """Personenkennnummer: 8 digits, 6 for the family and 2 for the child (decisions D13).

    A change (for example custody moves to another household) inactivates the old
    number and links it to its successor; old numbers are never reused.
    """

    __tablename__ = "pkn"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(8), unique=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"), index=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id"), index=True)
    valid_from: Mapped[date]
    valid_to: Mapped[date | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("pkn.id"))

    child: Mapped[Child] = relationship(back_populates="pkns", foreign_keys=[child_id])

    __table_args__ = (CheckConstraint("length(number) = 8", name="number_8_digits"),)


class Guardian(Tracked, Base):
    """Personensorgeberechtigte/r (PSB)."""

    __tablename__ = "guardian"
    __sensitive__ = {"employer": "facility_only"}

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id"), index=True)
    family_name: Mapped[str] = mapped_column(String(120))
    first_name: Mapped[str] = mapped_column(String(120))
    birth_date: Mapped[date | None]
    street: Mapped[str | None] = mapped_column(String(120))
    house_no: Mapped[str | None] = mapped_column(String(20))
    postcode: Mapped[str | None] = mapped_column(String(10))
    town: Mapped[str | None] = mapped_column(String(80))
    single_parent: Mapped[bool] = mapped_column(Boolean, default=False)
    notification_channel: Mapped[NotificationChannel] = mapped_column(
        enum_type(NotificationChannel), default=NotificationChannel.POST
    )
    # Employer, for a company-reserved place: only the facility head (3.14.1.3).
    employer: Mapped[str | None] = mapped_column(String(200))
    remark: Mapped[str | None] = mapped_column(Text)

    contacts: Mapped[list[GuardianContact]] = relationship(
        back_populates="guardian", cascade="all, delete-orphan", order_by="GuardianContact.id"
    )


class GuardianContact(Tracked, Base):
    """One phone number or e-mail address with its own visibility (3.14.1.3)."""

    __tablename__ = "guardian_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardian.id"), index=True)
    kind: Mapped[ContactKind] = mapped_column(enum_type(ContactKind))
    value: Mapped[str] = mapped_column(String(200))
    visibility: Mapped[ContactVisibility] = mapped_column(enum_type(ContactVisibility))
    label: Mapped[str | None] = mapped_column(String(60))

    guardian: Mapped[Guardian] = relationship(back_populates="contacts")


class ChildGuardian(Tracked, Base):
    __tablename__ = "child_guardian"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"), index=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardian.id"), index=True)
    custody: Mapped[CustodyKind] = mapped_column(enum_type(CustodyKind), default=CustodyKind.JOINT)

    child: Mapped[Child] = relationship(back_populates="guardian_links")
    guardian: Mapped[Guardian] = relationship()

    __table_args__ = (UniqueConstraint("child_id", "guardian_id"),)
