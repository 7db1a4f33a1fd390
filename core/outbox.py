"""Writing outbound messages and recording inbound ones, inside the caller's transaction.

``enqueue`` is how a business change says "this must reach adapter X": the message is
stored in the same transaction as the change, so it exists exactly when the change does
(transactional outbox). The idempotency key is deterministic, so re-running a job that
enqueues the same business facts adds nothing.

Transfer control (data-protection M4, M6): only registered recipients receive messages,
and a payload may carry only the personal fields its adapter declared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as lite_insert
from sqlalchemy.orm import Session

from ekita.core.db.base import utcnow
from ekita.core.errors import RuleViolation
from ekita.core.models.exchange import InboxEntry, JobRun, MessageStatus, OutboxMessage

#: Field names that carry personal or social data when they appear in a payload. A test
#: checks that every column of the personal-data models is either listed here or
#: deliberately exempt, so a new column cannot slip out unnoticed.
PERSONAL_FIELDS = frozenset({
    "family_name", "first_name", "birth_date", "sex", "street", "house_no", "postcode",
    "town", "stadtteil_nr", "pkn", "family_number", "iban", "bic", "account_holder",
    "email", "phone", "health_notes", "emergency_contact", "employer", "integration_need",
    "single_parent", "excluded_from_count", "school_deferred", "confession", "income",
    "custody", "birth_name", "nationality", "notification_channel",
    "iban_encrypted", "holder",
})

_recipients: dict[str, frozenset[str]] = {}


def declare_recipient(adapter: str, personal_fields: Iterable[str]) -> None:
    """Register an adapter as a permitted recipient with its personal-field allow-list."""
    _recipients[adapter] = frozenset(personal_fields)


def declared_recipients() -> Mapping[str, frozenset[str]]:
    return dict(_recipients)


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield str(key)
            yield from _keys(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _keys(inner)


def check_transfer(adapter: str, payload: Mapping[str, Any] | None) -> None:
    """Refuse unregistered recipients and undeclared personal fields (M4, M6)."""
    if adapter not in _recipients:
        raise RuleViolation(f"no registered recipient {adapter!r}", record="outbox_message",
                            field="adapter", rule="data-protection M4: registered recipients only")
    allowed = _recipients[adapter]
    undeclared = sorted({k for k in _keys(payload) if k in PERSONAL_FIELDS} - allowed)
    if undeclared:
        raise RuleViolation(
            f"adapter {adapter!r} did not declare the personal field(s) {', '.join(undeclared)}",
            record="outbox_message", field=undeclared[0],
            rule="data-protection M6: an adapter receives only the fields it declares")


def payload_bytes(payload: Mapping[str, Any] | None) -> bytes:
    """The canonical bytes of a payload: what is sent and what the transfer log hashes."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str,
                      ensure_ascii=False).encode()


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Queued:
    """The stored message's id and key; ``created`` is False when the key existed."""

    id: int
    idempotency_key: str
    created: bool


def enqueue(
    session: Session,
    *,
    adapter: str,
    operation: str,
    business_key: str,
    payload: Mapping[str, Any] | None = None,
    payload_ref: str | None = None,
    idempotency_key: str | None = None,
    job_run: JobRun | None = None,
    record_count: int = 1,
    amount_cents: int | None = None,
    not_before: datetime | None = None,
) -> Queued:
    """Store one outbound message in the caller's transaction; an existing key is kept.

    The default idempotency key is ``adapter:operation:business_key``; pass your own when
    the business key alone does not identify the fact (for example a correction number).
    One ``INSERT … ON CONFLICT DO NOTHING`` round trip: it sits inside business
    transactions, so it must stay cheap.
    """
    check_transfer(adapter, payload)
    key = idempotency_key or f"{adapter}:{operation}:{business_key}"
    if job_run is not None and job_run.id is None:
        session.flush([job_run])
    now = utcnow()
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else lite_insert
    stmt = (dialect_insert(OutboxMessage.__table__).values(
        adapter=adapter, operation=operation, business_key=business_key, idempotency_key=key,
        payload=dict(payload) if payload is not None else None, payload_ref=payload_ref,
        record_count=record_count, amount_cents=amount_cents, status=MessageStatus.PENDING,
        attempts=0, next_attempt_at=not_before or now, created_at=now, updated_at=now,
        job_run_id=job_run.id if job_run is not None else None,
    ).on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxMessage.__table__.c.id))
    new_id = session.execute(stmt).scalar()
    if new_id is not None:
        return Queued(new_id, key, True)
    existing = session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key))
    return Queued(existing, key, False)


def accept_inbound(session: Session, *, adapter: str, kind: str, content: bytes, source: str,
                   record_count: int = 0) -> InboxEntry | None:
    """Record an inbound exchange; None when the same content was already accepted.

    Call it in the transaction that applies the content: the entry and the changes
    commit together, so a retried or re-sent file is applied exactly once.
    """
    digest = checksum(content)
    seen = session.scalars(select(InboxEntry).where(
        InboxEntry.adapter == adapter, InboxEntry.kind == kind,
        InboxEntry.content_hash == digest)).first()
    if seen is not None:
        return None
    entry = InboxEntry(adapter=adapter, kind=kind, content_hash=digest, source=source,
                       record_count=record_count)
    session.add(entry)
    session.flush()
    return entry
