"""The delivery worker: claim due messages, hand each to its adapter, record the outcome.

Claiming is one UPDATE over a ``FOR UPDATE SKIP LOCKED`` sub-select (PostgreSQL; SQLite
has one writer and ignores the clause), ranged on the ``(status, next_attempt_at)``
index. A claim is a lease: the message is ``in_flight`` until ``next_attempt_at``; a
worker that dies leaves it to be claimed again after that, and a worker never starts a
delivery it could not finish inside its lease, so no message is delivered by two
workers at once. Delivery is at-least-once; the idempotency key makes a repeat harmless.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update

from ekita.core.db.base import as_utc, utcnow
from ekita.core.models.exchange import (
    CLAIMABLE,
    AttemptOutcome,
    DeliveryAttempt,
    MessageStatus,
    OutboxMessage,
    TransferRecord,
)
from ekita.core.outbox import checksum, payload_bytes
from ekita.hub.config import AdapterSection, RetryPolicy, Settings
from ekita.hub.delivery.errors import PermanentError
from ekita.hub.delivery.policy import AdapterRetry
from ekita.hub.plugins import LoadedPlugins
from ekita.hub.registrations import Delivery, DeliveryReceipt

log = logging.getLogger("ekita.worker")
T = OutboxMessage.__table__


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class WorkerStats:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0

    def add(self, other: WorkerStats) -> None:
        for name in ("claimed", "delivered", "retried", "dead"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Outcomes:
    delivered: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    released: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)


class Worker:
    def __init__(self, engine: Engine, plugins: LoadedPlugins, settings: Settings,
                 name: str | None = None) -> None:
        self.engine = engine
        self.plugins = plugins
        self.settings = settings
        self.name = name or worker_name()
        self.adapters = {
            n: reg for n, reg in plugins.adapters.items()
            if reg.deliver is not None and settings.adapters.get(n, AdapterSection()).enabled
        }
        self.policies: dict[str, RetryPolicy] = {
            n: settings.adapters.get(n, AdapterSection()).retry for n in self.adapters}
        self.retry = {n: AdapterRetry(p) for n, p in self.policies.items()}

    # -- claiming ---------------------------------------------------------------------
    def _claim(self, now: datetime) -> tuple[list[Any], datetime]:
        batch = self.settings.worker.batch_size
        longest = max((p.timeout_s for p in self.policies.values()), default=30.0)
        lease_end = now + timedelta(seconds=longest * batch + self.settings.worker.lease_margin_s)
        due = (select(OutboxMessage.id)
               .where(OutboxMessage.status.in_(CLAIMABLE), OutboxMessage.next_attempt_at <= now,
                      OutboxMessage.adapter.in_(list(self.adapters)))
               .order_by(OutboxMessage.next_attempt_at)
               .limit(batch)
               .with_for_update(skip_locked=True))
        claim = (update(OutboxMessage)
                 .where(OutboxMessage.id.in_(due.scalar_subquery()))
                 .values(status=MessageStatus.IN_FLIGHT, claimed_by=self.name,
                         next_attempt_at=lease_end, attempts=OutboxMessage.attempts + 1,
                         updated_at=now)
                 .returning(OutboxMessage.id, OutboxMessage.adapter, OutboxMessage.operation,
                            OutboxMessage.business_key, OutboxMessage.idempotency_key,
                            OutboxMessage.payload, OutboxMessage.payload_ref,
                            OutboxMessage.attempts, OutboxMessage.record_count,
                            OutboxMessage.created_at)
                 .execution_options(synchronize_session=False))
        with self.engine.begin() as conn:
            rows = sorted(conn.execute(claim).all(), key=lambda r: r.id)
        return rows, lease_end

    # -- delivering -------------------------------------------------------------------
    def _deliver_one(self, row: Any, lease_end: datetime, out: _Outcomes) -> str:
        policy = self.policies[row.adapter]
        started = utcnow()
        if started + timedelta(seconds=policy.timeout_s) > lease_end:
            # Not enough lease left to finish: give it back untouched.
            out.released.append({"b_id": row.id, "b_attempts": row.attempts - 1,
                                 "b_next": started})
            return "released"
        delivery = Delivery(
            message_id=row.id, adapter=row.adapter, operation=row.operation,
            business_key=row.business_key, idempotency_key=row.idempotency_key,
            payload=row.payload, payload_ref=row.payload_ref, attempt=row.attempts,
            timeout_s=policy.timeout_s, settings=self.plugins.adapter_settings[row.adapter],
            retryable_status=frozenset(policy.retryable_status))
        error: BaseException | None = None
        receipt: DeliveryReceipt | None = None
        try:
            receipt = self.adapters[row.adapter].deliver(delivery)  # type: ignore[misc]
        except Exception as exc:
            error = exc
        finished = utcnow()
        attempt = {"message_id": row.id, "number": row.attempts, "worker": self.name,
                   "started_at": started, "finished_at": finished}
        if error is None:
            receipt = receipt or DeliveryReceipt(recipient=row.adapter)
            out.attempts.append({**attempt, "outcome": AttemptOutcome.DELIVERED, "error": None})
            out.delivered.append({
                "b_id": row.id, "b_at": finished,
                "b_latency": int((finished - as_utc(row.created_at)).total_seconds() * 1000)})
            out.transfers.append({
                "message_id": row.id, "recipient": receipt.recipient[:200],
                "dataset": f"{row.adapter}.{row.operation}"[:100],
                "record_count": receipt.record_count or row.record_count,
                "checksum": checksum(payload_bytes(row.payload)), "delivered_at": finished})
            return "delivered"
        reason = f"{type(error).__name__}: {error}"[:2000]
        decision = self.retry[row.adapter].after_failure(row.attempts, error)
        permanent = isinstance(error, PermanentError)
        out.attempts.append({**attempt, "error": reason, "outcome":
                             AttemptOutcome.PERMANENT if permanent else AttemptOutcome.TRANSIENT})
        if decision.retry:
            out.failed.append({"b_id": row.id, "b_status": MessageStatus.FAILED, "b_error": reason,
                               "b_next": finished + timedelta(seconds=decision.delay_s)})
            return "retried"
        if not permanent:
            reason = f"retries exhausted after {row.attempts} attempts; last: {reason}"[:2000]
        out.failed.append({"b_id": row.id, "b_status": MessageStatus.DEAD, "b_error": reason,
                           "b_next": finished})
        # the error's class only: a peer's error text may echo personal data (issue 12
        # item 8); the whole reason is in the message's last_error for ops
        log.warning("message %s (%s.%s) dead-lettered: %s", row.id, row.adapter,
                    row.operation, type(error).__name__)
        return "dead"

    def _record(self, out: _Outcomes) -> None:
        mine = (T.c.id == bindparam("b_id")) & (T.c.claimed_by == self.name) & (
            T.c.status == MessageStatus.IN_FLIGHT)
        with self.engine.begin() as conn:
            if out.delivered:
                conn.execute(update(T).where(mine).values(
                    status=MessageStatus.DELIVERED, delivered_at=bindparam("b_at"),
                    latency_ms=bindparam("b_latency"), last_error=None, claimed_by=None,
                    updated_at=bindparam("b_at")), out.delivered)
            if out.failed:
                conn.execute(update(T).where(mine).values(
                    status=bindparam("b_status"), last_error=bindparam("b_error"),
                    next_attempt_at=bindparam("b_next"), claimed_by=None,
                    updated_at=bindparam("b_next")), out.failed)
            if out.released:
                conn.execute(update(T).where(mine).values(
                    status=MessageStatus.FAILED, attempts=bindparam("b_attempts"),
                    next_attempt_at=bindparam("b_next"), claimed_by=None), out.released)
            if out.attempts:
                conn.execute(insert(DeliveryAttempt), out.attempts)
            if out.transfers:
                conn.execute(insert(TransferRecord), out.transfers)

    def run_once(self) -> WorkerStats:
        """Claim one batch, deliver it and record the outcomes; the stats of that batch."""
        stats = WorkerStats()
        if not self.adapters:
            return stats
        rows, lease_end = self._claim(utcnow())
        stats.claimed = len(rows)
        out = _Outcomes()
        for row in rows:
            result = self._deliver_one(row, lease_end, out)
            if result in ("delivered", "retried", "dead"):
                setattr(stats, result, getattr(stats, result) + 1)
        if rows:
            self._record(out)
        return stats

    def run(self, stop: threading.Event | None = None, idle_exit: bool = False) -> WorkerStats:
        """Deliver until stopped (or, with ``idle_exit``, until nothing is claimable)."""
        stop = stop or threading.Event()
        total = WorkerStats()
        while not stop.is_set():
            stats = self.run_once()
            total.add(stats)
            if stats.claimed == 0:
                if idle_exit:
                    break
                stop.wait(self.settings.worker.poll_s)
        return total

