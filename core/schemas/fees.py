"""In/Out models of the fee domain (fees.md). Money travels as decimal strings or cents."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ekita.core.models.fees import FactKind, FeeType, LineKind, PaymentMethod
from ekita.core.schemas.common import MAX_CENTS, MAX_ID
from ekita.core.services.fees.rules import CellOrigin, FeeGroup

Amount = Annotated[Decimal, Field(ge=0, le=Decimal("9999999.99"), max_digits=9, decimal_places=2)]
Pct = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
Hours = Annotated[Decimal, Field(gt=0, le=12, max_digits=4, decimal_places=2)]
Period = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-09"])]


def _hours_key(key: str, where: str) -> None:
    if not re.fullmatch(r"\d+(\.\d+)?", key):
        raise ValueError(f"{where}.{key}: the tier is a number of hours")


class CostBasis(BaseModel):
    """What a care type's 9-hour fee follows from (3.10.13, B §11(1), SächsKitaG §15(2)):
    the published monthly operating costs and the parents' share of them in percent."""

    model_config = ConfigDict(extra="forbid")

    operating_costs: Amount
    parents_share_pct: Pct


class StatuteParams(BaseModel):
    """The statute's fee tables and percentages as data (fees.md §3, §4, §5, §8, §14.3).

    ``full9`` is the 9-hour full fee per group, given directly or following from
    ``cost_basis`` (operating costs × parents' share, rounded half-up; both given: they must
    agree); every tier derives from it by D1. ``published`` (optional) holds the printed
    table — group → hours → [1st, 2nd, 1st single parent, 2nd single parent] — and is
    checked against D1–D5. ``overrides`` sets the full fee of a tier that would otherwise
    be derived (decision D10): group → hours → amount.
    """

    model_config = ConfigDict(extra="forbid")

    full9: dict[FeeGroup, Amount] = Field(default_factory=dict)
    cost_basis: dict[FeeGroup, CostBasis] = Field(default_factory=dict)
    tiers: dict[FeeGroup, list[Hours]]
    second_child_pct: Pct = Decimal(40)
    single_parent_pct: Pct = Decimal(10)
    free_from_rank: int = Field(default=3, ge=2, le=10)
    extra_care_per_tier: Amount = Decimal("5.00")
    non_pickup: Amount = Decimal("25.00")
    due_day: int = Field(default=15, ge=1, le=28)
    published: dict[FeeGroup, dict[str, list[Amount]]] = Field(default_factory=dict)
    overrides: dict[FeeGroup, dict[str, Amount]] = Field(default_factory=dict)

    @field_validator("published")
    @classmethod
    def _four_columns(cls, value: dict) -> dict:
        for group, rows in value.items():
            for hours, row in rows.items():
                _hours_key(hours, f"published.{group}")
                if len(row) != 4:
                    raise ValueError(f"published.{group}.{hours}: four amounts per tier")
        return value

    @field_validator("overrides")
    @classmethod
    def _tier_keys(cls, value: dict) -> dict:
        for group, cells in value.items():
            for hours in cells:
                _hours_key(hours, f"overrides.{group}")
        return value


class StatuteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=120)]
    valid_from: date
    params: StatuteParams


class StatuteChange(BaseModel):
    """A correction of a version nothing has been booked or noticed under (fees.md §14.4)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    params: StatuteParams | None = None


class CellOut(BaseModel):
    """One fee table cell and where it comes from (decision D10)."""

    amount: Decimal
    origin: CellOrigin


class StatuteOut(BaseModel):
    """A version with its parameters and every cell of its fee table, each marked
    published, derived or overridden (issue 13 item 7): group → hours →
    [1st, 2nd, 1st single parent, 2nd single parent]."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    valid_from: date
    valid_to: date | None
    params: dict
    cells: dict[str, dict[str, list[CellOut]]] = Field(default_factory=dict)


class FactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    child_id: int = Field(ge=1, le=MAX_ID)
    contract_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    kind: FactKind
    valid_from: date
    valid_to: date | None = None
    amount_cents: int | None = Field(default=None, ge=0, le=MAX_CENTS)
    reason: str | None = Field(default=None, max_length=2000)


class FactOut(FactIn):
    model_config = ConfigDict(from_attributes=True)

    id: int


class FactEnd(BaseModel):
    """Ending (or withdrawing, retroactively) a fact: the new last day of validity."""

    valid_to: date


class ExtraCareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_id: int = Field(ge=1, le=MAX_ID)
    day: date
    exceeded_tiers: int = Field(default=0, ge=0, le=10)
    not_picked_up: bool = False
    school_free_day: bool = False


class PaymentSetupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    guardian_id: int = Field(ge=1, le=MAX_ID)
    payment_method: PaymentMethod
    iban: str | None = Field(default=None, max_length=42)
    bic: str | None = Field(default=None, max_length=11)
    holder: str | None = Field(default=None, max_length=200)
    mandate_reference: str | None = Field(default=None, max_length=35)
    mandate_signed_on: date | None = None


class AssessmentLineOut(BaseModel):
    fee_type: FeeType
    amount_cents: int
    computed_cents: int
    detail: str


class AssessmentOut(BaseModel):
    """A contract's fee for a month with every step visible (3.10.1)."""

    contract_id: int
    period: str
    group: str | None
    hours: str | None
    rank: int | None
    single_parent: bool
    full_cents: int
    computed_cents: int
    amount_cents: int
    notes: list[str]
    lines: list[AssessmentLineOut]
    #: Origin of the tier's full-fee cell and of the cell charged for rank and single-parent
    #: status (decision D10, issue 13 item 7); None where no table cell applies.
    full_origin: CellOrigin | None = None
    fee_origin: CellOrigin | None = None


class ReceivableOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    external_ref: str
    pkn: str
    contract_id: int
    cost_centre: str
    period: str
    fee_type: FeeType
    line_kind: LineKind
    correction_no: int
    amount_cents: int
    due_date: date
    run_id: int


class DebitRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int | None
    period: str
    kind: str
    seq: int
    record_count: int
    control_sum_cents: int
    quarantined: int = 0  # contracts left out for want of a PKN
    created: bool = True
    dry_run: bool = False
