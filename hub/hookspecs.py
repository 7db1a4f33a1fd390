"""The hooks a plugin can implement. Every hook is documented in docs/plugin-hooks.md.

Plugins implement them with ``@hookimpl`` from ``ekita.hub``. Registration hooks
return typed records (``ekita.hub.registrations``), so the hub can check them
and fail loudly on clashes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import date

    import typer
    from fastapi import APIRouter
    from rich.console import Console
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from ekita.hub.config import Settings
    from ekita.hub.registrations import AdapterRegistration, HealthResult, JobRegistration

PROJECT = "ekita"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def configure(settings: Settings) -> None:
    """Set up process-wide state from the effective configuration.

    Called once each time the hub loads the plugins (``load_plugins``), after every
    adapter's settings were validated and before any command, route or job runs: the place
    to install the core's slots (``ekita.core.services.registries``) or to read settings a
    plugin keeps for later. Arguments: ``settings``. Returns nothing; not firstresult.
    """


@hookspec
def register_adapters() -> Iterable[AdapterRegistration]:
    """Announce the adapters this plugin provides.

    Arguments: none.
    Returns: an iterable of ``AdapterRegistration`` records (name, version, config model,
    capabilities, the personal-data fields the adapter may receive). Not firstresult: the
    hub collects every plugin's records and refuses to start when two share a name.
    """


@hookspec
def register_commands(cli: typer.Typer) -> None:
    """Add commands to the ``ekita-hub`` command line (for example ``peer meso``).

    Arguments: ``cli``, the root ``typer.Typer`` application; add commands or sub-apps to it.
    Returns: nothing. Called once when the CLI starts; not firstresult.
    """


@hookspec
def register_routes(settings: Settings) -> Iterable[APIRouter]:
    """Contribute API routers, mounted under ``/api/v1/adapters/<prefix of the router>``.

    Arguments: ``settings``, the effective configuration.
    Returns: an iterable of ``fastapi.APIRouter``; each must set a ``prefix``. Not firstresult.
    Routes must declare their own authentication dependency (``ekita.hub.api.deps``).
    """


@hookspec
def health_checks(settings: Settings) -> Iterable[HealthResult]:
    """Report the health of the plugin's peers for ``/health`` and ``ekita-hub doctor``.

    Arguments: ``settings``, the effective configuration.
    Returns: an iterable of ``HealthResult`` (name, ok, detail). Must answer within a second
    and never raise; an exception is reported as a failed check. Not firstresult.
    """


@hookspec
def register_jobs(settings: Settings) -> Iterable[JobRegistration]:
    """Announce jobs the scheduler can run (the debit run, a nightly export, …).

    Arguments: ``settings``, the effective configuration.
    Returns: an iterable of ``JobRegistration`` (name, summary, ``run(ctx)``, default cron).
    A job named ``<adapter>.<job>`` is scheduled by ``[adapters.<adapter>.schedules]``, any
    other by ``[schedules]``. Not firstresult; two jobs with one name stop the start.
    """


@hookspec
def registry_recheck(session: Session, application_ids: list[int], on: date) -> None:
    """Re-check the applicants' registered address before their placement window opens.

    Called by the daily placement tick for applications whose window opens in 4–6 weeks
    (Lastenheft 3.2.4). Arguments: ``session``, the tick's open transaction (write outbox
    messages into it so the check is queued atomically with the tick); ``application_ids``;
    ``on``, the tick's date. Returns nothing; not firstresult. The MESO adapter implements it.
    """


@hookspec
def domain_events(session: Session, events: list[Any]) -> None:
    """React to domain events (ApplicationSubmitted, ContractSigned, Exited, …).

    Called by the ``events.relay`` job with events in order, each exactly once. Arguments:
    ``session``, the relay's open transaction (enqueue outbox messages in it: they commit
    together with the relay's cursor); ``events``, a list of ``DomainEvent`` rows (kind,
    application_id, facility_id, payload with ids and dates, occurred_on). Returns
    nothing; not firstresult. An exception fails the relay run and nothing moves on.
    """


@hookspec
def register_carrier_profiles() -> Iterable[Any]:
    """Add carrier exchange formats (mapping profiles) to the ``carrier_export`` adapter.

    Returns ``CarrierProfileRegistration`` records (``ekita.hub.registrations``): a name,
    and either the TOML text of a profile or a ready ``Profile``. ``ekita-hub export
    carrier`` and ``import carrier --profile NAME`` find them by name. Prove a profile
    with the conformance kit ``ekita.hub.testing``. Not firstresult.
    """


@hookspec
def demo(engine: Engine, today: date, console: Console) -> None:
    """Show the plugin's exchange in ``ekita-hub demo``, against its own sandbox peer.

    Called after the demo city is loaded. Arguments: ``engine`` (the demo database),
    ``today`` (the demo's business date), ``console`` (print a short, deterministic
    summary: the same seed gives the same output). Start the peer in-process on
    127.0.0.1, talk to it over real HTTP, stop it. Must finish within seconds; an exception
    is reported as one line and the demo goes on. Returns nothing; not firstresult.
    """


def all_hook_names() -> list[str]:
    """The names of every hook specified here (used by the documentation test)."""
    return [n for n, v in globals().items() if hasattr(v, f"{PROJECT}_spec")]
