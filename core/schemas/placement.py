"""Schemas of the placement procedure.

Two views of an application: ``ApplicationOut`` for the ZVS and administrators (with
preference ranks, ZVS priority and switch reason) and ``FacilityApplicationOut`` for
facility leads and carriers, which has no such keys at all (data-protection R4, R5;
decisions D19): they are left out of the model, not blanked.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ekita.core.models.enums import CareType, NotificationChannel, PayerKind
from ekita.core.models.placement import (
    ApplicationState,
    InactiveReason,
    ReservationStatus,
    WaitingStatus,
)
from ekita.core.schemas.common import In, LongText, Out, Ref, text

Hours = Decimal
HOURS = Field(max_digits=4, decimal_places=2, gt=0, le=24,
              description="daily care hours, e.g. '7.5'")


class Consents(In):
    """The three confirmations without which nothing is stored (3.3.2, C1)."""

    privacy: bool = Field(description="privacy statement read and accepted")
    transfer: bool = Field(description="forwarding to free carriers / BVS-KTP accepted")
    terms: bool = Field(description="terms of use accepted")


class PreferenceIn(In):
    facility_id: Ref | None = Field(default=None, description="a facility (Kita) …")
    childminding_office_id: Ref | None = Field(
        default=None, description="… or the BVS-KTP for childminding")
    care_type: CareType | None = Field(
        default=None, description="wished care type; default: the one fitting the age")


APPLICATION_EXAMPLE = {
    "child_ids": [17], "desired_start": "2027-08-01", "daily_hours": "9",
    "preferences": [{"facility_id": 140, "care_type": "kindergarten"},
                    {"facility_id": 152}, {"childminding_office_id": 2}],
    "sibling_in_first_preference": True, "integration_need": False,
    "notification_channel": "email",
    "consents": {"privacy": True, "transfer": True, "terms": True},
}


class UnbornChildIn(In):
    """An unborn child, entered by the ZVS only (3.4.1)."""

    family_id: Ref
    family_name: text(120)  # type: ignore[valid-type]
    first_name: text(120) | None = None  # type: ignore[valid-type]
    expected_birth_date: date


class ApplicationIn(In):
    """Antrag auf Platzvormerkung (3.3.2, data-model.md §3.1)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [APPLICATION_EXAMPLE]})

    child_ids: list[Ref] = Field(default=[], max_length=10,
                                 description="children of one family, placed together")
    unborn_children: list[UnbornChildIn] = Field(
        default=[], max_length=3, description="ZVS only: children not born yet")
    desired_start: date
    daily_hours: Hours = HOURS
    preferences: list[PreferenceIn] = Field(min_length=1, max_length=5,
                                            description="1 to 5 in priority order")
    sibling_in_first_preference: bool = False
    integration_need: bool = False
    is_switch: bool = Field(default=False, description="Wechselantrag (3.3.3)")
    switch_reason: LongText | None = None
    switch_contract_id: Ref | None = Field(default=None, description="the current contract")
    confession: text(60) | None = None  # type: ignore[valid-type]
    notification_channel: NotificationChannel = NotificationChannel.POST
    non_resident: bool = Field(default=False, description="living outside Dresden (3.4.2)")
    consents: Consents
    remark: LongText | None = None


class ApplicationPatch(In):
    """Changes by the applicant (C1–C4); new preferences restart routing."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"desired_start": "2027-09-01"}, {"preferences": [{"facility_id": 152}]}]})

    desired_start: date | None = None
    daily_hours: Hours | None = Field(default=None, max_digits=4, decimal_places=2, gt=0, le=24,
                                      description="daily care hours, e.g. '7.5'")
    preferences: list[PreferenceIn] | None = Field(default=None, min_length=1, max_length=5)
    sibling_in_first_preference: bool | None = None
    integration_need: bool | None = None
    confession: text(60) | None = None  # type: ignore[valid-type]
    notification_channel: NotificationChannel | None = None
    switch_reason: LongText | None = None
    remark: LongText | None = None


class PreferenceOut(Out):
    rank: int
    facility_id: int | None
    childminding_office_id: int | None
    care_type: CareType


class ApplicationOut(Out):
    """The ZVS's view: everything, ranks included."""

    id: int
    family_id: int
    child_ids: list[int]
    state: ApplicationState
    inactive_reason: InactiveReason | None
    desired_start: date
    window_entry: date
    daily_hours: Decimal
    sibling_in_first_preference: bool
    integration_need: bool
    is_switch: bool
    switch_reason: str | None
    switch_contract_id: int | None
    zvs_priority: int | None
    unborn: bool
    confession: str | None
    notification_channel: NotificationChannel
    submitted_on: date
    current_rank: int | None
    current_facility_id: int | None
    review_due_on: date | None
    placed_facility_id: int | None
    placed_childminder_id: int | None
    placed_rank: int | None
    placed_start: date | None
    inactivated_on: date | None
    address_checked_on: date | None
    address_in_registry: bool | None
    address_mismatch: bool
    moved_within_dresden: bool
    non_resident: bool
    preferences: list[PreferenceOut]


class FacilityApplicationOut(Out):
    """A head's (carrier's) view: the sibling and switch flags and the confession, never
    the preference rank, the ZVS priority or the switch reason (R4, R5, D19)."""

    id: int
    family_id: int
    child_ids: list[int]
    state: ApplicationState
    desired_start: date
    daily_hours: Decimal
    sibling_in_first_preference: bool
    integration_need: bool
    is_switch: bool
    unborn: bool
    confession: str | None
    notification_channel: NotificationChannel
    current_facility_id: int | None
    review_due_on: date | None
    placed_facility_id: int | None
    placed_start: date | None


class Answer(BaseModel):
    """A command's result with the warnings it raised (over-occupancy, short notice …)."""

    warnings: list[str] = []


class ApplicationAnswer(Answer):
    application: ApplicationOut | FacilityApplicationOut


class WaitingEntryOut(BaseModel):
    """One line of a facility's waiting list, in its default order (L2, D7): no rank."""

    position: int
    entry_id: int
    application_id: int
    care_type: CareType
    status: WaitingStatus
    listed_on: date
    routed_by_zvs: bool
    desired_start: date
    daily_hours: Decimal
    integration_need: bool
    is_switch: bool
    sibling: bool
    confession: str | None
    child_ids: list[int]


class ReleaseIn(In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"priority": 1}]})
    priority: int | None = Field(default=None, ge=1, le=9,
                                 description="ZVS urgency of a switch (1 = most urgent)")


class PriorityIn(In):
    priority: int | None = Field(ge=1, le=9)


class InactivateIn(In):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"reason": "moved_away"}]})
    reason: InactiveReason


class ZvsRouteIn(In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"facility_id": 201, "desired_start": "2027-10-01"}]})
    facility_id: Ref
    desired_start: date | None = Field(default=None, description="a later start (3.4.4)")


class ReserveIn(In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"facility_id": 140}, {"facility_id": 140, "overbook": True}]})
    facility_id: Ref | None = None
    childminder_id: Ref | None = None
    starts_on: date | None = Field(default=None, description="default: the desired start")
    overbook: bool = Field(default=False, description="over-occupy a full facility (warning)")


class ReleaseReservationIn(In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"outcome": "declined_continue"}]})
    outcome: Literal["declined_continue", "declined_no_interest", "not_signed",
                     "released_by_head"]


class SignIn(In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"payer_guardian_id": 33, "payer_kind": "direct_debit", "signed_on": "2027-04-02"}]})
    payer_guardian_id: Ref
    payer_kind: PayerKind
    signed_on: date | None = None


class SignAnswer(ApplicationAnswer):
    contract_ids: list[int]


class ClosureIn(In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "permanent", "closure_from": "2027-01-01"},
        {"kind": "temporary", "closure_from": "2027-01-01", "closure_to": "2027-03-31"}]})
    kind: Literal["permanent", "temporary"]
    closure_from: date
    closure_to: date | None = None
    replacement_site: text(300) | None = None  # type: ignore[valid-type]


class ExitIn(In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"notice_received_on": "2027-05-01", "exit_date": "2027-06-30"}]})
    notice_received_on: date
    exit_date: date
    reason: text(200) | None = None  # type: ignore[valid-type]


class ExitOut(Out):
    id: int
    contract_id: int
    notice_received_on: date
    exit_date: date
    reason: str | None
    short_notice: bool


class ExitAnswer(Answer):
    exit: ExitOut


class ReservationOut(Out):
    id: int
    application_id: int
    child_id: int
    facility_id: int | None
    childminder_id: int | None
    care_type: CareType
    starts_on: date
    follow_up_on: date
    status: ReservationStatus
    overbooked: bool


class EventOut(Out):
    id: int
    kind: str
    application_id: int | None
    facility_id: int | None
    occurred_on: date
    payload: dict[str, Any]


class TickOut(BaseModel):
    on: date
    recheck_requested: int
    entered_window: int
    routed_to_facility: int
    waitlisted: int
    moved_to_pool: int
    reviews_overdue: int
    follow_ups_due: int
