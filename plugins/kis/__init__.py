"""KIS street directory and district lookup (Lastenheft 3.3.2, 3.4.2, 3.14.1.10, 3.19).

Registered like a third-party plugin. Ships an embedded offline directory (the default,
``data/streets.csv.gz``), an httpx client for a KIS REST service, a sandbox peer
(``ekita-hub peer kis``), the street suggester behind ``GET /api/v1/addresses/streets``
and the district resolver the people and master-data services call on every address
save. See README.md.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import typer
from fastapi import APIRouter
from rich.console import Console
from sqlalchemy import Engine, select

from ekita.core.access import Permission
from ekita.core.models import AddressReview
from ekita.core.services import registries
from ekita.core.services.base import require
from ekita.hub.api.deps import DB
from ekita.hub.cli.groups import peer_app
from ekita.hub.config import Settings
from ekita.hub.hookspecs import hookimpl
from ekita.hub.registrations import AdapterRegistration, HealthResult
from ekita.plugins.kis import client, directory
from ekita.plugins.kis.resolver import make_resolver
from ekita.plugins.kis.settings import KisSettings

NAME = "kis"
VERSION = "1.0.0"
_state: dict[str, KisSettings] = {"settings": KisSettings()}


def settings_of(settings: Settings) -> tuple[KisSettings, bool]:
    section = settings.adapters.get(NAME)
    kis = KisSettings(**section.settings) if section is not None else KisSettings()
    return kis, section is None or section.enabled


def suggest(prefix: str, limit: int = 20) -> list[dict[str, str]]:
    """Street suggestions for intake forms: REST when configured, else (or on failure)
    the embedded directory."""
    kis = _state["settings"]
    if kis.source == "rest" and kis.url:
        try:
            return client.suggest(kis.url, kis.timeout_s, prefix, limit)
        except client.KisUnavailable:
            pass
    return directory.load(kis.directory_file).suggest(prefix, limit)


@hookimpl
def register_adapters() -> list[AdapterRegistration]:
    return [AdapterRegistration(
        name=NAME, version=VERSION, config_model=KisSettings,
        summary="KIS street directory and district lookup (embedded directory or REST)",
        capabilities=frozenset({"street_directory", "district_lookup"}))]


@hookimpl
def configure(settings: Settings) -> None:
    """Keep the settings; install the district resolver and the street suggester."""
    kis, enabled = settings_of(settings)
    _state["settings"] = kis
    active = enabled and kis.assign_on_save
    registries.install_district_resolver(make_resolver(kis) if active else None)
    registries.install_street_suggester(suggest if enabled else None)


@hookimpl
def register_routes(settings: Settings) -> list[APIRouter]:
    router = APIRouter(prefix="/kis", tags=["addresses"])

    @router.get("/review", summary="ZVS: addresses outside Dresden or unknown (3.4.2)")
    def review(session: DB) -> list[dict[str, Any]]:
        require(session, Permission.PLACEMENT_ZVS)
        rows = session.scalars(select(AddressReview).where(AddressReview.resolved_at.is_(None))
                               .order_by(AddressReview.id))
        return [{"id": r.id, "entity": r.entity, "entity_id": r.entity_id, "reason": r.reason,
                 "created_at": r.created_at.isoformat()} for r in rows]

    return [router]


@hookimpl
def health_checks(settings: Settings) -> list[HealthResult]:
    if NAME not in settings.adapters:  # not configured: the shipped defaults, no peer
        return []
    kis, _ = settings_of(settings)
    try:
        local = directory.load(kis.directory_file)
    except Exception as exc:  # reported, never raised
        return [HealthResult(f"{NAME}.directory", False, type(exc).__name__)]
    results = [HealthResult(f"{NAME}.directory", True,
                            f"{local.version}, {local.street_count} streets")]
    if kis.source == "rest" and kis.url:
        try:
            version = client.health(kis.url)
            ok = version == client.CONTRACT_VERSION
            results.append(HealthResult(f"{NAME}.peer", ok, f"contract {version}"))
        except client.KisUnavailable as exc:
            results.append(HealthResult(f"{NAME}.peer", False, str(exc)[:200]))
    return results


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    peers = peer_app(cli)

    @peers.command("kis")
    def peer_kis(host: str = "127.0.0.1", port: int = 8711,
                 directory_file: str | None = None) -> None:
        """Run the sandbox KIS REST peer over the embedded (or a given) directory."""
        from ekita.plugins.kis.peer import serve

        typer.echo(f"KIS sandbox peer on http://{host}:{port}")
        serve(host, port, directory_file)


@hookimpl
def demo(engine: Engine, today: date, console: Console) -> None:
    from ekita.plugins.kis import demo_round

    demo_round.run(engine, today, console)
