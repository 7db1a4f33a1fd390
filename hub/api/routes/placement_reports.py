"""Occupancy, forecast and placement statistics (Lastenheft 3.6.10, 3.7.6, 3.12.1).

Every list answers JSON, or an Excel file with ``format=xlsx``. The ZVS and the admin see
the whole city (optionally filtered); a facility lead sees her facility, a carrier its
facilities (3.12: "Freie Träger: Zugriff auf Daten ihrer Einrichtungen; Kita: … nur ihrer
Einrichtung"); every other role gets 403.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.errors import Forbidden, RuleViolation
from ekita.core.models import Carrier, Facility, Stadtteil
from ekita.core.models.enums import CareType, CarrierCategory, Role
from ekita.core.schemas.placement_reports import (
    ForecastOut,
    PlacedOut,
    SchoolEntryListOut,
    SwitchListOut,
    UnmetOut,
)
from ekita.core.services.placement import statistics
from ekita.core.services.placement.forecast import (
    GroupBy,
    key_dates,
    kindergarten_switch_list,
    school_entry_list,
)
from ekita.core.services.placement.forecast import forecast as compute_forecast
from ekita.core.services.placement.occupancy import PlaceLedger
from ekita.core.services.placement.statistics import Region
from ekita.core.tracking import principal_of, today
from ekita.hub.api.deps import DB, QueryId
from ekita.hub.api.reports_excel import xlsx_response

router = APIRouter(prefix="/placement", tags=["placement reports"])

READERS = frozenset({Role.ADMIN, Role.ZVS, Role.FACILITY_LEAD, Role.CARRIER})
FORECAST_COLUMNS = ["group", "label", "on", "care_type", "facility_count", "capacity",
                    "occupied", "company_occupied", "reserved", "free", "occupancy_pct",
                    "company_reserved_places", "company_unused", "free_for_placement"]
PLACED_COLUMNS = ["region", "age_band", "preference", "children", "waiting_days_mean",
                  "waiting_days_median", "waiting_days_max", "age_months_desired_mean",
                  "age_months_real_mean", "daily_hours_total"]
COMPANY_COLUMNS = ["region", "age_band", "contracts", "daily_hours_total"]
SWITCH_COLUMNS = ["facility_id", "facility", "contract_id", "child_id", "family_name",
                  "first_name", "birth_date", "care_type", "to_care_type", "completed_months",
                  "earliest_change", "latest_change"]
SCHOOL_COLUMNS = ["facility_id", "facility", "contract_id", "child_id", "family_name",
                  "first_name", "birth_date", "care_type", "school_deferred", "last_day"]
UNMET_COLUMNS = ["region", "age_band", "children", "in_pool", "waiting_days_mean",
                 "waiting_days_median", "waiting_days_max", "age_months_mean"]


class Format(StrEnum):
    JSON = "json"
    XLSX = "xlsx"


FormatQ = Annotated[Format, Query(description="json, or xlsx for an Excel file (3.12)")]
StadtteilQ = Annotated[str | None, Query(max_length=2, description="Stadtteil number")]
BezirkQ = Annotated[str | None, Query(max_length=80, description="Stadtbezirk or Ortschaft")]
CategoryQ = Annotated[CarrierCategory | None, Query(
    description="municipal or independent carriers' facilities")]


class Scope:
    """Which facilities the caller may report on, narrowed by the filters (3.12)."""

    def __init__(self, session: DB, stadtteil: StadtteilQ = None, stadtbezirk: BezirkQ = None,
                 carrier_id: QueryId = None, category: CategoryQ = None) -> None:
        self.session = session
        p = principal_of(session)
        if p.role not in READERS:
            raise Forbidden(f"role '{p.role}' may not read placement reports",
                            record="placement_report", rule="statistics on a role-limited "
                            "data basis (3.12, data-protection S1)")
        self.tenant = p.role in (Role.FACILITY_LEAD, Role.CARRIER)
        stmt = select(Facility.id).join(Stadtteil).join(Carrier)
        if p.role == Role.FACILITY_LEAD:
            stmt = stmt.where(Facility.id == p.facility_id)
        elif p.role == Role.CARRIER:
            stmt = stmt.where(Facility.carrier_id == p.carrier_id)
        filters = (stadtteil, stadtbezirk, carrier_id, category)
        if stadtteil:
            stmt = stmt.where(Facility.stadtteil_nr == stadtteil)
        if stadtbezirk:
            stmt = stmt.where(Stadtteil.bezirk == stadtbezirk)
        if carrier_id:
            stmt = stmt.where(Facility.carrier_id == carrier_id)
        if category:
            stmt = stmt.where(Carrier.category == category)
        self.facility_ids: list[int] | None = (
            list(session.scalars(stmt)) if self.tenant or any(filters) else None)


def _rules(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.settings.placement


def _forecast(session: Session, request: Request, scope: Scope, start: date, months: int,
              by: GroupBy, care_type: CareType | None) -> dict:
    dates = key_dates(start, months)
    ledger = PlaceLedger.load(session, start, dates[-1], _rules(request), scope.facility_ids)
    rows = compute_forecast(ledger, dates, by, None if care_type is None else {care_type},
                            scope.facility_ids)
    return {"by": by.value, "dates": dates, "rows": [r.as_dict() for r in rows]}


@router.get("/occupancy", response_model=ForecastOut, summary="Occupancy on a key date",
            responses={200: {"content": {"application/vnd.openxmlformats-officedocument."
                                         "spreadsheetml.sheet": {}}}})
def occupancy(
    session: DB, request: Request, scope: Annotated[Scope, Depends()],
    on: Annotated[date | None, Query(description="key date; default today")] = None,
    by: GroupBy = GroupBy.FACILITY, care_type: CareType | None = None,
    format: FormatQ = Format.JSON,
) -> dict | Response:
    """Approved, occupied (company places among them), reserved and free places per care
    type on the key date, Krippe→Kindergarten changes and school entries included
    (Lastenheft 3.6.10, 3.7.6, 3.12.1.1). Company-reserved places are shown separately in
    the ``all`` row of each group."""
    result = _forecast(session, request, scope, on or today(), 1, by, care_type)
    if format == Format.XLSX:
        return xlsx_response("occupancy.xlsx", [("Belegung", FORECAST_COLUMNS,
                                                  result["rows"])])
    return result


@router.get("/forecast", response_model=ForecastOut, summary="Occupancy forecast",
            responses={200: {"content": {"application/vnd.openxmlformats-officedocument."
                                         "spreadsheetml.sheet": {}}}})
def forecast(
    session: DB, request: Request, scope: Annotated[Scope, Depends()],
    from_: Annotated[date | None, Query(alias="from", description="first key date; "
                                                                  "default today")] = None,
    months: Annotated[int | None, Query(ge=1, le=24, description="key dates, one a month; "
                                        "default the configured horizon (12)")] = None,
    by: GroupBy = GroupBy.FACILITY, care_type: CareType | None = None,
    format: FormatQ = Format.JSON,
) -> dict | Response:
    """The occupancy on ``from`` and the same day of each following month: expected
    Krippe→Kindergarten changes, school leavers (deferrals respected), occupied, reserved
    and free places (Lastenheft 3.6.10, 3.12.1.2; placement.md §16.2)."""
    horizon = months or _rules(request).forecast_horizon_months
    result = _forecast(session, request, scope, from_ or today(), horizon, by, care_type)
    if format == Format.XLSX:
        return xlsx_response("forecast.xlsx", [("Belegungsvorschau", FORECAST_COLUMNS,
                                                 result["rows"])])
    return result


@router.get("/statistics/placed", response_model=PlacedOut, response_model_exclude_none=False,
            summary="Placed places (3.12.1.3)",
            responses={200: {"content": {"application/vnd.openxmlformats-officedocument."
                                         "spreadsheetml.sheet": {}}}})
def placed(
    session: DB, scope: Annotated[Scope, Depends()],
    from_: Annotated[date, Query(alias="from", description="contracts signed from")],
    to: Annotated[date, Query(description="contracts signed until (inclusive)")],
    by: Region = Region.CITY, format: FormatQ = Format.JSON,
) -> dict | Response:
    """Children placed through the procedure, by region (home), age band at the desired
    start and which preference got the place ('none' = none of them): waiting time desired
    → real start, ages, care hours; company-place contracts separately (Lastenheft
    3.12.1.3). Facility leads and carriers get no preference column (placement.md R5)."""
    if to < from_:
        raise RuleViolation("'to' is before 'from'", record="placement_report", field="to",
                            rule="from <= to")
    result = statistics.placed(session, from_, to, by, scope.facility_ids,
                               show_preference=not scope.tenant)
    if format == Format.XLSX:
        columns = [c for c in PLACED_COLUMNS if not (scope.tenant and c == "preference")]
        return xlsx_response("placed.xlsx", [("Vermittelte Plätze", columns, result["rows"]),
                                              ("Belegrechtsplätze", COMPANY_COLUMNS,
                                               result["company_places"])])
    return result


@router.get("/statistics/unmet", response_model=UnmetOut, summary="Unmet demand (3.12.1.5)",
            responses={200: {"content": {"application/vnd.openxmlformats-officedocument."
                                         "spreadsheetml.sheet": {}}}})
def unmet(
    session: DB, scope: Annotated[Scope, Depends()],
    on: Annotated[date | None, Query(description="key date; default today")] = None,
    by: Region = Region.CITY, format: FormatQ = Format.JSON,
) -> dict | Response:
    """Children of active applications whose desired start has passed by the key date, by
    region and age band: waiting time so far, age, how many sit in the central pool
    (Lastenheft 3.12.1.5)."""
    result = statistics.unmet(session, on or today(), by, scope.facility_ids)
    if format == Format.XLSX:
        return xlsx_response("unmet.xlsx", [("Unbefriedigte Bedarfe", UNMET_COLUMNS,
                                              result["rows"])])
    return result


@router.get("/lists/kindergarten-switch", response_model=SwitchListOut,
            summary="Krippe → Kindergarten list (3.6.16)",
            responses={200: {"content": {"application/vnd.openxmlformats-officedocument."
                                         "spreadsheetml.sheet": {}}}})
def kindergarten_switch(
    session: DB, scope: Annotated[Scope, Depends()],
    on: Annotated[date | None, Query(description="key date; default today")] = None,
    format: FormatQ = Format.JSON,
) -> dict | Response:
    """Krippe children who have completed their 34th to 36th month on the key date, with the
    earliest and latest change date (Lastenheft 3.6.16)."""
    day = on or today()
    rows = kindergarten_switch_list(session, day, scope.facility_ids)
    if format == Format.XLSX:
        return xlsx_response("kindergarten-switch.xlsx",
                             [("Wechsel Kindergarten", SWITCH_COLUMNS, rows)])
    return {"on": day, "rows": rows}


@router.get("/lists/school-entry", response_model=SchoolEntryListOut,
            summary="School-entry list (3.6.17)",
            responses={200: {"content": {"application/vnd.openxmlformats-officedocument."
                                         "spreadsheetml.sheet": {}}}})
def school_entry(
    session: DB, request: Request, scope: Annotated[Scope, Depends()],
    on: Annotated[date | None, Query(description="key date; default today")] = None,
    format: FormatQ = Format.JSON,
) -> dict | Response:
    """Kindergarten children expected to start school at the next school year: age 6 by the
    configured cut-off (30 June or 30 September), last year's Schulrücksteller included
    (Lastenheft 3.6.17)."""
    day, rules = on or today(), _rules(request)
    rows = school_entry_list(session, day, rules, scope.facility_ids)
    if format == Format.XLSX:
        return xlsx_response("school-entry.xlsx", [("Schulkinder", SCHOOL_COLUMNS, rows)])
    return {"on": day, "school_entry_cutoff": rules.school_entry_cutoff, "rows": rows}
