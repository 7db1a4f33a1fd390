"""``ekita-hub placement``: the daily tick of the placement procedure (placement.md §4, R8, P2)."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer

from ekita.core.access import Principal
from ekita.core.db.session import make_engine, unit_of_work
from ekita.core.services.placement.tick import TickReport
from ekita.core.services.placement.tick import tick as run_tick
from ekita.hub.cli.dates import parse_day
from ekita.hub.config import Settings, load_settings
from ekita.hub.placement_jobs import recheck_via
from ekita.hub.plugins import LoadedPlugins, load_plugins

app = typer.Typer(help="Placement procedure (Vermittlungsverfahren).", no_args_is_help=True)
TICK = Principal.system("job", "placement-tick")




@app.command("tick")
def tick(day: Annotated[str, typer.Option("--date", help="business date YYYY-MM-DD")]) -> None:
    """Advance the time-based steps for a date: registry re-check requests, window entry and
    routing, review deadlines, reservation follow-ups. Running it twice changes nothing."""
    on = parse_day(day)
    settings = load_settings()
    report = tick_with_plugins(settings, load_plugins(settings), on)
    print(json.dumps(report.as_dict()))


def tick_with_plugins(settings: Settings, plugins: LoadedPlugins, on: date) -> TickReport:
    """One tick in one transaction, the registry re-check going to the plugins' hook."""
    engine = make_engine(settings.database_url)
    with unit_of_work(engine, TICK) as session:
        session.info["valid_from"] = on
        return run_tick(session, on, settings.placement,
                        recheck=recheck_via(plugins.manager.hook))
