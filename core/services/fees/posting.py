"""Writing receivable lines and their SAP-FI messages in bulk, inside the run's transaction.

``ekita.core.outbox.enqueue`` costs one round trip per message; a debit run writes tens
of thousands. The functions here do the same thing — transfer check, the same key format
``sap_fi:{operation}:{business key}``, an existing key is kept — in bulk (decisions F7):
on PostgreSQL with ``COPY`` (messages through a temporary table and
``INSERT … SELECT … ON CONFLICT DO NOTHING``), on SQLite with ``executemany``. Both
run on the session's connection, so everything commits or rolls back with the run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects.sqlite import insert as lite_insert
from sqlalchemy.orm import Session

from ekita.core.db.base import utcnow
from ekita.core.models.exchange import JobRun, MessageStatus, OutboxMessage
from ekita.core.models.fees import ReceivableLine
from ekita.core.outbox import check_transfer, enqueue

ADAPTER = "sap_fi"
CHUNK = 1000
LINE_COLUMNS = ("external_ref", "pkn", "contract_id", "payer_guardian_id", "cost_centre",
                "period", "fee_type", "line_kind", "correction_no", "amount_cents",
                "due_date", "run_id")
MESSAGE_COLUMNS = ("adapter", "operation", "business_key", "idempotency_key", "payload",
                   "record_count", "amount_cents", "status", "attempts", "next_attempt_at",
                   "created_at", "updated_at", "job_run_id")


def business_key(line: dict[str, Any]) -> str:
    return (f"{line['period']}:{line['pkn']}:{line['contract_id']}:{line['fee_type']}:"
            f"{line['line_kind']}:{line['correction_no']}")


def external_ref(line: dict[str, Any]) -> str:
    return business_key(line).replace(":", "-")


def message_payload(line: dict[str, Any]) -> dict[str, Any]:
    due: date = line["due_date"]
    return {"external_ref": line["external_ref"], "pkn": line["pkn"],
            "contract_id": line["contract_id"], "cost_centre": line["cost_centre"],
            "period": line["period"], "fee_type": str(line["fee_type"]),
            "line_kind": str(line["line_kind"]), "correction_no": line["correction_no"],
            "amount_cents": line["amount_cents"], "due_date": due.isoformat(),
            "run_id": line.get("run_id")}


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _copy(session: Session, table: str, columns: Sequence[str], rows: Any) -> None:
    driver = session.connection().connection.driver_connection
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _message_rows(operation: str, items: Sequence[tuple[str, dict[str, Any], int | None]],
                  job_run: JobRun | None, now: datetime) -> list[dict[str, Any]]:
    return [{"adapter": ADAPTER, "operation": operation, "business_key": key,
             "idempotency_key": f"{ADAPTER}:{operation}:{key}", "payload": payload,
             "record_count": 1, "amount_cents": amount, "status": MessageStatus.PENDING,
             "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now,
             "job_run_id": job_run.id if job_run is not None else None}
            for key, payload, amount in items]


def _write_messages(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert messages; a message whose idempotency key exists is left as it is."""
    if not rows:
        return
    if _postgres(session):
        conn = session.connection()
        conn.exec_driver_sql("CREATE TEMPORARY TABLE IF NOT EXISTS fee_outbox_stage "
                             "(LIKE outbox_message INCLUDING DEFAULTS) ON COMMIT DROP")
        conn.exec_driver_sql("TRUNCATE fee_outbox_stage")
        _copy(session, "fee_outbox_stage", MESSAGE_COLUMNS, (
            tuple(json.dumps(r[c]) if c == "payload" else
                  (str(r[c]) if c == "status" else r[c]) for c in MESSAGE_COLUMNS)
            for r in rows))
        cols = ", ".join(MESSAGE_COLUMNS)
        conn.exec_driver_sql(f"INSERT INTO outbox_message ({cols}) SELECT {cols} FROM "
                             "fee_outbox_stage ON CONFLICT (idempotency_key) DO NOTHING")
        return
    stmt = lite_insert(OutboxMessage.__table__).on_conflict_do_nothing(
        index_elements=["idempotency_key"])
    for start in range(0, len(rows), CHUNK):
        session.execute(stmt, rows[start:start + CHUNK])


def post_lines(session: Session, lines: Sequence[dict[str, Any]], job_run: JobRun | None
               ) -> None:
    """Store the lines and one ``receivable`` message each (same transaction)."""
    if not lines:
        return
    if job_run is not None and job_run.id is None:
        session.flush([job_run])
    check_transfer(ADAPTER, message_payload(lines[0]))  # every payload has the same keys
    if _postgres(session):
        _copy(session, "receivable_line", LINE_COLUMNS,
              (tuple(str(ln[c]) if c in ("fee_type", "line_kind") else ln[c]
                     for c in LINE_COLUMNS) for ln in lines))
    else:
        for start in range(0, len(lines), CHUNK):
            session.execute(insert(ReceivableLine.__table__), list(lines[start:start + CHUNK]))
    items = [(business_key(ln), message_payload(ln), ln["amount_cents"]) for ln in lines]
    _write_messages(session, _message_rows("receivable", items, job_run, utcnow()))


def post_messages(session: Session, operation: str, rows: Sequence[tuple[str, dict[str, Any]]],
                  job_run: JobRun | None) -> None:
    """Many messages of one operation (business key, payload), keys as ``enqueue``'s."""
    items = [(key, payload, None) for key, payload in rows]
    _write_messages(session, _message_rows(operation, items, job_run, utcnow()))


def post_trailer(session: Session, run_id: int, period: str, count: int, total: int,
                 job_run: JobRun | None) -> None:
    """The BatchTrailer (interfaces.md §5), enqueued last in the run."""
    enqueue(session, adapter=ADAPTER, operation="batch_trailer", business_key=f"{period}:{run_id}",
            payload={"run_id": run_id, "period": period, "line_count": count, "sum_cents": total},
            job_run=job_run, amount_cents=total, record_count=count)


def debtor_version(payload: dict[str, Any]) -> str:
    """Short hash of the debtor data: a changed address or mandate is a new version."""
    raw = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:12]
