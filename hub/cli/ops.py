"""``ekita-hub worker``, ``ekita-hub scheduler`` and the operators' ``ekita-hub ops …``."""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ekita.core.access import Principal
from ekita.core.db.migrate import upgrade
from ekita.core.db.session import make_engine, unit_of_work
from ekita.core.models.exchange import MessageStatus
from ekita.hub.config import load_settings
from ekita.hub.delivery import ops
from ekita.hub.delivery.scheduler import Scheduler
from ekita.hub.delivery.worker import Worker, worker_name
from ekita.hub.plugins import load_plugins

ops_app = typer.Typer(help="Watch and repair deliveries.", no_args_is_help=True)
out = Console()
OPS = Principal.system("cli", "ops")


def _stop_on_signals() -> threading.Event:
    """SIGTERM/SIGINT finish the current batch, then stop."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def worker(
    once: Annotated[bool, typer.Option(help="stop when nothing is due")] = False,
    name: Annotated[str | None, typer.Option(help="worker name in the attempt log")] = None,
) -> None:
    """Deliver outbox messages through their adapters until stopped."""
    settings = load_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    if engine.dialect.name == "sqlite":
        out.print("SQLite: run one worker only (several need PostgreSQL)", style="yellow")
    w = Worker(engine, load_plugins(settings), settings, name or worker_name())
    stats = w.run(_stop_on_signals(), idle_exit=once)
    out.print(f"claimed {stats.claimed}, delivered {stats.delivered}, "
              f"retried {stats.retried}, dead {stats.dead}")


def scheduler(
    once: Annotated[bool, typer.Option(help="one scheduling pass, then exit")] = False,
) -> None:
    """Run scheduled jobs; only one scheduler process is active at a time."""
    settings = load_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    s = Scheduler(engine, load_plugins(settings), settings, worker_name())
    if once:
        for run in s.tick():
            out.print(f"{run.job} {run.scheduled_for:%Y-%m-%d %H:%M} {run.status}")
        return
    s.run(_stop_on_signals())


def _session() -> Any:
    return unit_of_work(make_engine(load_settings().database_url), OPS)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    out.print(table)


Status = Annotated[MessageStatus | None, typer.Option(help="message status")]
Adapter = Annotated[str | None, typer.Option(help="adapter name")]
JobRunId = Annotated[int | None, typer.Option("--job-run", help="job run id")]


@ops_app.command("messages")
def messages(status: Status = None, adapter: Adapter = None, job_run: JobRunId = None,
             limit: int = 50) -> None:
    """List outbox messages, newest first."""
    with _session() as session:
        rows = ops.list_messages(session, ops.MessageFilter(status=status, adapter=adapter,
                                                            job_run_id=job_run), limit)
    _table(rows, ["id", "adapter", "operation", "business_key", "status", "attempts",
                  "last_error"])


@ops_app.command("show")
def show(message_id: int) -> None:
    """One message with every attempt (payload values are never shown)."""
    with _session() as session:
        out.print_json(json.dumps(ops.message_detail(session, message_id), default=str))


@ops_app.command("dead")
def dead(adapter: Adapter = None, limit: int = 50) -> None:
    """The dead-letter queue."""
    messages(MessageStatus.DEAD, adapter, None, limit)


@ops_app.command("replay")
def replay(
    ids: Annotated[list[int] | None, typer.Argument(help="message ids")] = None,
    status: Status = None, adapter: Adapter = None, job_run: JobRunId = None,
) -> None:
    """Re-queue dead or delivered messages by id, by filter or by job run."""
    with _session() as session:
        count = ops.replay(session, OPS, ids=ids or (), flt=ops.MessageFilter(
            status=status, adapter=adapter, job_run_id=job_run))
        session.commit()
    out.print(f"re-queued {count} message(s)")


@ops_app.command("runs")
def runs(job: Annotated[str | None, typer.Option(help="job name")] = None,
         limit: int = 20) -> None:
    """Job runs with their reconciliation; unbalanced runs are flagged."""
    with _session() as session:
        rows = ops.job_runs(session, job, limit)
    for row in rows:
        row["balanced"] = "yes" if row["balanced"] else "NO"
    _table(rows, ["id", "job", "scheduled_for", "status", "records_in", "messages_produced",
                  "delivered", "dead", "quarantined", "in_flight", "control_sum_cents",
                  "balanced"])


@ops_app.command("health")
def health() -> None:
    """Per adapter: last success, error rate over 24 h, messages by status."""
    settings = load_settings()
    with _session() as session:
        rows = ops.adapter_health(session, list(load_plugins(settings).adapters))
    _table(rows, ["adapter", "last_success", "attempts_window", "error_rate", "messages"])


@ops_app.command("schedules")
def schedules_cmd() -> None:
    """Configured schedules with their next and last run."""
    from zoneinfo import ZoneInfo

    from ekita.core.db.base import utcnow
    from ekita.hub.delivery.scheduler import last_runs, next_tick, schedules

    settings = load_settings()
    plugins = load_plugins(settings)
    with _session() as session:
        last = last_runs(session)
    tz = ZoneInfo(settings.timezone)
    _table([{"job": s.job, "cron": s.cron, "next": next_tick(s.cron, utcnow(), tz),
             "last": last.get(s.job)} for s in schedules(settings, plugins)],
           ["job", "cron", "next", "last"])


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(scheduler)
    app.add_typer(ops_app, name="ops")
