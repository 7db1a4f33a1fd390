"""Built-in plugin: the monthly debit run and the daily contract-term step as scheduled
jobs (fees.md §11.1, schedules.md).

On the last day of each month at 18:00 (cron ``L``, Europe/Berlin) for the following
month: first the corrections of the months already debited (at most
``LOOKBACK_MONTHS`` back), then the debit run itself, in the job's one transaction.
The figures land on the JobRun (``records_in``, ``control_sum_cents``) for reconciliation.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ekita.hub.config import Settings
from ekita.hub.hookspecs import hookimpl
from ekita.hub.registrations import JobContext, JobRegistration

LOOKBACK_MONTHS = 12


def _debit_run(ctx: JobContext) -> None:
    from ekita.core.services.fees.corrections import debited_periods, run_corrections
    from ekita.core.services.fees.debit_run import next_period, run_debit
    from ekita.core.services.fees.rules import add_months, period_of

    on = ctx.scheduled_for.astimezone(ZoneInfo(ctx.settings.timezone)).date()
    oldest = period_of(add_months(on.replace(day=1), -LOOKBACK_MONTHS))
    periods = [p for p in debited_periods(ctx.session) if p >= oldest]
    corrections = run_corrections(ctx.session, periods, on=on, job_run=ctx.run) if periods \
        else None
    result = run_debit(ctx.session, next_period(on), job_run=ctx.run)
    ctx.run.detail = (f"period={result.period} lines={result.record_count} "
                      f"sum_cents={result.control_sum_cents} created={result.created} "
                      f"quarantined={result.quarantined} corrections="
                      f"{corrections.record_count if corrections else 0}")


def _term_mirror(ctx: JobContext) -> None:
    """A contract's own columns follow the term valid today (issue 13 item 1), for the
    readers that do not read terms yet; the fee engine reads the terms themselves."""
    from ekita.core.services.terms import sync_mirrors

    on = ctx.scheduled_for.astimezone(ZoneInfo(ctx.settings.timezone)).date()
    changed = sync_mirrors(ctx.session, on)
    ctx.run.records_in = changed
    ctx.run.detail = f"contracts whose term of {on} took over: {changed}"


@hookimpl
def register_jobs(settings: Settings) -> list[JobRegistration]:
    return [
        JobRegistration(
            name="fees.debit_run", run=_debit_run, default_schedule="0 18 L * *",
            summary="monthly debit run for the following month, after the corrections"),
        JobRegistration(
            name="contracts.term_mirror", run=_term_mirror, default_schedule="5 0 * * *",
            summary="daily: contracts show the term valid today (dated changes take over)"),
    ]
