"""Built-in plugin: the daily placement tick as a scheduled job (schedules.md §1, §5).

The core's ``tick`` knows nothing of plugins; here its registry re-check callback is
wired to the ``registry_recheck`` hook, so the MESO adapter can queue its checks in the
tick's own transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ekita.hub.config import Settings
from ekita.hub.hookspecs import hookimpl
from ekita.hub.registrations import JobContext, JobRegistration


def recheck_via(hooks: Any) -> Any:
    """The tick's re-check callback, calling every plugin's ``registry_recheck``."""

    def recheck(session: Session, application_ids: list[int], on: date) -> None:
        hooks.registry_recheck(session=session, application_ids=application_ids, on=on)

    return recheck


def _tick(ctx: JobContext) -> None:
    from ekita.core.services.placement.tick import tick

    on = ctx.scheduled_for.astimezone(ZoneInfo(ctx.settings.timezone)).date()
    ctx.session.info["valid_from"] = on
    report = tick(ctx.session, on, ctx.settings.placement, recheck=recheck_via(ctx.hooks))
    ctx.run.detail = ", ".join(f"{k}={v}" for k, v in report.as_dict().items())


@hookimpl
def register_jobs(settings: Settings) -> list[JobRegistration]:
    return [JobRegistration(
        name="placement.tick", run=_tick, default_schedule="30 0 * * *",
        summary="window entry, registry re-check, routing, review deadlines, follow-ups")]
