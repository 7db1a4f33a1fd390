"""Carrier exchange: export of the carrier's children, consented guardians, contracts and
placed applications, and import of its changes (Lastenheft 2.2, 3.8, 3.19;
interfaces.md §9). One hub XML format (with XSD) plus CSV and Excel through TOML mapping
profiles; third-party plugins add profiles with the ``register_carrier_profiles`` hook and
prove them with ``ekita.hub.testing`` (the conformance kit). See README.md.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Literal

from pydantic import Field
from sqlalchemy.orm import Session

from ekita.core.errors import RuleViolation
from ekita.core.models.exchange import JobRun
from ekita.core.outbox import Queued, enqueue
from ekita.hub.delivery.errors import PermanentError
from ekita.hub.delivery.files import file_name
from ekita.hub.hookspecs import hookimpl
from ekita.hub.registrations import (
    AdapterRegistration,
    AdapterSettings,
    CarrierProfileRegistration,
    Delivery,
    DeliveryReceipt,
)
from ekita.plugins.carrier_export import export as exporting
from ekita.plugins.carrier_export.formats import render_csv, render_xlsx, render_xml
from ekita.plugins.carrier_export.profile import Profile, builtin_profiles, load_profile
from ekita.plugins.carrier_export.records import PERSONAL, unpack
from ekita.plugins.carrier_export.transport import DropDirectory

NAME = exporting.ADAPTER
log = logging.getLogger(__name__)


class CarrierExportSettings(AdapterSettings):
    """``transport``: ``dropdir`` writes into ``<drop_dir>/carrier-<id>/``; ``http`` posts the
    records as JSON to ``url`` with the idempotency key. ``profiles`` picks a profile per
    carrier id (default ``profile``); ``profile_dir`` holds extra TOML profiles."""

    transport: Literal["dropdir", "http"] = "dropdir"
    drop_dir: str | None = None
    url: str | None = None
    profile: str = "hub-xml"
    profiles: dict[str, str] = Field(default_factory=dict)
    profile_dir: str | None = None


def render(rows: list[dict[str, Any]], profile: Profile, meta: dict[str, str]
           ) -> tuple[bytes, str]:
    """(file content, suffix) of rows in a profile's format."""
    if profile.format == "xml":
        return render_xml(rows, meta), "xml"
    if profile.format == "xlsx":
        return render_xlsx(rows, profile), "xlsx"
    return render_csv(rows, profile), "csv"


def export_carrier(session: Session, carrier: int | str, profile: Profile, *, full: bool,
                   today: date | None = None, job_run: JobRun | None = None
                   ) -> tuple[Queued | None, int]:
    """Enqueue the carrier's export; (message or None when nothing changed, records).

    Full: everything current. Incremental: the children changed since the position of
    the last export the carrier acknowledged (its delivered export).
    """
    carrier_id = exporting.carrier_of(session, carrier).id
    since = exporting.acknowledged_position(session, carrier_id)
    position = exporting.current_position(session)
    rows = exporting.collect(session, carrier_id, since=None if full else since, today=today)
    kind = "full" if full else "incremental"
    if not full and not rows:
        return None, 0
    rows, findings = exporting.fit_encoding(rows, profile)  # issue 12 item 11
    payload = exporting.payload_for(carrier_id, kind, position, since, profile.name, rows)
    payload["profile_definition"] = profile.model_dump()
    payload["encoding_findings"] = findings
    if findings:
        line = exporting.findings_line(findings)
        log.warning("carrier %s export (%s): %d field(s) not in %s: %s", carrier_id,
                    profile.name, len(findings), profile.encoding, line)
        if job_run is not None:
            job_run.detail = f"{job_run.detail}\ncarrier {carrier_id}: {line}".strip()
    queued = enqueue(session, adapter=NAME, operation="export",
                     business_key=f"carrier:{carrier_id}:{kind}:{position}", payload=payload,
                     job_run=job_run, record_count=len(rows))
    return queued, len(rows)


def deliver(delivery: Delivery) -> DeliveryReceipt:
    settings = delivery.settings
    if not isinstance(settings, CarrierExportSettings):
        raise PermanentError("carrier_export: settings are not CarrierExportSettings")
    if delivery.operation != "export":
        raise PermanentError(f"carrier_export does not deliver {delivery.operation!r}")
    payload = delivery.payload or {}
    if settings.transport == "http":
        if not settings.url:
            raise PermanentError("carrier_export: transport http needs url")
        from ekita.hub.delivery.http import post_json

        return post_json(settings.url, delivery)
    if not settings.drop_dir:
        raise PermanentError("carrier_export: transport dropdir needs drop_dir")
    try:
        profile = Profile(**payload["profile_definition"])
        rows, findings = exporting.fit_encoding(unpack(payload["records"]), profile)
        if findings:  # queued before the check, or by another profile: never dead-letter
            log.warning("message %s: %d field(s) not in %s: %s", delivery.message_id,
                        len(findings), profile.encoding, exporting.findings_line(findings))
        content, suffix = render(rows, profile, {
            "carrier": str(payload["carrier_id"]), "kind": str(payload["kind"]),
            "position": str(payload["position"])})
    except (KeyError, TypeError, ValueError, RuleViolation) as exc:
        raise PermanentError(f"export not renderable ({type(exc).__name__}: {exc})") from None
    directory = f"{settings.drop_dir.rstrip('/')}/carrier-{payload['carrier_id']}"
    reference = DropDirectory(directory).put(file_name(delivery.idempotency_key, suffix),
                                             content)
    return DeliveryReceipt(recipient=directory, record_count=len(rows), reference=reference)


@hookimpl
def register_adapters() -> list[AdapterRegistration]:
    return [AdapterRegistration(
        name=NAME, version="1.0.0",
        summary="Carrier exchange: hub XML, CSV and Excel through mapping profiles",
        config_model=CarrierExportSettings, capabilities=frozenset({"export", "import"}),
        personal_fields=PERSONAL, deliver=deliver)]


@hookimpl
def register_carrier_profiles() -> list[CarrierProfileRegistration]:
    return [CarrierProfileRegistration(name=p.name, toml=None, profile=p,
                                       summary=p.description)
            for p in builtin_profiles().values()]


@hookimpl
def register_routes(settings: Any) -> list[Any]:
    from ekita.plugins.carrier_export.api import router

    return [router]


def registered_profiles(hooks: Any) -> dict[str, Profile]:
    """Every profile the loaded plugins registered, by name."""
    from ekita.plugins.carrier_export.profile import parse_profile

    found: dict[str, Profile] = {}
    for batch in hooks.register_carrier_profiles():
        for reg in batch:
            found[reg.name] = reg.profile or parse_profile(reg.toml or "", reg.name)
    return found


def profile_for(config: CarrierExportSettings, carrier_id: int, name: str | None = None,
                registered: dict[str, Profile] | None = None) -> Profile:
    chosen = name or config.profiles.get(str(carrier_id)) or config.profile
    return load_profile(chosen, registered, config.profile_dir)


def adapter_config(settings: Any) -> CarrierExportSettings:
    section = settings.adapters.get(NAME)
    return CarrierExportSettings(**(section.settings if section is not None else {}))
