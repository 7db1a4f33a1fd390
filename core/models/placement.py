"""The placement procedure (Vermittlungsverfahren, Lastenheft 3.2–3.7; placement.md §18).

An application (Antrag auf Platzvormerkung) holds one or more children of a family
and 1–5 preferences; it moves through the states of ``ApplicationState``. Waiting-list
entries, reservations and exits are its traces at the facilities. Every change is
audited (``Tracked``); every transition also leaves a ``DomainEvent``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ekita.core.db.base import Base, Tracked, enum_type
from ekita.core.models.enums import CareType, NotificationChannel


class ApplicationState(StrEnum):
    """placement.md §18 (ROUTING is transient and never stored)."""

    RECEIVED = "received"
    ZVS_REVIEW = "zvs_review"
    INTAKE_POOL = "intake_pool"
    AT_FACILITY = "at_facility"
    RESERVED = "reserved"
    POOL = "pool"
    INACTIVE = "inactive"


class InactiveReason(StrEnum):
    PLACED = "placed"
    MOVED_AWAY = "moved_away"
    NON_RESIDENT_REJECTED = "non_resident_rejected"
    NO_VALID_ADDRESS = "no_valid_address"
    NO_RESPONSE = "no_response"
    WITHDRAWN = "withdrawn"  # "nicht erforderlicher Bedarf" (3.3.5)
    DECLINED = "declined"
    NO_LONGER_NEEDED = "no_longer_needed"
    SWITCH_OBSOLETE = "switch_obsolete"
    CONTRACT_NOT_SIGNED = "contract_not_signed"


class WaitingStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    PLACED_HERE = "placed_here"
    PLACED_ELSEWHERE = "placed_elsewhere"
    REMOVED = "removed"


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    CONVERTED = "converted"


ACTIVE_STATES = frozenset(ApplicationState) - {ApplicationState.INACTIVE}


class Application(Tracked, Base):
    """Antrag auf Platzvormerkung (data-model.md §3.1)."""

    __tablename__ = "application"
    # data-protection R4/R5: tenants never get the rank, the ZVS priority or the switch
    # reason (the keys are omitted, ekita.core.access.OMIT_FOR_TENANTS); the switch reason
    # is for the ZVS only.
    __sensitive__ = {"switch_reason": "zvs_only", "current_rank": "rank", "placed_rank": "rank",
                     "zvs_priority": "rank"}

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("family.id"), index=True)
    state: Mapped[ApplicationState] = mapped_column(enum_type(ApplicationState), index=True)
    inactive_reason: Mapped[InactiveReason | None] = mapped_column(enum_type(InactiveReason))
    desired_start: Mapped[date]
    window_entry: Mapped[date] = mapped_column(index=True)  # desired_start − window months
    daily_hours: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    sibling_in_first_preference: Mapped[bool] = mapped_column(Boolean, default=False)
    integration_need: Mapped[bool] = mapped_column(Boolean, default=False)
    is_switch: Mapped[bool] = mapped_column(Boolean, default=False)
    switch_reason: Mapped[str | None] = mapped_column(Text)
    switch_contract_id: Mapped[int | None] = mapped_column(ForeignKey("care_contract.id"))
    zvs_priority: Mapped[int | None] = mapped_column(Integer)
    unborn: Mapped[bool] = mapped_column(Boolean, default=False)
    confession: Mapped[str | None] = mapped_column(String(60))
    notification_channel: Mapped[NotificationChannel] = mapped_column(
        enum_type(NotificationChannel))
    consent_privacy_at: Mapped[datetime]
    consent_transfer_at: Mapped[datetime]
    consent_terms_at: Mapped[datetime]
    submitted_at: Mapped[datetime]
    submitted_on: Mapped[date]
    current_rank: Mapped[int | None] = mapped_column(Integer)
    current_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"),
                                                            index=True)
    review_due_on: Mapped[date | None]
    review_alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    recheck_requested_on: Mapped[date | None]
    placed_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    placed_childminder_id: Mapped[int | None] = mapped_column(ForeignKey("childminder.id"))
    placed_rank: Mapped[int | None] = mapped_column(Integer)
    placed_start: Mapped[date | None]
    inactivated_on: Mapped[date | None]
    # Address check (3.3.2, 3.4.5; filled by the KIS and MESO adapters):
    address_checked_on: Mapped[date | None]
    address_in_registry: Mapped[bool | None] = mapped_column(Boolean)
    address_mismatch: Mapped[bool] = mapped_column(Boolean, default=False)
    moved_within_dresden: Mapped[bool] = mapped_column(Boolean, default=False)
    non_resident: Mapped[bool] = mapped_column(Boolean, default=False)
    remark: Mapped[str | None] = mapped_column(Text)

    children: Mapped[list[ApplicationChild]] = relationship(
        back_populates="application", order_by="ApplicationChild.id",
        cascade="all, delete-orphan", lazy="selectin")
    preferences: Mapped[list[Preference]] = relationship(
        back_populates="application", order_by="Preference.rank", cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint("daily_hours > 0", name="hours_positive"),
        CheckConstraint("current_rank IS NULL OR current_rank BETWEEN 1 AND 5", name="rank_1_5"),
    )

    @property
    def child_ids(self) -> list[int]:
        return [c.child_id for c in self.children]


class ApplicationChild(Tracked, Base):
    __tablename__ = "application_child"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"), index=True)

    application: Mapped[Application] = relationship(back_populates="children")

    __table_args__ = (UniqueConstraint("application_id", "child_id"),)


class Preference(Tracked, Base):
    """Wunscheinrichtung (WE) k: a facility care offer or the BVS-KTP for childminding."""

    __tablename__ = "preference"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    childminding_office_id: Mapped[int | None] = mapped_column(
        ForeignKey("childminding_office.id"))
    care_type: Mapped[CareType] = mapped_column(enum_type(CareType))

    application: Mapped[Application] = relationship(back_populates="preferences")

    __table_args__ = (
        UniqueConstraint("application_id", "rank"),
        CheckConstraint("rank BETWEEN 1 AND 5", name="rank_1_5"),
        CheckConstraint("(facility_id IS NULL) <> (childminding_office_id IS NULL)",
                        name="facility_xor_office"),
    )


class WaitingListEntry(Tracked, Base):
    """An application on a facility's internal waiting list (3.6.4; placement.md §7)."""

    __tablename__ = "waiting_list_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id"), index=True)
    care_type: Mapped[CareType] = mapped_column(enum_type(CareType))
    status: Mapped[WaitingStatus] = mapped_column(enum_type(WaitingStatus), index=True)
    routed_by_zvs: Mapped[bool] = mapped_column(Boolean, default=False)
    listed_on: Mapped[date]
    closed_on: Mapped[date | None]

    application: Mapped[Application] = relationship()


class Reservation(Tracked, Base):
    """A place set "reserviert" for one child of an application (3.6.6, P1–P4)."""

    __tablename__ = "reservation"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"), index=True)
    childminder_id: Mapped[int | None] = mapped_column(ForeignKey("childminder.id"))
    care_type: Mapped[CareType] = mapped_column(enum_type(CareType))
    starts_on: Mapped[date]
    follow_up_on: Mapped[date]
    follow_up_alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[ReservationStatus] = mapped_column(enum_type(ReservationStatus), index=True)
    overbooked: Mapped[bool] = mapped_column(Boolean, default=False)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("care_contract.id"))

    __table_args__ = (
        CheckConstraint("(facility_id IS NULL) <> (childminder_id IS NULL)",
                        name="facility_xor_childminder"),
    )


class ContractExit(Tracked, Base):
    """A recorded notice (Kündigung) and exit of a care contract (3.6.15)."""

    __tablename__ = "contract_exit"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("care_contract.id"), unique=True)
    notice_received_on: Mapped[date]
    exit_date: Mapped[date]
    reason: Mapped[str | None] = mapped_column(String(200))
    short_notice: Mapped[bool] = mapped_column(Boolean, default=False)

