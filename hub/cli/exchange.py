"""``ekita-hub export carrier|octoware`` and ``ekita-hub import carrier``
(Lastenheft 3.8, 3.19; interfaces.md §8, §9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ekita.core.access import Principal
from ekita.core.db.session import make_engine, unit_of_work
from ekita.core.errors import RuleViolation
from ekita.hub.config import load_settings
from ekita.hub.plugins import load_plugins

export_app = typer.Typer(help="Exports to carriers and the health office.", no_args_is_help=True)
import_app = typer.Typer(help="Imports from carriers.", no_args_is_help=True)
EXCHANGE = Principal.system("cli", "exchange")
out = Console()


def _setup() -> tuple[Any, Any, Any]:
    """(settings, loaded plugins, engine); loading declares the recipients (M4, M6)."""
    settings = load_settings()
    loaded = load_plugins(settings)
    return settings, loaded, make_engine(settings.database_url)


def _carrier_profile(settings: Any, loaded: Any, carrier_id: int, name: str | None) -> Any:
    from ekita.plugins.carrier_export import adapter_config, profile_for, registered_profiles

    return profile_for(adapter_config(settings), carrier_id, name,
                       registered_profiles(loaded.manager.hook))


@export_app.command("carrier")
def export_carrier_cmd(
        carrier: Annotated[str, typer.Argument(help="carrier id or exact name")],
        full: Annotated[bool, typer.Option("--full", help="everything, not only changes")]
        = False,
        profile: Annotated[str | None, typer.Option("--profile", help="profile name")] = None
) -> None:
    """Queue the carrier's export (delivered by the worker); incremental by default."""
    from ekita.plugins.carrier_export import export_carrier
    from ekita.plugins.carrier_export.export import carrier_of

    settings, loaded, engine = _setup()
    with unit_of_work(engine, EXCHANGE) as session:
        carrier_id = carrier_of(session, carrier).id
        chosen = _carrier_profile(settings, loaded, carrier_id, profile)
        queued, count = export_carrier(session, carrier_id, chosen, full=full)
    if queued is None:
        typer.echo(f"carrier {carrier_id}: nothing changed since the acknowledged export")
    else:
        state = "queued" if queued.created else "already queued"
        typer.echo(f"carrier {carrier_id}: {count} records {state} as message {queued.id} "
                   f"({chosen.name}, {'full' if full else 'incremental'})")


@export_app.command("octoware")
def export_octoware_cmd(
        month: Annotated[str | None, typer.Option("--month", help="YYYY-MM")] = None) -> None:
    """Queue the health office's monthly list (children 0-5 in a Kita)."""
    from ekita.plugins.octoware import export_month

    _, _, engine = _setup()
    with unit_of_work(engine, EXCHANGE) as session:
        queued, count = export_month(session, month)
    state = "queued" if queued.created else "already queued"
    typer.echo(f"octoware: {count} children {state} as message {queued.id}")


@import_app.command("carrier")
def import_carrier_cmd(
        carrier: Annotated[str, typer.Argument(help="carrier id or exact name")],
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
        profile: Annotated[str | None, typer.Option("--profile", help="profile name")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="report, change nothing")]
        = False,
        as_json: Annotated[bool, typer.Option("--json", help="the report as JSON")] = False,
) -> None:
    """Take in a carrier's file: good rows applied, bad rows quarantined with a report.

    The import runs in a unit of work of the carrier's own principal (issue 12 item 2): it
    matches and changes only what the carrier holds, and the audit names the carrier and
    the channel ``carrier_exchange:cli``."""
    from ekita.hub.inputs import cap_for, read_capped
    from ekita.plugins.carrier_export.export import carrier_of
    from ekita.plugins.carrier_export.importer import carrier_principal, import_file

    settings, loaded, engine = _setup()
    # capped before it is read whole (issue 12 item 6); a profile's max_bytes may lower it
    content = read_capped(file, cap=cap_for("carrier_file", settings))
    with unit_of_work(engine, EXCHANGE) as session:
        carrier_id = carrier_of(session, carrier).id
    chosen = _carrier_profile(settings, loaded, carrier_id, profile)
    with unit_of_work(engine, carrier_principal(carrier_id, "cli")) as session:
        if chosen.format == "csv" and not content:
            raise RuleViolation("the file is empty", record="carrier_file", field="file",
                                rule="a header and rows")
        total = max(content.count(b"\n") - 1, 1) if chosen.format == "csv" else None
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=Console(stderr=True), transient=True,
                      disable=not out.is_terminal) as bar:
            task = bar.add_task(file.name, total=total)
            report = import_file(session, carrier_id, content, source=str(file),
                                 profile=chosen, dry_run=dry_run,
                                 progress=lambda n: bar.advance(task, n))
    typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1) if as_json
               else report.as_text())
    if report.status == "refused":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
    app.add_typer(import_app, name="import")
