"""The finance worklist of arrears (Lastenheft 3.10.10), mounted under
``/api/v1/adapters/sap_fi``. EB Kita only (data-protection R11): ``finance`` and ``admin``
work the list, ``zvs`` reads it, everyone else gets 403. ``POST /arrears/files`` takes in
an arrears file (the request body), streamed to a temporary file under
``input_caps.sap_arrears`` (issue 12 item 6): over the cap a 422, nothing applied."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ekita.core.access import Principal
from ekita.core.errors import Forbidden
from ekita.core.models.enums import Role
from ekita.core.schemas.common import MAX_ID
from ekita.hub.api.deps import DB, PathId, Who
from ekita.hub.inputs import cap_for, spool_upload
from ekita.plugins.sap_fi import arrears
from ekita.plugins.sap_fi.settings import SapFiSettings

READERS = frozenset({Role.FINANCE, Role.ADMIN, Role.ZVS})
WORKERS = frozenset({Role.FINANCE, Role.ADMIN})

router = APIRouter(prefix="/sap_fi", tags=["SAP-FI arrears"])


class TerminationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_id: int = Field(ge=1, le=MAX_ID)
    terminated_on: date
    reason: str = Field(min_length=1, max_length=2000)


def _allow(who: Principal, roles: frozenset[Role], action: str) -> None:
    if who.role not in roles:
        raise Forbidden(f"role {who.role.value} may not {action}", record="arrears_case",
                        field=None, rule="data-protection R11: arrears are known only "
                                         "inside EB Kita")


def _min_months(request: Request) -> int:
    configured = request.app.state.plugins.adapter_settings.get("sap_fi")
    return (configured if isinstance(configured, SapFiSettings) else SapFiSettings()
            ).arrears_months


@router.get("/arrears/worklist", summary="payers more than 2 months behind (3.10.10)")
def get_worklist(request: Request, session: DB, who: Who) -> dict[str, Any]:
    _allow(who, READERS, "read the arrears worklist")
    items = [arrears.case_view(c) for c in arrears.worklist(session, _min_months(request))]
    return {"items": items, "total": len(items)}


@router.post("/arrears/files", summary="take in an arrears file from SAP (3.10.10); "
                                       "the same file twice is applied once")
async def post_arrears_file(request: Request, session: DB, who: Who,
                            source: Annotated[str, Query(min_length=1, max_length=200)]
                            = "api") -> dict[str, Any]:
    _allow(who, WORKERS, "take in an arrears file")
    cap = cap_for("sap_arrears", request.app.state.settings)
    with await spool_upload(request, cap=cap, name="arrears_file") as spooled:
        result = arrears.import_arrears(session, spooled, f"api:{source}",
                                        _min_months(request))
    session.commit()
    return {"applied": result.applied, "stale": result.stale,
            "as_of": result.as_of.isoformat(), "records": result.records,
            "on_worklist": result.on_worklist, "cleared": result.cleared}


@router.post("/arrears/{case_id}/termination-started",
             summary="record that EB Kita started the termination process (R11)")
def post_termination_started(case_id: PathId, session: DB, who: Who,
                             on: date | None = None) -> dict[str, Any]:
    _allow(who, WORKERS, "start a termination")
    case = arrears.start_termination(session, case_id, on or date.today())
    view = arrears.case_view(case)
    session.commit()
    return view


@router.post("/arrears/{case_id}/termination",
             summary="terminate the contract for arrears; the facility lead is informed")
def post_termination(case_id: PathId, session: DB, who: Who,
                     body: Annotated[TerminationIn, Body()]) -> dict[str, Any]:
    _allow(who, WORKERS, "terminate a contract for arrears")
    case = arrears.terminate(session, case_id, contract_id=body.contract_id,
                             on=body.terminated_on, reason=body.reason, principal=who)
    view = arrears.case_view(case)
    session.commit()
    return view
