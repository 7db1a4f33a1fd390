"""Schemas of families, children, guardians and their links."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from ekita.core.models.enums import (
    ContactKind,
    ContactVisibility,
    CustodyKind,
    NotificationChannel,
    Sex,
)
from ekita.core.schemas.common import (
    HouseNo,
    In,
    Label,
    LongName,
    LongText,
    Name,
    Out,
    Postcode,
    Ref,
    Street,
    Text,
    Town,
    partial,
)


class FamilyIn(In):
    number: str | None = Field(
        default=None, pattern=r"^\d{6}$", description="6 digits; assigned when omitted"
    )
    remark: LongText | None = None


class FamilyOut(Out):
    id: int
    number: str
    remark: str | None


class PknOut(Out):
    id: int
    number: str
    family_id: Ref
    valid_from: date
    valid_to: date | None
    active: bool
    successor_id: int | None


class ChildFields(In):
    family_id: Ref
    family_name: Name
    first_name: Name
    birth_date: date
    sex: Sex = Sex.UNKNOWN
    street: Street | None = None
    house_no: HouseNo | None = None
    postcode: Postcode | None = None
    town: Town | None = None
    stadtteil_nr: str | None = Field(default=None, pattern=r"^\d{2}$")
    integration_need: bool = False
    excluded_from_count: bool = False
    school_deferred: bool = False
    health_notes: LongText | None = None
    emergency_contact: LongName | None = None


ChildPatch = partial(ChildFields, "ChildPatch")


class ChildOut(Out, ChildFields):
    id: int
    pkn: str | None = Field(default=None, description="the active PKN")


class PknChange(In):
    """Move the child to another family's PKN, e.g. when custody changes (3.10.1.7)."""

    family_id: Ref
    valid_from: date


class ContactIn(In):
    kind: ContactKind
    value: Text
    visibility: ContactVisibility
    label: Label | None = None


class ContactOut(Out, ContactIn):
    id: int


class GuardianFields(In):
    family_id: Ref
    family_name: Name
    first_name: Name
    birth_date: date | None = None
    street: Street | None = None
    house_no: HouseNo | None = None
    postcode: Postcode | None = None
    town: Town | None = None
    single_parent: bool = False
    notification_channel: NotificationChannel = NotificationChannel.POST
    employer: Text | None = None
    remark: LongText | None = None


GuardianPatch = partial(GuardianFields, "GuardianPatch")


class GuardianIn(GuardianFields):
    contacts: list[ContactIn] = Field(default_factory=list, max_length=20)


class GuardianOut(Out, GuardianFields):
    id: int
    contacts: list[ContactOut]


class GuardianLink(In):
    guardian_id: Ref
    custody: CustodyKind = CustodyKind.JOINT


class GuardianLinkOut(Out):
    id: int
    child_id: int
    guardian_id: Ref
    custody: CustodyKind
