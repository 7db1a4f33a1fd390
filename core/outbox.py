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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.db.base import utcnow
from ekita.core.db.bulk import copy_rows
from ekita.core.db.conflict import insert_ignoring
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
    "iban_encrypted", "holder", "bic_encrypted", "holder_encrypted",
})

_recipients: dict[str, frozenset[str]] = {}


def declare_recipient(adapter: str, personal_fields: Iterable[str]) -> None:
    """Register an adapter as a permitted recipient with its personal-field allow-list."""
    _recipients[adapter] = frozenset(personal_fields)


def declared_recipients() -> Mapping[str, frozenset[str]]:
    return dict(_recipients)


_NESTED = (Mapping, list, tuple)
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _personal_keys(value: Any, found: set[str]) -> None:
    """Add the personal field names among ``value``'s keys, at any depth, to ``found``.

    A plain recursion with cheap type tests instead of chained generators: the bulk
    paths check every payload of a debit run (tens of thousands), so this is hot.
    """
    if isinstance(value, Mapping):
        for key, inner in value.items():
            name = key if type(key) is str else str(key)
            if name in PERSONAL_FIELDS:
                found.add(name)
            if type(inner) not in _SCALARS and isinstance(inner, _NESTED):
                _personal_keys(inner, found)
    elif isinstance(value, list | tuple):
        for inner in value:
            if type(inner) not in _SCALARS and isinstance(inner, _NESTED):
                _personal_keys(inner, found)


def check_transfer(adapter: str, payload: Mapping[str, Any] | None) -> None:
    """Refuse unregistered recipients and undeclared personal fields (M4, M6)."""
    if adapter not in _recipients:
        raise RuleViolation(f"no registered recipient {adapter!r}", record="outbox_message",
                            field="adapter", rule="data-protection M4: registered recipients only")
    found: set[str] = set()
    _personal_keys(payload, found)
    undeclared = sorted(found - _recipients[adapter])
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
    stmt = insert_ignoring(OutboxMessage.__table__, _ONE_COLUMNS, ("idempotency_key",),
                           returning="id")
    params = {"adapter": adapter, "operation": operation, "business_key": business_key,
              "idempotency_key": key, "payload": dict(payload) if payload is not None else None,
              "payload_ref": payload_ref, "record_count": record_count,
              "amount_cents": amount_cents, "status": MessageStatus.PENDING, "attempts": 0,
              "next_attempt_at": not_before or now, "created_at": now, "updated_at": now,
              "job_run_id": job_run.id if job_run is not None else None}
    new_id = session.execute(stmt, params).scalar()
    if new_id is not None:
        return Queued(new_id, key, True)
    existing = session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key))
    return Queued(existing, key, False)


#: Columns ``enqueue`` fills (one cacheable statement: ``core.db.conflict``).
_ONE_COLUMNS = ("adapter", "operation", "business_key", "idempotency_key", "payload",
                "payload_ref", "record_count", "amount_cents", "status", "attempts",
                "next_attempt_at", "created_at", "updated_at", "job_run_id")
#: One message of ``enqueue_many``: business key, payload, amount in cents (or None).
Outgoing = tuple[str, Mapping[str, Any] | None, int | None]
#: Columns ``enqueue_many`` fills; the rest keep their defaults, as with ``enqueue``.
_MANY_COLUMNS = ("adapter", "operation", "business_key", "idempotency_key", "payload",
                 "record_count", "amount_cents", "status", "attempts", "next_attempt_at",
                 "created_at", "updated_at", "job_run_id")
_SQLITE_CHUNK = 1000


def enqueue_many(
    session: Session,
    adapter: str,
    operation: str,
    items: Sequence[Outgoing],
    *,
    job_run: JobRun | None = None,
    not_before: datetime | None = None,
) -> None:
    """Store many messages of one operation in the caller's transaction, like ``enqueue``.

    The same rules as ``enqueue`` — registered recipient, ``check_transfer`` for every
    payload (before anything is written), key ``adapter:operation:business_key``, an
    existing key is kept — but a debit run enqueues tens of thousands of messages, and
    one round trip each was most of its time (decisions F7). So: PostgreSQL ``COPY``s
    the rows into a temporary table and moves them with one ``INSERT … SELECT … ON
    CONFLICT DO NOTHING``; SQLite runs ``executemany`` of ``INSERT … ON CONFLICT DO
    NOTHING``. Both run on the session's connection, so they commit or roll back with
    the caller. Each message counts one record (``record_count`` 1).
    """
    if not items:
        return
    for _key, payload, _amount in items:
        check_transfer(adapter, payload)
    if job_run is not None and job_run.id is None:
        session.flush([job_run])
    now = utcnow()
    due = not_before or now
    run_id = job_run.id if job_run is not None else None
    rows = [{"adapter": adapter, "operation": operation, "business_key": key,
             "idempotency_key": f"{adapter}:{operation}:{key}",
             "payload": payload if payload is None or type(payload) is dict else dict(payload),
             "record_count": 1,
             "amount_cents": amount, "status": MessageStatus.PENDING, "attempts": 0,
             "next_attempt_at": due, "created_at": now, "updated_at": now,
             "job_run_id": run_id}
            for key, payload, amount in items]
    if session.get_bind().dialect.name == "postgresql":
        _copy_messages(session, rows)
        return
    stmt = insert_ignoring(OutboxMessage.__table__, _MANY_COLUMNS, ("idempotency_key",))
    for start in range(0, len(rows), _SQLITE_CHUNK):
        session.execute(stmt, rows[start:start + _SQLITE_CHUNK])


def _copy_messages(session: Session, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: ``COPY`` into a staging table, then insert what is not there yet."""
    conn = session.connection()
    conn.exec_driver_sql("CREATE TEMPORARY TABLE IF NOT EXISTS outbox_stage "
                         "(LIKE outbox_message INCLUDING DEFAULTS) ON COMMIT DROP")
    conn.exec_driver_sql("TRUNCATE outbox_stage")
    copy_rows(conn, "outbox_stage", _MANY_COLUMNS, (
        tuple(json.dumps(r[c]) if c == "payload" else
              (str(r[c]) if c == "status" else r[c]) for c in _MANY_COLUMNS)
        for r in rows))
    cols = ", ".join(_MANY_COLUMNS)
    conn.exec_driver_sql(f"INSERT INTO outbox_message ({cols}) SELECT {cols} FROM "
                         "outbox_stage ON CONFLICT (idempotency_key) DO NOTHING")


def accept_inbound(session: Session, *, adapter: str, kind: str, content: bytes | None = None,
                   source: str, record_count: int = 0,
                   digest: str | None = None) -> InboxEntry | None:
    """Record an inbound exchange; None when the same content was already accepted.

    Call it in the transaction that applies the content: the entry and the changes
    commit together, so a retried or re-sent file is applied exactly once. A large file
    streamed to disk passes the ``digest`` (sha256 hex) taken while spooling instead of
    its ``content``.
    """
    if digest is None:
        if content is None:
            raise TypeError("accept_inbound needs the content or its digest")
        digest = checksum(content)
    seen = session.scalars(select(InboxEntry).where(
        InboxEntry.adapter == adapter, InboxEntry.kind == kind,
        InboxEntry.content_hash == digest)).first()
    if seen is not None:
        return None
    entry = InboxEntry(adapter=adapter, kind=kind, content_hash=digest, source=source[:300],
                       record_count=record_count)
    session.add(entry)
    session.flush()
    return entry
