"""``ekita-hub placement``: the daily tick of the placement procedure (placement.md §4, R8, P2)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from ekita.core.access import Principal
from ekita.core.db.session import make_engine, unit_of_work
from ekita.core.services.placement.tick import tick as run_tick
from ekita.hub.config import load_settings
from ekita.hub.plugins import load_plugins

app = typer.Typer(help="Placement procedure (Vermittlungsverfahren).", no_args_is_help=True)
TICK = Principal.system("job", "placement-tick")


def _day(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter("use YYYY-MM-DD") from exc


@app.command("tick")
def tick(day: Annotated[str, typer.Option("--date", help="business date YYYY-MM-DD")]) -> None:
    """Advance the time-based steps for a date: registry re-check requests, window entry and
    routing, review deadlines, reservation follow-ups. Running it twice changes nothing."""
    on = _day(day)
    settings = load_settings()
    plugins = load_plugins(settings)

    def recheck(session: Session, ids: list[int], when: date) -> None:
        plugins.manager.hook.registry_recheck(session=session, application_ids=ids, on=when)

    engine = make_engine(settings.database_url)
    with unit_of_work(engine, TICK) as session:
        session.info["valid_from"] = on
        report = run_tick(session, on, settings.placement, recheck=recheck)
    print(json.dumps(report.as_dict()))
