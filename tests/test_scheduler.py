"""The scheduler (issue 4 item 6; schedules.md): cron in Europe/Berlin, lease, catch-up once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ekita.core.models.exchange import JobRun, OutboxMessage, RunStatus
from ekita.core.outbox import declare_recipient
from ekita.hub.config import SchedulerSettings
from ekita.hub.delivery.scheduler import Scheduler, acquire_lease, due_tick
from ekita.hub.plugins import load_plugins
from ekita.hub.registrations import JobContext, JobRegistration
from ekita.hub.testkit.adapters import DECLARED, NAME, PLUGIN, settings_for
from tests.conftest import work
from tests.delivery_kit import url_of

BERLIN = ZoneInfo("Europe/Berlin")


def _scheduler(engine, cron: str = "0 3 * * *", catch_up: bool = True,
               holder: str = "a") -> Scheduler:
    settings = settings_for(url_of(engine), "http://127.0.0.1:9")
    settings.adapters[NAME].schedules["ping"] = cron
    settings.scheduler = SchedulerSettings(catch_up=catch_up, misfire_grace_s=300, lease_s=60)
    declare_recipient(NAME, DECLARED)
    return Scheduler(engine, load_plugins(settings, [PLUGIN]), settings, holder)


def _runs(engine) -> list[JobRun]:
    with work(engine) as s:
        return list(s.scalars(select(JobRun).order_by(JobRun.scheduled_for)))


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def test_cron_is_read_in_europe_berlin():
    """schedules.md: schedules are Europe/Berlin wall-clock times (summer and winter)."""
    winter = due_tick("0 3 * * *", None, berlin(2027, 1, 10, 3, 0, 30), BERLIN)
    summer = due_tick("0 3 * * *", None, berlin(2027, 7, 10, 3, 0, 30), BERLIN)
    assert winter == (datetime(2027, 1, 10, 2, 0, tzinfo=UTC), True)
    assert summer == (datetime(2027, 7, 10, 1, 0, tzinfo=UTC), True)


def test_a_due_tick_runs_once(engine):
    """Issue 4.6: a tick runs its job once, however often the scheduler passes."""
    scheduler = _scheduler(engine)
    now = berlin(2027, 3, 1, 3, 0, 10)
    assert [r.trigger for r in scheduler.tick(now)] == ["schedule"]
    assert scheduler.tick(now + timedelta(seconds=5)) == []
    (run,) = _runs(engine)
    assert run.status == RunStatus.SUCCEEDED and run.records_in == 1


def test_downtime_is_caught_up_once_not_per_missed_tick(engine):
    """Issue 4.6: after three days down, one catch-up run for the latest tick."""
    scheduler = _scheduler(engine)
    scheduler.tick(berlin(2027, 3, 1, 3, 0, 10))
    runs = scheduler.tick(berlin(2027, 3, 4, 9, 0))
    assert [(r.trigger, r.scheduled_for.replace(tzinfo=UTC)) for r in runs] == [
        ("catch_up", berlin(2027, 3, 4, 3, 0))]
    assert len(_runs(engine)) == 2


def test_without_catch_up_a_missed_tick_is_recorded_as_skipped(engine):
    """Issue 4.6 (configurable catch-up): the missed tick is visible, but not run."""
    scheduler = _scheduler(engine, catch_up=False)
    scheduler.tick(berlin(2027, 3, 1, 3, 0, 10))
    (skipped,) = scheduler.tick(berlin(2027, 3, 4, 9, 0))
    assert skipped.status == RunStatus.SKIPPED
    with work(engine) as s:
        assert len(s.scalars(select(OutboxMessage)).all()) == 1  # only the first run's


def test_only_the_lease_holder_schedules(engine):
    """Issue 4.6: exactly one active scheduler; the lease passes on when it expires."""
    now = datetime(2027, 3, 1, 12, tzinfo=UTC)
    assert acquire_lease(engine, "a", now, 60)
    assert not acquire_lease(engine, "b", now + timedelta(seconds=30), 60)
    assert acquire_lease(engine, "a", now + timedelta(seconds=30), 60)  # renewal
    assert acquire_lease(engine, "b", now + timedelta(seconds=200), 60)
    follower = _scheduler(engine, holder="a")
    assert follower.tick(now + timedelta(seconds=210)) == []


def test_a_failing_job_is_recorded_and_commits_nothing(engine):
    """Issue 4.7: a failed run keeps its reason; its messages are rolled back with it."""
    scheduler = _scheduler(engine)

    def broken(ctx: JobContext) -> None:
        from ekita.core.outbox import enqueue

        enqueue(ctx.session, adapter=NAME, operation="x", business_key="1", payload={})
        raise ValueError("table missing")

    scheduler.plugins.jobs[f"{NAME}.ping"] = JobRegistration(f"{NAME}.ping", "broken", broken)
    (run,) = scheduler.tick(berlin(2027, 3, 1, 3, 0, 10))
    assert run.status == RunStatus.FAILED and run.detail == "ValueError: table missing"
    with work(engine) as s:
        assert s.scalars(select(OutboxMessage)).all() == []


def test_placement_tick_runs_as_a_scheduled_job(engine):
    """schedules.md §1 (daily window entry, deadlines): placement.tick is a built-in job."""
    from ekita.hub.config import Settings

    settings = Settings(database_url=url_of(engine), load_plugins=["placement_jobs"])
    scheduler = Scheduler(engine, load_plugins(settings), settings, "a")
    (run,) = scheduler.tick(berlin(2027, 3, 1, 0, 30, 10))
    assert (run.job, run.status) == ("placement.tick", RunStatus.SUCCEEDED)
    assert "entered_window=0" in run.detail
