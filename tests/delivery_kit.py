"""Helpers for the delivery-engine tests: a worker wired to a sandbox peer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, func, select

from ekita.core.models.exchange import MessageStatus, OutboxMessage
from ekita.core.outbox import enqueue
from ekita.hub.config import RetryPolicy
from ekita.hub.delivery.worker import Worker, WorkerStats
from ekita.hub.plugins import load_plugins
from ekita.hub.testkit.adapters import NAME, PLUGIN, settings_for
from ekita.hub.testkit.peer import SandboxPeer
from tests.conftest import work

FAST = RetryPolicy(max_attempts=4, backoff_initial_s=0.01, backoff_max_s=0.05, jitter_s=0.0,
                   timeout_s=1.0)


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def make_worker(engine: Engine, peer: SandboxPeer, retry: RetryPolicy = FAST,
                name: str = "w1", batch_size: int = 50) -> Worker:
    settings = settings_for(url_of(engine), peer.url, retry=retry, batch_size=batch_size,
                            lease_margin_s=1.0)
    return Worker(engine, load_plugins(settings, [PLUGIN]), settings, name)


def deliver_all(worker: Worker, deadline_s: float = 20.0) -> WorkerStats:
    """Run the worker until no message is pending, failed or in flight."""
    total = WorkerStats()
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        total.add(worker.run_once())
        with work(worker.engine) as s:
            open_ = s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status.in_([MessageStatus.PENDING, MessageStatus.FAILED,
                                          MessageStatus.IN_FLIGHT])))
        if not open_:
            return total
        time.sleep(0.02)
    raise AssertionError("messages still open after the deadline")


def put(engine: Engine, n: int = 1, start: int = 0, **extra: object) -> list[int]:
    with work(engine) as s:
        ids = [enqueue(s, adapter=NAME, operation="notice", business_key=f"k{i}",
                       payload={"n": i}, **extra) for i in range(start, start + n)]
        s.commit()
        return [m.id for m in ids]


@contextmanager
def peer() -> Iterator[SandboxPeer]:
    with SandboxPeer() as p:
        yield p
