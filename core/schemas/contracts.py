"""Schemas of care contracts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import Field

from ekita.core.models.enums import CareType, PayerKind
from ekita.core.schemas.common import In, LongText, Out, Ref, partial


class ContractFields(In):
    child_id: Ref
    facility_id: Ref | None = None
    childminder_id: Ref | None = None
    care_type: CareType
    start_date: date
    end_date: date | None = None
    daily_hours: Decimal = Field(
        gt=0,
        le=24,
        max_digits=4,
        decimal_places=2,
        description="daily care hours, a decimal string such as '7.5'",
    )
    payer_guardian_id: Ref
    payer_kind: PayerKind
    company_reserved_place: bool = False
    signed_on: date | None = None
    remark: LongText | None = None


ContractPatch = partial(ContractFields, "ContractPatch")


class ContractOut(Out, ContractFields):
    id: int
