"""The MESO part of ``ekita-hub demo``: address checks over SOAP against the sandbox peer."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select

from ekita.core.access import Principal
from ekita.core.db.session import unit_of_work
from ekita.core.models import Child, Guardian
from ekita.plugins.meso import client, register
from ekita.plugins.meso.codes import Purpose
from ekita.plugins.meso.peer import MesoPeer
from ekita.plugins.meso.settings import MesoSettings

SAMPLE = 200


def _sample(engine: Engine) -> list[dict[str, Any]]:
    """The first children with an address (their own, else a guardian's), as request fields."""
    with unit_of_work(engine, Principal.system("demo", "meso")) as s:
        children = list(s.scalars(select(Child).order_by(Child.id).limit(SAMPLE * 2)))
        families = {c.family_id for c in children}
        guardians = {g.family_id: g for g in s.scalars(
            select(Guardian).where(Guardian.family_id.in_(families)).order_by(Guardian.id))
            if g.street}
    fields = []
    for c in children:
        home = c if c.street else guardians.get(c.family_id)
        if home is None:
            continue
        fields.append({"family_name": c.family_name, "first_name": c.first_name,
                       "birth_date": c.birth_date.isoformat(), "street": home.street,
                       "house_no": home.house_no or "", "postcode": home.postcode or "",
                       "town": home.town or "Dresden"})
    return fields[:SAMPLE]


def run(engine: Engine, today: date, console: Console) -> None:
    with unit_of_work(engine, Principal.system("demo", "meso")) as s:
        residents = register.from_database(s, today)
    requests = _sample(engine)
    with MesoPeer(residents) as peer:
        settings = MesoSettings(url=peer.url)
        codes = Counter(client.check(settings, f"demo-{i}", Purpose.RECHECK, fields,
                                     settings.operation_timeout_s).code.name
                        for i, fields in enumerate(requests))
    table = Table("MESO result (SOAP, sandbox register)", "addresses",
                  title=f"Registry re-check of {len(requests)} addresses")
    for code, n in sorted(codes.items()):
        table.add_row(code.lower(), str(n))
    console.print(table)
