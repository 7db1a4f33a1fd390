"""The operators' view of the delivery engine (role ``ops``; issue 4 item 9)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from ekita.core.access import Permission
from ekita.core.db.base import utcnow
from ekita.core.models.exchange import MessageStatus
from ekita.core.schemas.common import MAX_ID
from ekita.core.services.base import require
from ekita.hub.api.deps import DB, Pages, PathId, QueryId
from ekita.hub.api.routes.system import health_by_plugin
from ekita.hub.delivery import metrics, ops
from ekita.hub.delivery.scheduler import last_runs, next_tick, schedules

router = APIRouter(prefix="/ops", tags=["ops"])
metrics_router = APIRouter(tags=["ops"])


class MessageOut(BaseModel):
    id: int
    adapter: str
    operation: str
    business_key: str
    idempotency_key: str
    status: MessageStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    job_run_id: int | None
    created_at: datetime
    delivered_at: datetime | None


class AttemptOut(BaseModel):
    number: int
    worker: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    error: str | None


class TransferOut(BaseModel):
    recipient: str
    dataset: str
    record_count: int
    checksum: str
    delivered_at: datetime


class MessageDetail(MessageOut):
    payload: dict[str, Any] = Field(description="field names, size and checksum; no values")
    attempts: list[AttemptOut]  # type: ignore[assignment]
    transfers: list[TransferOut]


class ReplayIn(BaseModel):
    """Name message ids, or a filter; only dead and delivered messages are re-queued."""

    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(default_factory=list,
                                                               max_length=10_000)
    status: MessageStatus | None = None
    adapter: str | None = Field(default=None, max_length=40)
    operation: str | None = Field(default=None, max_length=60)
    job_run_id: int | None = Field(default=None, ge=1, le=MAX_ID)

    model_config = {"json_schema_extra": {"examples": [{"status": "dead", "adapter": "sap_fi"},
                                                      {"ids": [17, 18]}, {"job_run_id": 42}]}}


class ReplayOut(BaseModel):
    requeued: int


class JobRunOut(BaseModel):
    id: int
    job: str
    scheduled_for: datetime
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    records_in: int
    messages_produced: int
    delivered: int
    dead: int
    quarantined: int
    in_flight: int
    control_sum_cents: int | None
    produced_sum_cents: int
    delivered_sum_cents: int
    balanced: bool = Field(description="in = delivered + dead + quarantined, none in flight")
    detail: str


class ScheduleOut(BaseModel):
    job: str
    cron: str
    next_run: datetime
    last_run: datetime | None


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class AdapterHealthOut(BaseModel):
    adapter: str
    last_success: datetime | None
    attempts_window: int
    error_rate: float
    messages: dict[str, int]
    checks: list[CheckOut] = Field(default_factory=list,
                                   description="the adapter plugin's health checks (peers)")


def _filter(status: MessageStatus | None, adapter: str | None, operation: str | None,
            job_run_id: int | None, business_key: str | None = None) -> ops.MessageFilter:
    return ops.MessageFilter(status=status, adapter=adapter, operation=operation,
                             job_run_id=job_run_id, business_key=business_key)


Str = Annotated[str | None, Query(max_length=200)]


@router.get("/messages", response_model=list[MessageOut], summary="Outbox messages")
def messages(session: DB, pages: Pages, status: MessageStatus | None = None,
             adapter: Str = None, operation: Str = None, job_run_id: QueryId = None,
             business_key: Str = None) -> list[dict[str, Any]]:
    require(session, Permission.OPS_READ)
    return ops.list_messages(session, _filter(status, adapter, operation, job_run_id,
                                              business_key), pages.limit, pages.offset)


@router.get("/messages/{message_id}", response_model=MessageDetail,
            summary="One message with every attempt and transfer")
def message(session: DB, message_id: PathId) -> dict[str, Any]:
    require(session, Permission.OPS_READ)
    return ops.message_detail(session, message_id)


@router.get("/dead-letters", response_model=list[MessageOut], summary="The dead-letter queue")
def dead_letters(session: DB, pages: Pages, adapter: Str = None) -> list[dict[str, Any]]:
    require(session, Permission.OPS_READ)
    return ops.list_messages(session, _filter(MessageStatus.DEAD, adapter, None, None),
                             pages.limit, pages.offset)


@router.post("/replay", response_model=ReplayOut, summary="Re-queue dead or delivered messages")
def replay(session: DB, body: ReplayIn) -> ReplayOut:
    who = require(session, Permission.OPS_REPLAY)
    flt = _filter(body.status, body.adapter, body.operation, body.job_run_id)
    count = ops.replay(session, who, ids=body.ids, flt=flt)
    session.commit()
    return ReplayOut(requeued=count)


@router.get("/job-runs", response_model=list[JobRunOut], summary="Job runs with reconciliation")
def runs(session: DB, pages: Pages, job: Str = None) -> list[dict[str, Any]]:
    require(session, Permission.OPS_READ)
    return ops.job_runs(session, job, pages.limit, pages.offset)


@router.get("/job-runs/{run_id}", response_model=JobRunOut, summary="One job run")
def run(session: DB, run_id: PathId) -> dict[str, Any]:
    require(session, Permission.OPS_READ)
    return ops.job_run(session, run_id)


@router.get("/schedules", response_model=list[ScheduleOut], summary="Schedules, next and last run")
def schedule_list(session: DB, request: Request) -> list[ScheduleOut]:
    require(session, Permission.OPS_READ)
    state = request.app.state
    last, tz = last_runs(session), ZoneInfo(state.settings.timezone)
    return [ScheduleOut(job=s.job, cron=s.cron, next_run=next_tick(s.cron, utcnow(), tz),
                        last_run=last.get(s.job))
            for s in schedules(state.settings, state.plugins)]


@router.get("/adapters", response_model=list[AdapterHealthOut], summary="Adapter health")
def adapters(session: DB, request: Request) -> list[dict[str, Any]]:
    require(session, Permission.OPS_READ)
    state = request.app.state
    checks = health_by_plugin(state.plugins, state.settings)
    rows = ops.adapter_health(session, list(state.plugins.adapters))
    for row in rows:
        registration = state.plugins.adapters.get(row["adapter"])
        found = checks.get(registration.plugin, []) if registration else []
        row["checks"] = [c.__dict__ for c in found]
    return rows


@metrics_router.get("/metrics", summary="Prometheus metrics (bearer key of role ops)",
                    response_class=Response)
def prometheus(session: DB, request: Request) -> Response:
    require(session, Permission.OPS_READ)
    return Response(metrics.render(request.app.state.engine),
                    media_type="text/plain; version=0.0.4; charset=utf-8")
