"""What the hub exchanges with other systems: outbox, inbox, job runs, transfer log.

The outbox lives in the core because business changes (a debit run, a signed
contract) must write their outbound messages in their own transaction; the hub's
delivery engine only moves messages that are already safely stored.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ekita.core.db.base import Base, enum_type, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class MessageStatus(enum.StrEnum):
    PENDING = "pending"  # never tried
    IN_FLIGHT = "in_flight"  # claimed by a worker; next_attempt_at is the lease's end
    DELIVERED = "delivered"
    FAILED = "failed"  # an attempt failed; retried at next_attempt_at
    DEAD = "dead"  # permanent error or retries exhausted: the dead-letter queue


#: Statuses a worker may claim once ``next_attempt_at`` has passed. An in-flight message
#: whose lease ran out belonged to a worker that died; it is claimed again.
CLAIMABLE = (MessageStatus.PENDING, MessageStatus.FAILED, MessageStatus.IN_FLIGHT)


class AttemptOutcome(enum.StrEnum):
    DELIVERED = "delivered"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # a missed tick that the catch-up policy does not run


class JobRun(Base):
    """One run of a scheduled or manual job, with the figures reconciliation needs."""

    __tablename__ = "job_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job: Mapped[str] = mapped_column(String(80))
    scheduled_for: Mapped[datetime]  # the cron tick (or the start, for manual runs)
    trigger: Mapped[str] = mapped_column(String(20))  # schedule | catch_up | manual
    status: Mapped[RunStatus] = mapped_column(enum_type(RunStatus))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    records_in: Mapped[int] = mapped_column(default=0)
    quarantined: Mapped[int] = mapped_column(default=0)
    control_sum_cents: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(Text, default="")

    # Exactly once per tick, whatever the number of scheduler processes.
    __table_args__ = (UniqueConstraint("job", "scheduled_for"),)


class OutboxMessage(Base):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    adapter: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str] = mapped_column(String(60))
    business_key: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    payload_ref: Mapped[str | None] = mapped_column(String(500))  # a stored file instead
    record_count: Mapped[int] = mapped_column(default=1)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)  # for control sums
    status: Mapped[MessageStatus] = mapped_column(enum_type(MessageStatus))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    job_run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("job_run.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None]
    latency_ms: Mapped[int | None]  # created to delivered, for the latency histogram

    __table_args__ = (
        # The worker's claim is a range scan of this index, never a count.
        Index("ix_outbox_message_claim", "status", "next_attempt_at"),
        Index("ix_outbox_message_job_run_id", "job_run_id"),
        Index("ix_outbox_message_adapter", "adapter", "status"),
    )


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempt"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("outbox_message.id"))
    number: Mapped[int]
    worker: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    outcome: Mapped[AttemptOutcome] = mapped_column(enum_type(AttemptOutcome))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_delivery_attempt_message_id", "message_id", "number"),
                      Index("ix_delivery_attempt_finished_at", "finished_at"))


class TransferRecord(Base):
    """Transfer control (data protection M4): who received which data set, how much, which bytes."""

    __tablename__ = "transfer_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("outbox_message.id"))
    recipient: Mapped[str] = mapped_column(String(200))
    dataset: Mapped[str] = mapped_column(String(100))
    record_count: Mapped[int]
    checksum: Mapped[str] = mapped_column(String(64))  # sha256 of the payload as sent
    delivered_at: Mapped[datetime]

    __table_args__ = (Index("ix_transfer_record_message_id", "message_id"),)


class InboxEntry(Base):
    """An inbound exchange, applied once whatever the retries (unique content hash)."""

    __tablename__ = "inbox_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    adapter: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(60))
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(300))  # file name or peer reference
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    record_count: Mapped[int] = mapped_column(default=0)

    __table_args__ = (UniqueConstraint("adapter", "kind", "content_hash"),)


class Lease(Base):
    """A named lease held by one process at a time (the scheduler's)."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime]


class Cursor(Base):
    """How far a reader got in an append-only log (the event relay, incremental exports)."""

    __tablename__ = "exchange_cursor"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
