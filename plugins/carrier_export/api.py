"""Import reports over the API: ``/api/v1/adapters/carrier_export/import-reports``.

Who reads what (issue 12 item 2): the carrier's own staff, the ZVS and administrators read a
report in full (row numbers, fields, rules and the quarantined values of the carrier's own
file); operators, integrations and the fee office see its counts and metadata only, never a
name or birth date; another carrier and a facility lead get "not found". Lists give counts
and metadata and never load the stored bodies (issue 12 item 6).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import ColumnElement, false, select, true

from ekita.core.access import Principal
from ekita.core.errors import NotFound
from ekita.core.models.carrier_exchange import CarrierImportReport
from ekita.core.models.enums import Role
from ekita.hub.api.deps import DB, PathId, QueryId, Who

router = APIRouter(prefix="/carrier_export", tags=["carrier exchange"])

#: Roles that read a report in full, whatever the carrier.
FULL = frozenset({Role.ADMIN, Role.ZVS})
#: Roles that see counts and metadata only (no quarantined rows, no personal values).
COUNTS_ONLY = frozenset({Role.OPS, Role.INTEGRATION, Role.FINANCE})
#: The columns a list reads and a counts-only reader gets: never the body.
SUMMARY = (CarrierImportReport.id, CarrierImportReport.carrier_id, CarrierImportReport.source,
           CarrierImportReport.profile, CarrierImportReport.mapping_version,
           CarrierImportReport.status, CarrierImportReport.rows_total,
           CarrierImportReport.applied, CarrierImportReport.quarantined,
           CarrierImportReport.created_at)


def _in_scope(who: Principal) -> ColumnElement[bool]:
    """The reports the caller may know of: a carrier its own, facility leads none."""
    if who.role == Role.CARRIER:
        return CarrierImportReport.carrier_id == who.carrier_id
    if who.role in FULL or who.role in COUNTS_ONLY:
        return true()
    return false()


def _summary(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["created_at"] = data["created_at"].isoformat()
    return data


@router.get("/import-reports")
def list_reports(who: Who, db: DB, carrier_id: QueryId = None) -> list[dict[str, Any]]:
    """The newest import reports in the caller's scope (counts and status, no bodies)."""
    stmt = select(*SUMMARY).where(_in_scope(who)).order_by(
        CarrierImportReport.id.desc()).limit(100)
    if carrier_id is not None:
        stmt = stmt.where(CarrierImportReport.carrier_id == carrier_id)
    return [_summary(r) for r in db.execute(stmt)]


@router.get("/import-reports/{report_id}")
def get_report(report_id: PathId, who: Who, db: DB) -> dict[str, Any]:
    """One report: in full with every quarantined row (row, field, value, rule, message)
    for the carrier, the ZVS and administrators; counts only for operators and
    integrations."""
    row = db.execute(select(*SUMMARY).where(CarrierImportReport.id == report_id,
                                            _in_scope(who))).first()
    if row is None:
        raise NotFound(f"import report {report_id} not found", record="carrier_import_report",
                       field="id", rule="exists in your scope")
    if who.role in COUNTS_ONLY:
        return {**_summary(row), "counts_only": True}
    body = db.scalar(select(CarrierImportReport.report).where(
        CarrierImportReport.id == report_id))
    return dict(body or {})
