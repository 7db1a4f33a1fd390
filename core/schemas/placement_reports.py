"""Answers of the occupancy, forecast and placement statistics reports (3.6.10, 3.12.1).

Every report is aggregated: no names, no ids of children or applications (data-protection
S1, statistics on a role-limited and anonymised basis).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ForecastRowOut(ReportOut):
    group: str = Field(description="facility id, Stadtteil number, Stadtbezirk, carrier id "
                                   "or 'city'", examples=["140"])
    label: str = Field(examples=["Kita Sonnenschein"])
    on: date = Field(description="key date", examples=["2027-01-01"])
    care_type: str = Field(description="a care type, or 'all' for the group's total",
                           examples=["kindergarten"])
    facility_count: int
    capacity: int = Field(description="approved places valid on the key date", examples=[120])
    occupied: int = Field(description="contracts running on the key date, after planned "
                                      "Krippe→Kindergarten changes and school entries",
                          examples=[112])
    company_occupied: int = Field(description="of them on company-reserved places", examples=[3])
    reserved: int = Field(description="active reservations starting by the key date",
                          examples=[2])
    free: int = Field(description="capacity − occupied − reserved (negative: over-occupied)",
                      examples=[6])
    occupancy_pct: Decimal | None = Field(examples=["93.3"])
    company_reserved_places: int | None = Field(
        None, description="'all' rows: places held for companies (Belegrechte)", examples=[8])
    company_unused: int | None = Field(None, description="'all' rows: of them not used",
                                       examples=[5])
    free_for_placement: int | None = Field(
        None, description="'all' rows: free − unused company places (placement.md §14.7)",
        examples=[1])


class ForecastOut(ReportOut):
    by: str = Field(examples=["facility"])
    dates: list[date]
    rows: list[ForecastRowOut]


class PlacedRowOut(ReportOut):
    """Placed children of one region, age band and preference (3.12.1.3)."""

    region: str = Field(description="Stadtteil, Stadtbezirk or 'Dresden' (child's home)",
                        examples=["Pieschen"])
    age_band: str = Field(description="age at the desired start: under_1, 1_to_2, "
                                      "2_to_2.75, over_2.75", examples=["1_to_2"])
    preference: str | None = Field(
        None, description="1..5 = which preference got the place, 'none' = none of them; "
                          "absent for facility leads and carriers (placement.md R5)",
        examples=["1"])
    children: int = Field(examples=[14])
    waiting_days_mean: Decimal | None = Field(
        description="desired start → real start, in days", examples=["12.5"])
    waiting_days_median: Decimal | None = Field(examples=["0"])
    waiting_days_max: int | None = Field(examples=[92])
    age_months_desired_mean: Decimal | None = Field(examples=["13.2"])
    age_months_real_mean: Decimal | None = Field(examples=["13.6"])
    daily_hours_total: Decimal = Field(description="care hours per day, summed",
                                       examples=["126.00"])

    @model_serializer(mode="wrap")
    def _without_hidden_rank(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Tenants never see the preference rank: the key is left out, not set to null."""
        data = handler(self)
        if self.preference is None:
            data.pop("preference", None)
        return data


class CompanyRowOut(ReportOut):
    """New contracts on company-reserved places, reported separately (3.12.1.3)."""

    region: str
    age_band: str
    contracts: int
    daily_hours_total: Decimal


class PlacedOut(ReportOut):
    period_from: date
    period_to: date
    by: str
    rows: list[PlacedRowOut]
    company_places: list[CompanyRowOut]


class UnmetRowOut(ReportOut):
    """Active applications whose desired start has passed (3.12.1.5)."""

    region: str
    age_band: str
    children: int
    in_pool: int = Field(description="of them in the central pool")
    waiting_days_mean: Decimal | None = Field(description="desired start → key date, days")
    waiting_days_median: Decimal | None
    waiting_days_max: int | None
    age_months_mean: Decimal | None = Field(description="age on the key date, months")


class UnmetOut(ReportOut):
    on: date
    by: str
    rows: list[UnmetRowOut]


class SwitchRowOut(ReportOut):
    """A Krippe child due to move to the Kindergarten (3.6.16)."""

    contract_id: int
    facility_id: int
    facility: str
    care_type: str = Field(examples=["krippe"])
    to_care_type: str = Field(examples=["kindergarten"])
    child_id: int
    family_name: str
    first_name: str
    birth_date: date
    completed_months: int = Field(description="completed months of life on the key date",
                                  examples=[35])
    earliest_change: date = Field(description="first day after the completed 34th month")
    latest_change: date = Field(description="first day after the completed 3rd year")


class SchoolEntryRowOut(ReportOut):
    """A Kindergarten child expected to start school (3.6.17)."""

    contract_id: int
    facility_id: int
    facility: str
    care_type: str
    child_id: int
    family_name: str
    first_name: str
    birth_date: date
    school_deferred: bool = Field(description="Schulrücksteller of the previous year")
    last_day: date = Field(description="last day in the Kindergarten (31 July)")


class SwitchListOut(ReportOut):
    on: date
    rows: list[SwitchRowOut]


class SchoolEntryListOut(ReportOut):
    on: date
    school_entry_cutoff: str = Field(examples=["06-30"])
    rows: list[SchoolEntryRowOut]
