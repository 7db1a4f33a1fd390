"""Writing receivable lines and their SAP-FI messages in bulk, inside the run's transaction.

A debit run writes tens of thousands of lines and messages; one round trip each was
most of its time (decisions F7). Lines go in with ``COPY`` on PostgreSQL and
``executemany`` on SQLite; messages through ``ekita.core.outbox.enqueue_many`` (the
rules of ``enqueue``, in bulk). Both run on the session's connection, so everything
commits or rolls back with the run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ekita.core.db.bulk import copy_rows
from ekita.core.models.exchange import JobRun
from ekita.core.models.fees import ReceivableLine
from ekita.core.outbox import enqueue, enqueue_many

ADAPTER = "sap_fi"
CHUNK = 1000
LINE_COLUMNS = ("external_ref", "pkn", "contract_id", "payer_guardian_id", "cost_centre",
                "period", "fee_type", "line_kind", "correction_no", "amount_cents",
                "due_date", "run_id")


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


def post_lines(session: Session, lines: Sequence[dict[str, Any]], job_run: JobRun | None
               ) -> None:
    """Store the lines and one ``receivable`` message each (same transaction)."""
    if not lines:
        return
    if job_run is not None and job_run.id is None:
        session.flush([job_run])
    items = [(business_key(ln), message_payload(ln), ln["amount_cents"]) for ln in lines]
    if _postgres(session):
        copy_rows(session.connection(), "receivable_line", LINE_COLUMNS,
                  (tuple(str(ln[c]) if c in ("fee_type", "line_kind") else ln[c]
                         for c in LINE_COLUMNS) for ln in lines))
    else:
        for start in range(0, len(lines), CHUNK):
            session.execute(insert(ReceivableLine.__table__), list(lines[start:start + CHUNK]))
    enqueue_many(session, ADAPTER, "receivable", items, job_run=job_run)


def post_messages(session: Session, operation: str, rows: Sequence[tuple[str, dict[str, Any]]],
                  job_run: JobRun | None) -> None:
    """Many messages of one operation (business key, payload), keys as ``enqueue``'s."""
    enqueue_many(session, ADAPTER, operation, [(key, payload, None) for key, payload in rows],
                 job_run=job_run)


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
