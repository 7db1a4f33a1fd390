"""The DOMEA part of ``ekita-hub demo``: a fee switch's notices filed into the sandbox DMS.

The 2011 statute and the default templates are installed; the collective notices of the
next 1st of a month (3.10.14.2) are planned for the whole city, the first ``SAMPLE``
rendered as PDF/A and filed for a DOMEA tenant, and the worker delivers their xdomea
containers to the in-process sandbox DMS, which answers with 0630.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from ekita.core.access import Principal
from ekita.core.db.session import unit_of_work
from ekita.core.services.documents import templates
from ekita.core.services.documents.letterhead import Letterhead
from ekita.core.services.fees import notices, statutes
from ekita.core.services.fees.rules import add_months
from ekita.hub.config import AdapterSection, Settings
from ekita.hub.delivery.worker import Worker
from ekita.hub.plugins import load_plugins
from ekita.plugins.domea.peer import DomeaPeer

SAMPLE = 20


def run(engine: Engine, today: date, console: Console) -> None:
    switch = add_months(today.replace(day=1), 1)
    url = engine.url.render_as_string(hide_password=False)
    with DomeaPeer() as dms:
        settings = Settings(database_url=url, load_plugins=["domea"], adapters={
            "domea": AdapterSection(settings={"url": dms.url, "database_url": url})})
        plugins = load_plugins(settings)  # the DOMEA recipient, with its declared fields
        with unit_of_work(engine, Principal.system("demo", "domea")) as s:
            statutes.load_default(s)
            templates.install_defaults(s)
            planned = notices.plan(s, switch)
            for notice in planned[:SAMPLE]:
                notices.issue(s, notice, switch, issued_on=today, letterhead=Letterhead(),
                              target="domea")
        stats = Worker(engine, plugins, settings, "demo").run(idle_exit=True)
        # container names end in the message type: …_FVDaten.SGOAblegen.0605(.zip)
        kinds = Counter(".".join(name.removesuffix(".zip").split("_")[-1].split(".")[1:])
                        for name in dms.state.containers)
        imported = len(dms.documents())
    table = Table("DOMEA (xdomea 3.0.0, sandbox DMS)", "count",
                  title=f"Collective fee notices for {switch:%d.%m.%Y}")
    table.add_row("notices the switch needs (one per payer)", str(len(planned)))
    table.add_row("rendered as PDF/A-3b and filed (family e-files)", str(min(SAMPLE,
                                                                         len(planned))))
    for kind, n in sorted(kinds.items()):
        table.add_row(f"containers {kind} delivered", str(n))
    table.add_row("documents imported (0630)", str(imported))
    table.add_row("dead letters", str(stats.dead))
    console.print(table)
