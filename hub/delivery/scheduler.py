"""The scheduler: cron schedules in Europe/Berlin, one active instance, one run per tick.

Exactly-once has two locks: a database lease (``lease`` row ``scheduler``) so only one
process schedules at a time, and the unique ``(job, scheduled_for)`` of ``job_run``, so
even two processes that both believe they hold the lease cannot run one tick twice.
After downtime the missed ticks collapse into one catch-up run of the latest tick (or
one ``skipped`` record when catch-up is off), never one run per missed tick.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ekita.core.access import Principal
from ekita.core.db.base import as_utc, utcnow
from ekita.core.db.session import unit_of_work
from ekita.core.models.exchange import JobRun, Lease, RunStatus
from ekita.hub.config import Settings
from ekita.hub.plugins import LoadedPlugins
from ekita.hub.registrations import JobContext, JobRegistration

log = logging.getLogger("ekita.scheduler")
LEASE_NAME = "scheduler"


@dataclass(frozen=True)
class Schedule:
    job: str
    cron: str


def schedules(settings: Settings, plugins: LoadedPlugins) -> list[Schedule]:
    """The configured schedules of registered jobs, falling back to each job's default."""
    configured = dict(settings.schedules)
    for adapter, section in settings.adapters.items():
        configured.update({f"{adapter}.{name}": cron for name, cron in section.schedules.items()})
    found = [Schedule(name, configured.get(name) or job.default_schedule or "")
             for name, job in plugins.jobs.items()]
    return sorted((s for s in found if s.cron), key=lambda s: s.job)


def due_tick(cron: str, last: datetime | None, now: datetime, tz: ZoneInfo
             ) -> tuple[datetime, bool] | None:
    """The latest tick in (last, now] and whether it is the only one (None: nothing due).

    Without a previous run only the latest tick counts, so a fresh install does not
    replay history.
    """
    latest = croniter(cron, now.astimezone(tz)).get_prev(datetime)
    if last is not None and latest <= last:
        return None
    if last is None:
        return latest.astimezone(UTC), True
    previous = croniter(cron, latest).get_prev(datetime)
    return latest.astimezone(UTC), previous <= last


def next_tick(cron: str, now: datetime, tz: ZoneInfo) -> datetime:
    return croniter(cron, now.astimezone(tz)).get_next(datetime)


def acquire_lease(engine: Engine, holder: str, now: datetime, seconds: float) -> bool:
    """Take or renew the scheduler lease; False while another live process holds it."""
    expires = now + timedelta(seconds=seconds)
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    table = Lease.__table__
    stmt = insert(table).values(name=LEASE_NAME, holder=holder, expires_at=expires)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.name],
        set_={"holder": holder, "expires_at": expires},
        where=(table.c.holder == holder) | (table.c.expires_at < now),
    ).returning(table.c.holder)
    with engine.begin() as conn:
        return conn.execute(stmt).scalar() == holder


def run_job(engine: Engine, settings: Settings, plugins: LoadedPlugins, job: JobRegistration,
            scheduled_for: datetime, trigger: str) -> JobRun | None:
    """Run one job for one tick; None when another process already ran that tick."""
    principal = Principal.system("scheduler", job.name)
    try:
        with unit_of_work(engine, principal) as session:
            run = JobRun(job=job.name, scheduled_for=scheduled_for, trigger=trigger,
                         status=RunStatus.RUNNING)
            session.add(run)
            session.commit()
            run_id = run.id
    except IntegrityError:
        return None
    try:
        with unit_of_work(engine, principal) as session:
            run = session.get_one(JobRun, run_id)
            job.run(JobContext(session=session, run=run, scheduled_for=scheduled_for,
                               settings=settings, hooks=plugins.manager.hook))
            run.status, run.finished_at = RunStatus.SUCCEEDED, utcnow()
            session.commit()
    except Exception as exc:  # the run is recorded as failed with its reason
        log.error("job %s (%s) failed: %s", job.name, scheduled_for, type(exc).__name__)
        with unit_of_work(engine, principal) as session:
            run = session.get_one(JobRun, run_id)
            run.status, run.finished_at = RunStatus.FAILED, utcnow()
            run.detail = f"{type(exc).__name__}: {exc}"[:2000]
            session.commit()
    return run


def last_runs(session: Session) -> dict[str, datetime]:
    rows = session.execute(select(JobRun.job, func.max(JobRun.scheduled_for)).group_by(JobRun.job))
    return {job: as_utc(at) for job, at in rows}


class Scheduler:
    def __init__(self, engine: Engine, plugins: LoadedPlugins, settings: Settings,
                 holder: str) -> None:
        self.engine, self.plugins, self.settings, self.holder = engine, plugins, settings, holder
        self.tz = ZoneInfo(settings.timezone)

    def tick(self, now: datetime | None = None) -> list[JobRun]:
        """One scheduling pass: run every job whose tick is due, if this process leads."""
        now = now or utcnow()
        cfg = self.settings.scheduler
        if not acquire_lease(self.engine, self.holder, now, cfg.lease_s):
            return []
        with unit_of_work(self.engine, Principal.system("scheduler")) as session:
            last = last_runs(session)
        runs: list[JobRun] = []
        for schedule in schedules(self.settings, self.plugins):
            due = due_tick(schedule.cron, last.get(schedule.job), now, self.tz)
            if due is None:
                continue
            tick, only_one = due
            late = (now - tick).total_seconds() > cfg.misfire_grace_s
            if (late or not only_one) and not cfg.catch_up:
                run = self._skip(schedule.job, tick)
            else:
                trigger = "catch_up" if late or not only_one else "schedule"
                run = run_job(self.engine, self.settings, self.plugins,
                              self.plugins.jobs[schedule.job], tick, trigger)
            if run is not None:
                runs.append(run)
        return runs

    def _skip(self, job: str, tick: datetime) -> JobRun | None:
        try:
            with unit_of_work(self.engine, Principal.system("scheduler")) as session:
                run = JobRun(job=job, scheduled_for=tick, trigger="schedule",
                             status=RunStatus.SKIPPED, finished_at=utcnow(),
                             detail="missed while the scheduler was down; catch-up is off")
                session.add(run)
                session.commit()
                return run
        except IntegrityError:
            return None

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        while not stop.is_set():
            self.tick()
            stop.wait(self.settings.scheduler.poll_s)
