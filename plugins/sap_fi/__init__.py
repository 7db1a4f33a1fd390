"""SAP-FI: debtors, receivables and corrections as IDoc-style XML, and the arrears return
flow (interfaces.md §5, fees.md §11–§12, Lastenheft 3.10.9, 3.10.10, 3.19).

The fee domain (``fees``) enqueues ``receivable``, ``batch_trailer`` and ``debtor``
messages for adapter ``sap_fi``; this plugin renders each as a document, validates it
against its own XSD and delivers it over HTTP or into a drop directory (see README.md).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from ekita.core.errors import RuleViolation
from ekita.hub import peers
from ekita.hub.cli.groups import peer_app, sub_app
from ekita.hub.delivery.errors import MalformedAnswer, PermanentError, TransientError
from ekita.hub.hookspecs import hookimpl
from ekita.hub.inputs import cap_for
from ekita.hub.registrations import (
    AdapterRegistration,
    Delivery,
    DeliveryReceipt,
    JobContext,
    JobRegistration,
)
from ekita.plugins.sap_fi import transport
from ekita.plugins.sap_fi.csv_profile import render_receivables_csv
from ekita.plugins.sap_fi.debmas import render_debtor
from ekita.plugins.sap_fi.idoc import render_receivables
from ekita.plugins.sap_fi.settings import SapFiSettings

NAME = "sap_fi"
PERSONAL_FIELDS = frozenset({"pkn", "family_name", "first_name", "birth_date", "street",
                             "house_no", "postcode", "town", "iban", "bic", "account_holder",
                             "iban_encrypted", "holder", "bic_encrypted",
                             "holder_encrypted"})


def _document(delivery: Delivery, settings: SapFiSettings) -> tuple[str, bytes, str, str]:
    """(message type, document, file suffix, encoding) for one outbox message."""
    payload = delivery.payload or {}
    op = delivery.operation
    if op not in ("receivable", "batch_trailer", "debtor"):
        raise PermanentError(f"sap_fi does not deliver operation {op!r}")
    if op == "debtor":
        return "DEBMAS", render_debtor(payload, settings), "xml", "utf-8"
    lines, trailer = ([payload], None) if op == "receivable" else ([], payload)
    if settings.format == "csv":
        profile = settings.csv
        return ("FIDCC2CSV", render_receivables_csv(lines, trailer, profile), "csv",
                profile.encoding)
    return "FIDCC2", render_receivables(lines, trailer, settings), "xml", "utf-8"


def deliver(delivery: Delivery) -> DeliveryReceipt:
    """Render, validate and send one message; an invalid document is our bug: permanent."""
    settings = delivery.settings
    if not isinstance(settings, SapFiSettings):
        raise PermanentError("sap_fi: settings are not SapFiSettings")
    try:
        message_type, document, suffix, encoding = _document(delivery, settings)
    except RuleViolation as exc:  # XSD mismatch, invalid IBAN: retrying cannot help
        raise PermanentError(f"{exc.field}: {exc.message}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentError(f"payload incomplete ({type(exc).__name__}: {exc})") from None
    if settings.transport == "dropdir":
        if not settings.drop_dir:
            raise PermanentError("sap_fi: transport dropdir needs drop_dir")
        return transport.to_drop_dir(settings.drop_dir, delivery, document, suffix)
    if not settings.url:
        raise PermanentError("sap_fi: transport http needs url")
    return transport.to_http(settings.url.rstrip("/"), delivery, message_type, document,
                             suffix, encoding)


@hookimpl
def register_adapters() -> list[AdapterRegistration]:
    return [AdapterRegistration(
        name=NAME, version="1.0.0",
        summary="SAP-FI debtors, receivables and corrections (IDoc-XML), arrears return flow",
        config_model=SapFiSettings, capabilities=frozenset({"receivable", "batch_trailer",
                                                            "debtor", "arrears"}),
        personal_fields=PERSONAL_FIELDS, deliver=deliver)]


def adapter_config(settings: Any) -> SapFiSettings:
    """The adapter's settings from the hub's configuration."""
    section = settings.adapters.get(NAME)
    return SapFiSettings(**(section.settings if section is not None else {}))


def fetch_arrears(config: SapFiSettings, as_of: date) -> list[tuple[str, bytes | Path]]:
    """Arrears files to take in: from the SAP peer over HTTP, or the files in arrears_dir
    (as paths: the import streams them under its size cap, issue 12 item 6)."""
    found: list[tuple[str, bytes | Path]] = []
    if config.arrears_dir:
        found += [(str(p), p) for p in sorted(Path(config.arrears_dir).glob("*.xml"))]
    elif config.transport == "http" and config.url:
        url = f"{config.url.rstrip('/')}/sap/arrears/{as_of.isoformat()}"
        # a total deadline and the arrears cap (JSON adds little to the document) (issue 12
        # items 5, 6): a slow or flooding SAP cannot hold the job or exhaust the hub
        answer = peers.call("GET", url, peer=NAME, deadline_s=config.arrears_timeout_s,
                            max_bytes=cap_for("sap_arrears") + 64 * 1024)
        if answer.status_code != 200:
            raise TransientError(f"arrears file not fetched: HTTP {answer.status_code}")
        document = answer.json()
        if not isinstance(document, dict) or not isinstance(document.get("document"), str):
            raise MalformedAnswer("sap_fi: arrears answer without a 'document' text")
        found.append((url, document["document"].encode("utf-8")))
    return found


def _arrears_import(ctx: JobContext) -> None:
    from ekita.plugins.sap_fi.arrears import import_arrears

    config = adapter_config(ctx.settings)
    cap = cap_for("sap_arrears", ctx.settings)
    as_of = ctx.scheduled_for.astimezone(ZoneInfo(ctx.settings.timezone)).date()
    taken = records = 0
    for source, content in fetch_arrears(config, as_of):
        result = import_arrears(ctx.session, content, source, config.arrears_months,
                                max_bytes=cap)
        taken += int(result.applied)
        records += result.records if result.applied else 0
    ctx.run.records_in = records
    ctx.run.detail = f"files applied={taken}, records={records}"


@hookimpl
def register_jobs(settings: Any) -> list[JobRegistration]:
    return [JobRegistration(name=f"{NAME}.arrears_import", run=_arrears_import,
                            default_schedule="0 6 * * *",
                            summary="arrears from SAP-FI onto the finance worklist (3.10.10)")]


@hookimpl
def register_routes(settings: Any) -> list[Any]:
    from ekita.plugins.sap_fi.api import router

    return [router]


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    peers = peer_app(cli)
    fi_app = sub_app(cli, "sap-fi", "SAP-FI: arrears import.")

    @peers.command("sap")
    def peer_sap(host: str = "127.0.0.1", port: int = 0) -> None:
        """Run the sandbox SAP peer (FI and CO); prints its URL, stops on Ctrl-C."""
        from ekita.plugins.sap_fi.peer import serve

        serve(host, port)

    @fi_app.command("import-arrears")
    def import_arrears_cmd(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]
                           ) -> None:
        """Take in an arrears file from SAP; the same file twice is applied once."""
        from ekita.core.access import Principal
        from ekita.core.db.session import make_engine, unit_of_work
        from ekita.hub.config import load_settings
        from ekita.plugins.sap_fi.arrears import import_arrears

        settings = load_settings()
        config = adapter_config(settings)
        engine = make_engine(settings.database_url)
        with unit_of_work(engine, Principal.system("cli", "sap-fi-import")) as session:
            result = import_arrears(session, file, str(file), config.arrears_months,
                                    max_bytes=cap_for("sap_arrears", settings))
        state = ("already taken in, nothing changed" if not result.applied
                 else "older than a file already applied, nothing changed" if result.stale
                 else "applied")
        typer.echo(f"{file.name}: {state}; as of {result.as_of}: {result.records} payers, "
                   f"{result.on_worklist} on the worklist, {result.cleared} cleared")
