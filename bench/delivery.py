"""Delivery throughput on PostgreSQL: 1 and 4 workers against a bare httpx loop.

Usage: ``python bench/delivery.py`` (PostgreSQL from ``EKITA_BENCH_DATABASE_URL``,
default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``; a scratch database is
created and dropped). The sandbox peer runs as its own process. The floor is a bare
httpx loop POSTing the same payloads to the same peer; the worker goal is at least 50 %
of it. ``outbox_write_p95_ms`` is the p95 of what ``enqueue`` adds to a small business
transaction (the same transaction with and without the message). Last line: JSON.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import uuid

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from ekita.core.access import Principal
from ekita.core.db.migrate import upgrade
from ekita.core.db.session import make_engine, normalise_url, unit_of_work
from ekita.core.models.exchange import MessageStatus, OutboxMessage
from ekita.core.models.people import Family
from ekita.core.outbox import declare_recipient, enqueue, payload_bytes
from ekita.hub.testkit.adapters import DECLARED, NAME
from ekita.hub.testkit.remote import spawn_peer

MESSAGES = int(os.environ.get("EKITA_BENCH_MESSAGES", "10000"))
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SYSTEM = Principal.system("bench")


def payload(i: int) -> dict:
    return {"debtor": f"{i:08d}", "period": "2027-03", "amount_cents": 21350, "line": i}


def fill(engine, prefix: str) -> None:
    with unit_of_work(engine, SYSTEM) as s:
        for i in range(MESSAGES):
            enqueue(s, adapter=NAME, operation="debit", business_key=f"{prefix}{i}",
                    payload=payload(i))
        s.commit()


def run_workers(url: str, peer_url: str, n: int, engine) -> float:
    started = time.perf_counter()
    procs = [subprocess.Popen(
        [sys.executable, "-m", "ekita.hub.testkit.adapters", "worker", "--database-url", url,
         "--peer-url", peer_url, "--once", "--batch-size", "100"],
        stdout=subprocess.DEVNULL) for _ in range(n)]
    for proc in procs:
        proc.wait()
    elapsed = time.perf_counter() - started
    with unit_of_work(engine, SYSTEM) as s:
        delivered = s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == MessageStatus.DELIVERED))
    assert delivered == MESSAGES, f"{delivered} of {MESSAGES} delivered"
    return elapsed


def floor(peer_url: str) -> float:
    with httpx.Client() as client:
        started = time.perf_counter()
        for i in range(MESSAGES):
            client.post(f"{peer_url}/messages", content=payload_bytes(payload(i)),
                        headers={"Content-Type": "application/json",
                                 "Idempotency-Key": f"floor:{i}"}).raise_for_status()
        return time.perf_counter() - started


def outbox_write_overhead(engine, samples: int = 500) -> dict[str, float]:
    def txn(with_message: bool, i: int) -> float:
        started = time.perf_counter()
        with unit_of_work(engine, SYSTEM) as s:
            s.add(Family(number=f"{(i * 2 + with_message) % 10**6:06d}"))
            if with_message:
                enqueue(s, adapter=NAME, operation="family", business_key=f"w{i}",
                        payload={"n": i})
            s.commit()
        return (time.perf_counter() - started) * 1000

    plain, with_outbox = [], []
    for i in range(samples):
        plain.append(txn(False, i))
        with_outbox.append(txn(True, i))
    p95 = lambda xs: statistics.quantiles(xs, n=20)[-1]  # noqa: E731
    return {"txn_p95_ms": round(p95(plain), 3), "txn_with_outbox_p95_ms": round(
        p95(with_outbox), 3), "outbox_write_p95_ms": round(max(0.0, p95(with_outbox) - p95(
            plain)), 3)}


def main() -> int:
    base = normalise_url(os.environ.get("EKITA_BENCH_DATABASE_URL", DEFAULT_PG))
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    name = f"ekita_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    declare_recipient(NAME, DECLARED)
    result: dict = {"messages": MESSAGES}
    try:
        engine = make_engine(url)
        upgrade(engine)
        with spawn_peer() as peer:
            floor_s = floor(peer.url)
            result["floor_msgs_per_s"] = round(MESSAGES / floor_s, 1)
            for workers in (1, 4):
                fill(engine, f"w{workers}-")
                elapsed = run_workers(url, peer.url, workers, engine)
                result[f"workers_{workers}_msgs_per_s"] = round(MESSAGES / elapsed, 1)
                with engine.begin() as conn:
                    conn.execute(text("TRUNCATE outbox_message, delivery_attempt, "
                                      "transfer_record"))
        result.update(outbox_write_overhead(engine))
        with engine.connect() as conn:
            result["postgres"] = conn.exec_driver_sql("SHOW server_version").scalar()
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    result["worker_vs_floor"] = round(result["workers_1_msgs_per_s"]
                                      / result["floor_msgs_per_s"], 3)
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                         "platform": platform.platform()}
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
