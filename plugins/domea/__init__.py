"""DOMEA: the family e-file in the city's DMS as xdomea 3.0.0 FVDaten messages.

The core files documents in the family file (``ekita.core.services.documents``) and, for
tenants configured for DOMEA, enqueues messages for adapter ``domea`` in the same
transaction; this plugin builds the 0604/0605/0609/0610 messages, validates them against
the shipped xdomea 3.0.0 schemas, packs the ZIP container, delivers it and reads the
0629/0630 answers. ``ekita-hub peer domea`` runs the sandbox DMS. See README.md.
"""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console
from sqlalchemy import Engine

from ekita.hub.cli.groups import peer_app
from ekita.hub.hookspecs import hookimpl
from ekita.hub.registrations import AdapterRegistration
from ekita.plugins.domea.adapter import DomeaSettings, deliver

NAME = "domea"
#: Personal fields in the outbox payload (the messages themselves carry the PKN and the
#: family number as file key; names stay in the PDF, data-protection M6).
PERSONAL_FIELDS = frozenset({"pkn", "family_number"})


@hookimpl
def register_adapters() -> list[AdapterRegistration]:
    return [AdapterRegistration(
        name=NAME, version="1.0.0",
        summary="DOMEA family e-file: xdomea 3.0.0 FVDaten (0604, 0605, 0609, 0610; 0629/0630)",
        config_model=DomeaSettings, capabilities=frozenset({"xdomea-3.0.0"}),
        personal_fields=PERSONAL_FIELDS, deliver=deliver)]


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    peers = peer_app(cli)

    @peers.command("domea")
    def peer_domea(host: str = "127.0.0.1", port: int = 8790) -> None:
        """Run the sandbox DMS (xdomea 3.0.0, answers 0629/0630); prints its URL."""
        from ekita.plugins.domea.peer import serve

        serve(host, port)


@hookimpl
def demo(engine: Engine, today: date, console: Console) -> None:
    from ekita.plugins.domea import demo_round

    demo_round.run(engine, today, console)
