"""Schemas of care contracts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

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


Hours = Annotated[Decimal, Field(gt=0, le=24, max_digits=4, decimal_places=2,
                                 description="daily care hours, a decimal string")]


class TermChange(In):
    """A dated change of term fields (issue 13 items 1, 2): from ``valid_from`` on.

    ``requested_on`` is the day the parents' request arrived (default today): hour changes
    of the city's contracts take effect on a 1st of a month at least two months later
    (Anlage B §9(3)/(4)); ``override_reason`` accepts a shorter change and is kept."""

    valid_from: date
    care_type: CareType | None = None
    daily_hours: Hours | None = None
    company_reserved_place: bool | None = None
    requested_on: date | None = None
    override_reason: LongText | None = None


class TermOut(Out):
    id: int | None = None
    contract_id: int
    valid_from: date
    valid_to: date | None = Field(description="inclusive; null: open")
    care_type: CareType
    daily_hours: Decimal
    company_reserved_place: bool
    override_reason: str | None = None


class ContractOut(Out, ContractFields):
    id: int
    term: TermOut | None = Field(
        default=None, description="the term valid on ?on= (default today), on single reads")
