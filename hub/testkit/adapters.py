"""A plugin with one adapter, ``sandbox_peer``, that POSTs messages to a ``SandboxPeer``.

Tests, the benchmark and adapter authors use it to drive the real worker against a
real HTTP peer. Register it with ``load_plugins(settings, extra=[PLUGIN])`` and
configure ``[adapters.sandbox_peer.settings] url = "<peer url>"``. It also registers one
job, ``sandbox_peer.ping``, that enqueues one message per tick. As a script it runs a
worker or a scheduler process with that plugin (crash tests, ``bench/delivery.py``)::

    python -m ekita.hub.testkit.adapters worker --database-url URL --peer-url URL [--once]
    python -m ekita.hub.testkit.adapters scheduler --database-url URL --cron "* * * * * */1"
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ekita.hub.config import AdapterSection, RetryPolicy, Settings, WorkerSettings
from ekita.hub.delivery.http import post_json
from ekita.hub.hookspecs import hookimpl
from ekita.hub.registrations import (
    AdapterRegistration,
    AdapterSettings,
    Delivery,
    DeliveryReceipt,
    JobContext,
    JobRegistration,
)

NAME = "sandbox_peer"
#: The personal fields the sandbox adapter declares (to exercise the transfer check).
DECLARED = frozenset({"family_name", "first_name", "birth_date"})


class PeerAdapterSettings(AdapterSettings):
    url: str  # the peer's base URL; messages go to <url>/messages


def _deliver(delivery: Delivery) -> DeliveryReceipt:
    settings: Any = delivery.settings
    return post_json(f"{settings.url}/messages", delivery)


@hookimpl
def register_adapters() -> list[AdapterRegistration]:
    return [AdapterRegistration(
        name=NAME, version="1.0.0", summary="POSTs JSON to a sandbox HTTP peer (test kit)",
        config_model=PeerAdapterSettings, personal_fields=DECLARED, deliver=_deliver)]


def _ping(ctx: JobContext) -> None:
    from ekita.core.outbox import enqueue

    tick = ctx.scheduled_for.isoformat()
    enqueue(ctx.session, adapter=NAME, operation="ping", business_key=tick,
            payload={"tick": tick}, job_run=ctx.run)
    ctx.run.records_in = 1


@hookimpl
def register_jobs(settings: Settings) -> list[JobRegistration]:
    return [JobRegistration(name=f"{NAME}.ping", summary="one message per tick", run=_ping)]


PLUGIN = (NAME, sys.modules[__name__])


def settings_for(database_url: str, peer_url: str, *, retry: RetryPolicy | None = None,
                 batch_size: int = 50, lease_margin_s: float = 30.0) -> Settings:
    """Settings that load only the sandbox adapter, pointed at ``peer_url``."""
    return Settings(
        database_url=database_url, load_plugins=[NAME],
        adapters={NAME: AdapterSection(settings={"url": peer_url},
                                       retry=retry or RetryPolicy())},
        worker=WorkerSettings(batch_size=batch_size, lease_margin_s=lease_margin_s, poll_s=0.05),
    )


def main(argv: list[str] | None = None) -> int:
    import time

    from ekita.core.db.session import make_engine
    from ekita.hub.delivery.scheduler import Scheduler
    from ekita.hub.delivery.worker import Worker, worker_name
    from ekita.hub.plugins import load_plugins

    parser = argparse.ArgumentParser(prog="python -m ekita.hub.testkit.adapters",
                                     description="Worker or scheduler with the sandbox adapter.")
    parser.add_argument("mode", choices=["worker", "scheduler"])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--peer-url", default="http://127.0.0.1:9")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=5.0, help="per-attempt timeout, s")
    parser.add_argument("--lease-margin", type=float, default=2.0)
    parser.add_argument("--once", action="store_true", help="worker: exit when nothing is due")
    parser.add_argument("--cron", default="* * * * * */1", help="scheduler: ping's schedule")
    parser.add_argument("--seconds", type=float, default=4.0, help="scheduler: run this long")
    args = parser.parse_args(argv)
    retry = RetryPolicy(timeout_s=args.timeout, backoff_initial_s=0.05, backoff_max_s=0.5,
                        jitter_s=0.05, max_attempts=50)
    settings = settings_for(args.database_url, args.peer_url, retry=retry,
                            batch_size=args.batch_size, lease_margin_s=args.lease_margin)
    engine = make_engine(settings.database_url)
    if args.mode == "scheduler":
        settings.adapters[NAME].schedules["ping"] = args.cron
        settings.scheduler.lease_s = 1.0
        scheduler = Scheduler(engine, load_plugins(settings, [PLUGIN]), settings, worker_name())
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            scheduler.tick()
            time.sleep(0.1)
        return 0
    worker = Worker(engine, load_plugins(settings, [PLUGIN]), settings)
    stats = worker.run(idle_exit=args.once)
    print(f"delivered={stats.delivered} retried={stats.retried} dead={stats.dead}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
