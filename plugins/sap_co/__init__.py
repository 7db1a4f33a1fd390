"""SAP-CO: capacity and occupancy key figures on the 20th of each month (Lastenheft 3.19,
Anlage H no. 10; interfaces.md §6; schedules.md).

The job ``sap_co.klr_snapshot`` computes the key-date snapshot from the placement ledger
and enqueues one ``klr_snapshot`` message per receiving cost centre (key
``{key_date}:{cost_centre}``); ``deliver`` renders it as BAPI_ACC_STAT_KEY_FIG_POST-shaped
XML, validates it and sends it like the SAP-FI adapter (HTTP to the SAP peer, or a drop
directory). Aggregates only: no personal fields.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from ekita.core.errors import RuleViolation
from ekita.hub.delivery.errors import PermanentError
from ekita.hub.hookspecs import hookimpl
from ekita.hub.registrations import (
    AdapterRegistration,
    Delivery,
    DeliveryReceipt,
    JobContext,
    JobRegistration,
)
from ekita.plugins.sap_co.settings import DEFAULT_SKF, SapCoSettings
from ekita.plugins.sap_fi import transport

NAME = "sap_co"


def deliver(delivery: Delivery) -> DeliveryReceipt:
    settings = delivery.settings
    if not isinstance(settings, SapCoSettings):
        raise PermanentError("sap_co: settings are not SapCoSettings")
    if delivery.operation != "klr_snapshot":
        raise PermanentError(f"sap_co does not deliver operation {delivery.operation!r}")
    from ekita.plugins.sap_co.statkeyfig import render_snapshot

    try:
        document = render_snapshot(delivery.payload or {}, settings)
    except RuleViolation as exc:
        raise PermanentError(f"{exc.field}: {exc.message}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentError(f"payload incomplete ({type(exc).__name__}: {exc})") from None
    if settings.transport == "dropdir":
        if not settings.drop_dir:
            raise PermanentError("sap_co: transport dropdir needs drop_dir")
        return transport.to_drop_dir(settings.drop_dir, delivery, document, "xml")
    if not settings.url:
        raise PermanentError("sap_co: transport http needs url")
    return transport.to_http(settings.url.rstrip("/"), delivery, "STATKEYFIG", document, "xml")


@hookimpl
def register_adapters() -> list[AdapterRegistration]:
    return [AdapterRegistration(
        name=NAME, version="1.0.0", summary="SAP-CO capacity and occupancy key figures (20th)",
        config_model=SapCoSettings, capabilities=frozenset({"klr_snapshot"}),
        deliver=deliver)]


def adapter_config(settings: Any) -> SapCoSettings:
    section = settings.adapters.get(NAME)
    return SapCoSettings(**(section.settings if section is not None else {}))


def enqueue_snapshot(ctx: JobContext, key_date: date) -> int:
    """Compute the key-date figures and enqueue one message per cost centre; the count."""
    from ekita.core.outbox import enqueue
    from ekita.plugins.sap_co.klr import skf_code, snapshot

    config = adapter_config(ctx.settings)
    if ctx.run.id is None:
        ctx.session.flush([ctx.run])
    figures = snapshot(ctx.session, key_date, ctx.settings.placement, config.tiers)
    by_centre: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for figure in figures:
        by_centre[figure.cost_centre].append(
            {**figure.as_json(), "skf": skf_code(figure, config.skf, DEFAULT_SKF)})
    for centre, items in sorted(by_centre.items()):
        enqueue(ctx.session, adapter=NAME, operation="klr_snapshot",
                business_key=f"{key_date.isoformat()}:{centre}", job_run=ctx.run,
                record_count=len(items),
                payload={"key_date": key_date.isoformat(), "co_area": config.co_area,
                         "run_id": ctx.run.id, "cost_centre": centre, "items": items})
    return len(by_centre)


def _klr_snapshot(ctx: JobContext) -> None:
    key_date = ctx.scheduled_for.astimezone(ZoneInfo(ctx.settings.timezone)).date()
    ctx.run.records_in = enqueue_snapshot(ctx, key_date)
    ctx.run.detail = f"key date {key_date.isoformat()}, cost centres={ctx.run.records_in}"


@hookimpl
def register_jobs(settings: Any) -> list[JobRegistration]:
    return [JobRegistration(name=f"{NAME}.klr_snapshot", run=_klr_snapshot,
                            default_schedule="0 6 20 * *",
                            summary="capacity and occupancy key figures to SAP-CO (20th)")]
