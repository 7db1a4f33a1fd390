"""Health-office (Octoware) monthly CSV (Lastenheft 3.19, interfaces.md §8).

Once a month the hub lists the children aged 0 to 5 in a Kita with only the fields the
health examinations need (``listing.ROW_FIELDS``), enqueues the list as one outbox message
and the worker renders it as CSV v1 into the health office's drop directory. The
adapter's allow-list makes ``enqueue`` refuse any other personal field, and ``deliver``
refuses any other field at all, so the plugin cannot be handed more than it declared.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ekita.core.models.exchange import JobRun
from ekita.core.outbox import Queued, enqueue
from ekita.hub.delivery.errors import PermanentError
from ekita.hub.delivery.files import file_name
from ekita.hub.hookspecs import hookimpl
from ekita.hub.registrations import (
    AdapterRegistration,
    AdapterSettings,
    Delivery,
    DeliveryReceipt,
    JobContext,
    JobRegistration,
)
from ekita.plugins.carrier_export.transport import DropDirectory
from ekita.plugins.octoware.csvfile import VERSION, render
from ekita.plugins.octoware.listing import PERSONAL, ROW_FIELDS, collect

NAME = "octoware"
OPERATION = "monthly_list"


class OctowareSettings(AdapterSettings):
    """``drop_dir``: where the health office collects the monthly file."""

    transport: Literal["dropdir"] = "dropdir"
    drop_dir: str | None = None


def reference_day(month: str | None, today: date) -> tuple[str, date]:
    """(``YYYY-MM``, reference day): today for the running month, else the 1st."""
    if month is None:
        return today.strftime("%Y-%m"), today
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        from ekita.core.errors import RuleViolation

        raise RuleViolation(f"month {month!r} is not YYYY-MM", record="octoware", field="month",
                            rule="Lastenheft 3.19: a monthly list") from None
    return month, today if first.strftime("%Y-%m") == today.strftime("%Y-%m") else first


def export_month(session: Any, month: str | None = None, *, today: date | None = None,
                 job_run: JobRun | None = None) -> tuple[Queued, int]:
    """Enqueue the month's list (idempotent per month); (message, number of children)."""
    label, as_of = reference_day(month, today or date.today())
    rows = collect(session, as_of)
    queued = enqueue(session, adapter=NAME, operation=OPERATION, business_key=label,
                     payload={"format": "octoware-csv", "version": VERSION,
                              "as_of": as_of.isoformat(), "rows": rows},
                     job_run=job_run, record_count=len(rows))
    return queued, len(rows)


def deliver(delivery: Delivery) -> DeliveryReceipt:
    """Render the list and put it into the drop directory; undeclared fields are refused."""
    settings = delivery.settings
    if not isinstance(settings, OctowareSettings) or not settings.drop_dir:
        raise PermanentError("octoware: settings need drop_dir")
    if delivery.operation != OPERATION:
        raise PermanentError(f"octoware does not deliver operation {delivery.operation!r}")
    payload = delivery.payload or {}
    rows = payload.get("rows", [])
    extra = sorted({k for row in rows for k in row} - set(ROW_FIELDS))
    if extra:
        raise PermanentError(f"octoware refuses undeclared field(s) {', '.join(extra)}")
    content = render(rows, str(payload.get("as_of", "")))
    reference = DropDirectory(settings.drop_dir).put(
        file_name(delivery.idempotency_key, "csv"), content)
    return DeliveryReceipt(recipient=settings.drop_dir, record_count=len(rows),
                           reference=reference)


@hookimpl
def register_adapters() -> list[AdapterRegistration]:
    return [AdapterRegistration(
        name=NAME, version="1.0.0",
        summary="Health-office (Octoware) monthly CSV of children aged 0-5 in a Kita",
        config_model=OctowareSettings, capabilities=frozenset({OPERATION}),
        personal_fields=PERSONAL, deliver=deliver)]


def _monthly(ctx: JobContext) -> None:
    today = ctx.scheduled_for.astimezone(ZoneInfo(ctx.settings.timezone)).date()
    _, count = export_month(ctx.session, today=today, job_run=ctx.run)
    ctx.run.records_in = 1
    ctx.run.detail = f"children listed={count}"


@hookimpl
def register_jobs(settings: Any) -> list[JobRegistration]:
    return [JobRegistration(name=f"{NAME}.monthly_export", run=_monthly,
                            default_schedule="0 5 1 * *",
                            summary="monthly list of children 0-5 in a Kita (3.19)")]
