"""Issue 4 reliability with real processes: (d) SIGKILL, (e) two workers, (f) two schedulers."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from itertools import pairwise

import pytest
from sqlalchemy import func, select

from ekita.core.models.exchange import (
    DeliveryAttempt,
    JobRun,
    MessageStatus,
    OutboxMessage,
    RunStatus,
)
from ekita.core.outbox import declare_recipient, enqueue
from ekita.hub.delivery import ops
from ekita.hub.testkit.adapters import DECLARED, NAME
from tests.conftest import work
from tests.delivery_kit import deliver_all, make_worker, peer, url_of


@pytest.fixture(autouse=True)
def _recipient() -> None:
    declare_recipient(NAME, DECLARED)


def _spawn(mode: str, engine, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ekita.hub.testkit.adapters", mode,
         "--database-url", url_of(engine), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _fill(engine, n: int) -> int:
    with work(engine) as s:
        run = JobRun(job="test.bulk", scheduled_for=ops.utcnow(), trigger="manual",
                     status=RunStatus.SUCCEEDED, records_in=n)
        s.add(run)
        s.flush()
        for i in range(n):
            enqueue(s, adapter=NAME, operation="bulk", business_key=str(i), payload={"i": i},
                    job_run=run)
        s.commit()
        return run.id


@pytest.mark.slow
def test_d_worker_killed_at_random_moments_loses_nothing_and_doubles_nothing(engine):
    """Issue 4 reliability (d) / data-protection M7: SIGKILL in 5 rounds; every key once."""
    run_id = _fill(engine, 1000)
    rng = random.Random(4)
    with peer() as p:
        for _round in range(5):
            seen = len(p.received)
            proc = _spawn("worker", engine, "--peer-url", p.url, "--batch-size", "10",
                          "--timeout", "0.5", "--lease-margin", "0.5")
            deadline = time.monotonic() + 30
            while len(p.received) == seen and time.monotonic() < deadline:
                time.sleep(0.01)  # kill only once the worker is delivering
            time.sleep(rng.uniform(0.0, 0.3))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        before_restart = sum(p.effects.values())
        # The restarted worker takes over, including the killed workers' expired claims.
        deliver_all(make_worker(engine, p, name="final"), deadline_s=90)
        effects = p.effects
    with work(engine) as s:
        keys = s.scalars(select(OutboxMessage.idempotency_key)).all()
        statuses = set(s.scalars(select(OutboxMessage.status)).all())
        reconciliation = ops.job_run(s, run_id)
    assert statuses == {MessageStatus.DELIVERED}
    assert len(keys) == 1000
    assert all(effects[k] == 1 for k in keys)
    assert sum(effects.values()) == 1000
    assert 0 < before_restart < 1000, "the kills did not interrupt delivery"
    assert reconciliation["balanced"]


@pytest.mark.slow
def test_e_two_workers_on_postgresql_never_deliver_one_message_twice(engine):
    """Issue 4 reliability (e): SKIP LOCKED claims; both workers work; each key sent once."""
    if engine.dialect.name != "postgresql":
        pytest.skip("several workers need PostgreSQL")
    _fill(engine, 5000)
    with peer() as p:
        procs = [_spawn("worker", engine, "--peer-url", p.url, "--once") for _ in range(2)]
        for proc in procs:
            proc.wait(120)
            assert proc.returncode == 0, proc.stderr.read()
        deliver_all(make_worker(engine, p, name="final"))
        received = p.received
    with work(engine) as s:
        workers = s.scalars(select(DeliveryAttempt.worker).distinct()).all()
        delivered = s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == MessageStatus.DELIVERED))
    keys = [r.key for r in received]
    assert delivered == 5000
    assert len(keys) == len(set(keys)) == 5000, "a message was sent twice"
    assert len([w for w in workers if w != "final"]) == 2, workers


@pytest.mark.slow
def test_f_two_scheduler_processes_run_each_tick_once(engine):
    """Issue 4 reliability (f): one active scheduler; each tick runs its job once."""
    procs = [_spawn("scheduler", engine, "--cron", "* * * * * */1", "--seconds", "5")
             for _ in range(2)]
    for proc in procs:
        proc.wait(60)
        assert proc.returncode == 0, proc.stderr.read()
    with work(engine) as s:
        runs = s.scalars(select(JobRun).where(JobRun.job == f"{NAME}.ping")
                         .order_by(JobRun.scheduled_for)).all()
        messages = s.scalar(select(func.count()).select_from(OutboxMessage))
    ticks = [r.scheduled_for for r in runs]
    assert len(ticks) >= 3
    assert len(set(ticks)) == len(ticks)
    assert all(r.status == RunStatus.SUCCEEDED for r in runs)
    assert messages == len(runs)
    gaps = {(b - a).total_seconds() for a, b in pairwise(ticks)}
    assert gaps == {1.0}, f"a tick was missed or doubled: {gaps}"
