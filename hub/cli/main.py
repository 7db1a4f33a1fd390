"""``ekita-hub``: serve the API, migrate, load the demo city, manage keys and plugins.

Every expected failure ends in one clear line on stderr and a non-zero exit
code: 2 for configuration errors, 1 for everything else. No tracebacks.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import OperationalError

from ekita.core.access import Principal
from ekita.core.db.migrate import MigrationRefused, upgrade
from ekita.core.db.roles import RoleError
from ekita.core.db.session import make_engine
from ekita.core.errors import DomainError
from ekita.hub.cli import billing as billing_cli
from ekita.hub.cli import db as db_cli
from ekita.hub.cli import documents as documents_cli
from ekita.hub.cli import exchange as exchange_cli
from ekita.hub.cli import ops
from ekita.hub.cli import placement as placement_cli
from ekita.hub.cli import users as users_cli
from ekita.hub.config import ConfigError, load_settings
from ekita.hub.logs import configure as configure_logging
from ekita.hub.logs import quiet_transports
from ekita.hub.plugins import PluginError, load_plugins

app = typer.Typer(help="E-KITA hub: daycare master data, placement and the city's systems.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
plugins_app = typer.Typer(help="Installed plugins.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)
app.add_typer(db_cli.app, name="db")
app.add_typer(plugins_app, name="plugins")
app.add_typer(config_app, name="config")
app.add_typer(users_cli.app, name="users")
app.add_typer(placement_cli.app, name="placement")
app.add_typer(billing_cli.app, name="billing")
app.add_typer(documents_cli.app, name="documents")
ops.register(app)
exchange_cli.register(app)

out = Console()
err = Console(stderr=True)
CLI = Principal.system("cli")


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="bind address")] = None,
          port: Annotated[int | None, typer.Option(help="TCP port")] = None) -> None:
    """Run the HTTP API."""
    import uvicorn

    from ekita.hub.api.app import create_app

    current = load_settings()
    configure_logging(current.log_level, current.transport_log_level)  # issue 12 item 8
    engine = make_engine(current.database_url)
    upgrade(engine)  # the application role only checks that the schema is current
    api = create_app(current, engine, load_plugins(current))
    # uvicorn's own access log would print query strings (names in searches): ours does not.
    uvicorn.run(api, host=host or current.api_host, port=port or current.api_port,
                log_level=current.log_level.lower(), access_log=False)


@plugins_app.command("list")
def plugins_list() -> None:
    """Show every loaded plugin and the adapters it registers."""
    loaded = load_plugins(load_settings())
    table = Table("plugin", "adapter", "version", "summary")
    for reg in sorted(loaded.adapters.values(), key=lambda r: (r.plugin, r.name)):
        table.add_row(reg.plugin, reg.name, reg.version, reg.summary)
    for name in loaded.names():
        if not any(r.plugin == name for r in loaded.adapters.values()):
            table.add_row(name, "-", "", "")
    out.print(table)


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration and print it with secrets masked."""
    import json

    current = load_settings()
    loaded = load_plugins(current)
    effective = current.masked()
    for name, model in loaded.adapter_settings.items():
        section = effective["adapters"].setdefault(name, {})
        section["settings"] = model.model_dump(mode="json")
    out.print_json(json.dumps(effective))
    out.print("configuration ok", style="green")


@app.command()
def demo(
    database_url: Annotated[str | None, typer.Option(
        help="target database; default EKITA_DATABASE_URL or sqlite:///ekita-demo.db")] = None,
    seed: Annotated[int, typer.Option(help="random seed; same seed, same city")] = 2027,
) -> None:
    """Create a database, load a Dresden-sized demo city, and show the adapters' exchanges
    against their sandbox peers."""
    from ekita.hub.cli.demo import run_demo

    url = database_url or _env_url() or "sqlite:///ekita-demo.db"
    run_demo(url, seed, out, load_plugins(load_settings()))


def _env_url() -> str | None:
    import os

    return os.environ.get("EKITA_DATABASE_URL")


def _described(exc: DomainError) -> str:
    """The message with the record, field and rule it names (house rule: bad input)."""
    where = ".".join(p for p in (exc.record, exc.field) if p)
    detail = "; ".join(p for p in (where, f"rule: {exc.rule}" if exc.rule else "") if p)
    return f"{exc.message} ({detail})" if detail else exc.message


def _fail(message: str, code: int) -> None:
    err.print(f"error: {message}", style="red", markup=False, highlight=False, soft_wrap=True)
    raise SystemExit(code)


def main() -> None:
    """Entry point: add the plugins' commands, run, and turn known errors into one line."""
    try:
        settings = load_settings()
        quiet_transports(settings.transport_log_level)  # no URLs or bodies (issue 12 item 8)
        if settings.data_key is not None:  # bank data at rest (core.crypto)
            from ekita.core import crypto

            crypto.configure(settings.data_key.get_secret_value())
        loaded = load_plugins(settings)
        loaded.manager.hook.register_commands(cli=app)
    except (ConfigError, PluginError):
        pass  # reported by the command that needs the configuration
    try:
        app()
    except ConfigError as exc:
        _fail(str(exc), 2)
    except PluginError as exc:
        _fail(str(exc), 2)
    except (MigrationRefused, RoleError) as exc:  # the wrong database role (issue 12 item 7)
        _fail(str(exc), 2)
    except DomainError as exc:
        _fail(_described(exc), 1)
    except OperationalError as exc:
        _fail(f"database unreachable: {str(exc.orig).splitlines()[0]}", 1)
    except OSError as exc:
        _fail(str(exc), 1)


if __name__ == "__main__":
    main()
