"""Import reports over the API: ``/api/v1/adapters/carrier_export/import-reports``.

A carrier's own staff see their carrier's reports only (tenant isolation); the ZVS and
operators see all. The report carries row numbers, fields, rules and quarantined values
of the carrier's own file, nothing from other carriers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from ekita.core.errors import NotFound
from ekita.core.models.carrier_exchange import CarrierImportReport
from ekita.hub.api.deps import DB, Who

router = APIRouter(prefix="/carrier_export", tags=["carrier exchange"])


def _visible(who: Any, report: CarrierImportReport) -> bool:
    carrier_id = getattr(who, "carrier_id", None)
    facility_id = getattr(who, "facility_id", None)
    if carrier_id is None and facility_id is None:
        return True
    return carrier_id == report.carrier_id


@router.get("/import-reports")
def list_reports(who: Who, db: DB, carrier_id: int | None = None) -> list[dict[str, Any]]:
    """The newest import reports (counts and status)."""
    stmt = select(CarrierImportReport).order_by(CarrierImportReport.id.desc()).limit(100)
    if carrier_id is not None:
        stmt = stmt.where(CarrierImportReport.carrier_id == carrier_id)
    return [{"id": r.id, "carrier_id": r.carrier_id, "source": r.source, "status": r.status,
             "rows_total": r.rows_total, "applied": r.applied, "quarantined": r.quarantined,
             "created_at": r.created_at.isoformat()}
            for r in db.scalars(stmt) if _visible(who, r)]


@router.get("/import-reports/{report_id}")
def get_report(report_id: int, who: Who, db: DB) -> dict[str, Any]:
    """One report with every quarantined row (row, field, value, rule, message)."""
    report = db.get(CarrierImportReport, report_id)
    if report is None or not _visible(who, report):
        raise NotFound(f"import report {report_id} not found", record="carrier_import_report",
                       field="id", rule="exists in your scope")
    return report.report
