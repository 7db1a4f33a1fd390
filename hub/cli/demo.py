"""``ekita-hub demo``: a fresh database with a Dresden-sized city, and a summary of it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url

from ekita.core import demo
from ekita.core.db.migrate import upgrade
from ekita.core.db.session import make_engine
from ekita.core.errors import Conflict
from ekita.hub.plugins import LoadedPlugins


def _fresh_sqlite(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(database + suffix).unlink(missing_ok=True)


def summary_table(engine: Engine, on: date) -> Table:
    """Facilities, places, contracts and occupancy on ``on``, by Stadtbezirk and care type."""
    table = Table("Stadtbezirk / Ortschaft", Column("care type", no_wrap=True, min_width=24),
                  "facilities", "places", "contracts", "occupancy", title="Demo city")
    for row in demo.summary(engine, on):
        table.add_row(row["bezirk"], row["care_type"], str(row["facilities"]),
                      str(row["places"]), str(row["contracts"]), f"{row['occupancy_pct']} %")
    table.add_section()
    for row in demo.totals(engine, on, by_group=True):  # integration places in their group
        table.add_row("Dresden", row["care_type"], str(row["facilities"]), str(row["places"]),
                      str(row["contracts"]), f"{row['occupancy_pct']} %", style="bold")
    return table


def run_plugin_demos(plugins: LoadedPlugins, engine: Engine, today: date,
                     console: Console) -> None:
    """Each plugin shows its exchange against its sandbox peer; a failure is one line."""
    for impl in plugins.manager.hook.demo.get_hookimpls():
        try:
            impl.function(engine=engine, today=today, console=console)
        except Exception as exc:  # the demo goes on; the reason is shown, no traceback
            console.print(f"{impl.plugin_name}: demo step failed ({type(exc).__name__}: {exc})",
                          style="red", markup=False)


def run_demo(url: str, seed: int, console: Console, plugins: LoadedPlugins | None = None
             ) -> None:
    if url.startswith("sqlite"):
        _fresh_sqlite(url)
    engine = make_engine(url)
    if not url.startswith("sqlite") and inspect(engine).get_table_names():
        raise Conflict("the demo needs an empty database; this one has tables",
                       record="database", rule="the demo never overwrites data")
    upgrade(engine)
    city = demo.generate(seed)
    columns = (TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        demo.load(engine, city, progress)
    console.print(summary_table(engine, city.today))
    if plugins is not None:
        run_plugin_demos(plugins, engine, city.today, console)
    console.print(f"demo city loaded into {make_url(url).render_as_string(hide_password=True)}")
