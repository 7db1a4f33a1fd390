"""What operators see and do: messages, attempts, replay, job runs, reconciliation, health.

Shared by the ops API and ``ekita-hub ops``. Payloads carry personal data, so operators
see a payload's field names, size and checksum, never its values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from ekita.core.access import Principal
from ekita.core.db.base import utcnow
from ekita.core.errors import NotFound, RuleViolation
from ekita.core.models.audit import AuditEvent
from ekita.core.models.exchange import (
    AttemptOutcome,
    DeliveryAttempt,
    JobRun,
    MessageStatus,
    OutboxMessage,
    TransferRecord,
)
from ekita.core.outbox import checksum, payload_bytes
from ekita.core.tracking import today

REPLAYABLE = (MessageStatus.DEAD, MessageStatus.DELIVERED)


@dataclass(frozen=True)
class MessageFilter:
    status: MessageStatus | None = None
    adapter: str | None = None
    operation: str | None = None
    job_run_id: int | None = None
    business_key: str | None = None

    def where(self) -> list[Any]:
        clauses = []
        for name in ("status", "adapter", "operation", "job_run_id", "business_key"):
            value = getattr(self, name)
            if value is not None:
                clauses.append(getattr(OutboxMessage, name) == value)
        return clauses


def message_summary(m: OutboxMessage) -> dict[str, Any]:
    return {
        "id": m.id, "adapter": m.adapter, "operation": m.operation,
        "business_key": m.business_key, "idempotency_key": m.idempotency_key,
        "status": m.status, "attempts": m.attempts, "next_attempt_at": m.next_attempt_at,
        "last_error": m.last_error, "job_run_id": m.job_run_id, "created_at": m.created_at,
        "delivered_at": m.delivered_at,
    }


def list_messages(session: Session, flt: MessageFilter, limit: int = 50, offset: int = 0
                  ) -> list[dict[str, Any]]:
    rows = session.scalars(select(OutboxMessage).where(*flt.where())
                           .order_by(OutboxMessage.id.desc()).limit(limit).offset(offset))
    return [message_summary(m) for m in rows]


def message_detail(session: Session, message_id: int) -> dict[str, Any]:
    m = session.get(OutboxMessage, message_id)
    if m is None:
        raise NotFound(f"no message {message_id}", record="outbox_message", field="id",
                       rule="exists")
    attempts = session.scalars(select(DeliveryAttempt).where(
        DeliveryAttempt.message_id == message_id).order_by(DeliveryAttempt.number))
    transfers = session.scalars(select(TransferRecord).where(
        TransferRecord.message_id == message_id).order_by(TransferRecord.id))
    body = payload_bytes(m.payload)
    return {
        **message_summary(m),
        "payload": {"fields": sorted((m.payload or {}).keys()), "bytes": len(body),
                    "checksum": checksum(body), "ref": m.payload_ref},
        "attempts": [{"number": a.number, "worker": a.worker, "started_at": a.started_at,
                      "finished_at": a.finished_at, "outcome": a.outcome, "error": a.error}
                     for a in attempts],
        "transfers": [{"recipient": t.recipient, "dataset": t.dataset,
                       "record_count": t.record_count, "checksum": t.checksum,
                       "delivered_at": t.delivered_at} for t in transfers],
    }


def replay(session: Session, principal: Principal, *, ids: Sequence[int] = (),
           flt: MessageFilter | None = None) -> int:
    """Re-queue dead or delivered messages (by id, or by filter), each with an audit entry.

    The idempotency key stays the same: a peer that already applied a message ignores
    the repeat, so replay can never double an effect.
    """
    if not ids and (flt is None or not flt.where()):
        raise RuleViolation("name message ids or at least one filter", record="replay",
                            field="ids", rule="replay needs a selection")
    where = [OutboxMessage.status.in_(REPLAYABLE)]
    if ids:
        where.append(OutboxMessage.id.in_(list(ids)))
    if flt is not None:
        where += flt.where()
    selected = session.execute(select(OutboxMessage.id, OutboxMessage.status).where(*where)).all()
    if ids and len(selected) != len(set(ids)):
        found = {row.id for row in selected}
        missing = sorted(set(ids) - found)
        raise RuleViolation(f"message(s) {missing} do not exist or are not dead or delivered",
                            record="outbox_message", field="id",
                            rule="only dead or delivered messages are replayed")
    if not selected:
        return 0
    now = utcnow()
    session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in selected]))
                    .values(status=MessageStatus.PENDING, next_attempt_at=now, attempts=0,
                            claimed_by=None, updated_at=now)
                    .execution_options(synchronize_session=False))
    session.execute(insert(AuditEvent), [{
        "recorded_at": now, "actor": principal.name, "source": principal.source,
        "entity": "outbox_message", "entity_id": r.id, "action": "replay",
        "valid_from": today(), "changes": {"status": [str(r.status), "pending"]},
    } for r in selected])
    return len(selected)


def reconciliation(session: Session, run: JobRun) -> dict[str, Any]:
    """The run's figures; it balances when in = delivered + dead + quarantined, none open."""
    counts = dict(session.execute(
        select(OutboxMessage.status, func.count()).where(OutboxMessage.job_run_id == run.id)
        .group_by(OutboxMessage.status)).all())
    amounts = session.execute(select(
        func.coalesce(func.sum(OutboxMessage.amount_cents), 0),
        func.coalesce(func.sum(case((OutboxMessage.status == MessageStatus.DELIVERED,
                                     OutboxMessage.amount_cents), else_=0)), 0),
    ).where(OutboxMessage.job_run_id == run.id)).one()
    produced = sum(counts.values())
    delivered = counts.get(MessageStatus.DELIVERED, 0)
    dead = counts.get(MessageStatus.DEAD, 0)
    open_ = produced - delivered - dead
    balanced = open_ == 0 and run.records_in == delivered + dead + run.quarantined
    return {
        "id": run.id, "job": run.job, "scheduled_for": run.scheduled_for, "trigger": run.trigger,
        "status": run.status, "started_at": run.started_at, "finished_at": run.finished_at,
        "records_in": run.records_in, "messages_produced": produced, "delivered": delivered,
        "dead": dead, "quarantined": run.quarantined, "in_flight": open_,
        "control_sum_cents": run.control_sum_cents, "produced_sum_cents": int(amounts[0]),
        "delivered_sum_cents": int(amounts[1]), "balanced": balanced, "detail": run.detail,
    }


def job_runs(session: Session, job: str | None = None, limit: int = 50, offset: int = 0
             ) -> list[dict[str, Any]]:
    stmt = select(JobRun).order_by(JobRun.id.desc()).limit(limit).offset(offset)
    if job is not None:
        stmt = stmt.where(JobRun.job == job)
    return [reconciliation(session, run) for run in session.scalars(stmt)]


def job_run(session: Session, run_id: int) -> dict[str, Any]:
    run = session.get(JobRun, run_id)
    if run is None:
        raise NotFound(f"no job run {run_id}", record="job_run", field="id", rule="exists")
    return reconciliation(session, run)


def adapter_health(session: Session, adapters: Sequence[str], window_h: int = 24
                   ) -> list[dict[str, Any]]:
    """Per adapter: last success, attempts and error rate in the window, queue sizes."""
    since = utcnow() - timedelta(hours=window_h)
    last_ok = dict(session.execute(select(OutboxMessage.adapter, func.max(
        OutboxMessage.delivered_at)).group_by(OutboxMessage.adapter)).all())
    tried = {a: (n, bad) for a, n, bad in session.execute(
        select(OutboxMessage.adapter, func.count(),
               func.sum(case((DeliveryAttempt.outcome != AttemptOutcome.DELIVERED, 1), else_=0)))
        .select_from(DeliveryAttempt)
                .join(OutboxMessage, OutboxMessage.id == DeliveryAttempt.message_id)
        .where(DeliveryAttempt.finished_at >= since).group_by(OutboxMessage.adapter))}
    queued: dict[str, dict[str, int]] = {}
    for adapter, status, n in session.execute(
            select(OutboxMessage.adapter, OutboxMessage.status, func.count())
            .group_by(OutboxMessage.adapter, OutboxMessage.status)):
        queued.setdefault(adapter, {})[str(status)] = n
    result = []
    for name in sorted(set(adapters) | set(queued)):
        attempts, failed = tried.get(name, (0, 0))
        result.append({
            "adapter": name, "last_success": last_ok.get(name), "attempts_window": attempts,
            "error_rate": round((failed or 0) / attempts, 4) if attempts else 0.0,
            "messages": queued.get(name, {}),
        })
    return result

