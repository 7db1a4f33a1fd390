"""Resident registry (MESO) address check over SOAP (Lastenheft 3.2.4, 3.3.2, 3.4.4, 3.19).

Registered like a third-party plugin. It ships the hub-defined WSDL (``contract/``), a
zeep client (``client.py``), a sandbox SOAP peer (``peer.py``, ``ekita-hub peer meso``) and
applies answers to applications (``apply.py``). See README.md for the result codes.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from functools import cache
from typing import Any

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ekita.core.services import registries
from ekita.hub.cli.groups import peer_app
from ekita.hub.config import Settings
from ekita.hub.delivery.errors import DeliveryError
from ekita.hub.hookspecs import hookimpl
from ekita.hub.registrations import (
    AdapterRegistration,
    Delivery,
    DeliveryReceipt,
    HealthResult,
    JobContext,
    JobRegistration,
)
from ekita.plugins.meso import apply, client
from ekita.plugins.meso.codes import CONTRACT_VERSION, REQUEST_FIELDS, Purpose
from ekita.plugins.meso.settings import MesoSettings

log = logging.getLogger(__name__)
NAME = apply.NAME
VERSION = "1.0.0"
_state: dict[str, Any] = {"database_url": None, "settings": MesoSettings()}


@cache
def _engine(url: str) -> Engine:
    from ekita.core.db.session import make_engine

    return make_engine(url)


def deliver(delivery: Delivery) -> DeliveryReceipt:
    """Ask MESO, then apply the answer in its own transaction (all of it or nothing)."""
    from ekita.core.access import Principal
    from ekita.core.db.session import unit_of_work

    settings: Any = delivery.settings
    payload = delivery.payload or {}
    purpose = Purpose(payload["purpose"])
    fields = {k: payload[k] for k in sorted(REQUEST_FIELDS)}
    result = client.check(settings, delivery.idempotency_key, purpose, fields,
                          delivery.timeout_s)
    url = _state["database_url"]
    if url is None:
        raise DeliveryError("meso: the hub's database is not known to the adapter")
    with unit_of_work(_engine(url), Principal.system("meso", "meso")) as session:
        effect = apply.apply_result(session, int(payload["application_id"]), purpose, result,
                                    date.fromisoformat(payload["on"]), delivery.idempotency_key,
                                    settings.url, delivery.message_id)
    return DeliveryReceipt(recipient=settings.url, reference=f"{result.code.name}:{effect}")


PREFETCHED = "meso_intake_prefetch"


def prefetch(session: Session, child_ids: list[int], on: date) -> None:
    """Ask MESO for the first child *before* ``submit`` writes (issue 12 item 5).

    Threat: a slow registry holding the request's write lock (SQLite: every other writer
    fails with "database is locked"). The call runs only when the session holds no write
    (its read transaction is ended first) and within ``intake_timeout_s`` in total; the
    answer, or ``None`` on any failure, waits in ``session.info`` for ``intake_check``.
    """
    settings: MesoSettings = _state["settings"]
    fields = apply.fields_of_child(session, child_ids[0]) if child_ids else None
    if fields is None or not registries.release_for_peer_call(session):
        return
    result: client.CheckResult | None = None
    try:
        result = client.check(settings, f"{NAME}:intake:pre:{uuid.uuid4().hex}",
                              Purpose.INTAKE, fields, settings.intake_timeout_s)
    except Exception as exc:  # DeliveryError, or a bug: either way "check pending", no 500
        # the class only: a SOAP fault may echo the request's personal data (issue 12 item 8)
        log.warning("MESO intake check degraded to 'check pending': %s", type(exc).__name__)
    session.info[PREFETCHED] = (fields, result)


def intake_check(session: Session, app: Any, on: date) -> None:
    """Apply the prefetched answer; without one (peer slow, down, garbage, or no prefetch
    possible) "check pending" and a queued check for the worker. Never calls MESO: the
    transaction is writing."""
    fields = apply.fields_of(session, app)
    if fields is None:
        apply.record(session, app, Purpose.INTAKE, "no_address", None, "none", on)
        return
    prefetched, result = session.info.pop(PREFETCHED, (None, None))
    if result is None or prefetched != fields:
        apply.record(session, app, Purpose.INTAKE, "pending", None, "check_pending", on)
        apply.queue_checks(session, [app.id], on, Purpose.INTAKE)
        return
    apply.apply_to(session, app, Purpose.INTAKE, result, on)


@hookimpl
def register_adapters() -> list[AdapterRegistration]:
    return [AdapterRegistration(
        name=NAME, version=VERSION, config_model=MesoSettings, deliver=deliver,
        summary=f"Resident registry (MESO) address check over SOAP, contract {CONTRACT_VERSION}",
        capabilities=frozenset({"address_check", "soap"}), personal_fields=REQUEST_FIELDS)]


@hookimpl
def configure(settings: Settings) -> None:
    """Learn the database and the settings; install the intake check when configured."""
    section = settings.adapters.get(NAME)
    meso = MesoSettings(**section.settings) if section is not None else MesoSettings()
    _state["database_url"], _state["settings"] = settings.database_url, meso
    enabled = meso.url is not None and (section is None or section.enabled)
    registries.install_intake_check(intake_check if enabled else None)
    registries.install_intake_prefetch(prefetch if enabled else None)


@hookimpl
def register_jobs(settings: Settings) -> list[JobRegistration]:
    return [JobRegistration(name=f"{NAME}.pool_check", run=_pool_check,
                            summary="ZVS: check the central pool for moves away (3.4.4)")]


def _pool_check(ctx: JobContext) -> None:
    on = ctx.scheduled_for.date()
    ids = apply.pool_ids(ctx.session)
    ctx.run.records_in = apply.queue_checks(ctx.session, ids, on, Purpose.POOL)


@hookimpl
def registry_recheck(session: Session, application_ids: list[int], on: date) -> None:
    """W3 (3.2.4): one outbox message per application, in the tick's transaction."""
    if _state["settings"].url and NAME in _declared():
        apply.queue_checks(session, application_ids, on, Purpose.RECHECK)


def _declared() -> set[str]:
    from ekita.core.outbox import declared_recipients

    return set(declared_recipients())


@hookimpl
def health_checks(settings: Settings) -> list[HealthResult]:
    """Peer reachable and speaking our contract version (answers within a second)."""
    section = settings.adapters.get(NAME)
    meso = MesoSettings(**section.settings) if section is not None else MesoSettings()
    if meso.url is None:  # no peer configured: nothing to report
        return []
    try:
        version = client.ping(meso, timeout_s=1.0)
    except Exception as exc:  # reported, never raised
        return [HealthResult(f"{NAME}.peer", False, str(exc)[:200])]
    ok = version == CONTRACT_VERSION
    return [HealthResult(f"{NAME}.peer", ok, f"contract {version}"
                         + ("" if ok else f", expected {CONTRACT_VERSION}"))]


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    peers = peer_app(cli)

    @peers.command("meso")
    def peer_meso(host: str = "127.0.0.1", port: int = 8710,
                  database_url: str | None = typer.Option(
                      None, help="build the register from this database's children"),
                  synthetic: int = typer.Option(0, help="or: this many synthetic residents"),
                  username: str | None = None, password: str | None = None) -> None:
        """Run the sandbox MESO SOAP peer (WSDL at <url>?wsdl)."""
        from ekita.plugins.meso import peer, register

        if database_url:
            from ekita.core.access import Principal
            from ekita.core.db.session import unit_of_work

            with unit_of_work(_engine(database_url), Principal.system("meso")) as session:
                reg = register.from_database(session, date.today())
        else:
            reg = register.synthetic(synthetic or 1000)
        typer.echo(f"MESO sandbox peer on http://{host}:{port}/meso ({len(reg)} residents)")
        peer.serve(reg, host, port, username, password)


@hookimpl
def demo(engine: Engine, today: date, console: Console) -> None:
    from ekita.plugins.meso import demo_round

    demo_round.run(engine, today, console)
