"""The KIS part of ``ekita-hub demo``: street search and district lookup over REST."""

from __future__ import annotations

from datetime import date

from rich.console import Console
from sqlalchemy import Engine

from ekita.plugins.kis import client
from ekita.plugins.kis.peer import KisPeer

PREFIX = "Haupt"


def run(engine: Engine, today: date, console: Console) -> None:
    with KisPeer() as peer:
        streets = client.suggest(peer.url, 5.0, PREFIX, 3)
        found = [client.resolve(peer.url, 5.0, s["name"], "1", s["postcode"], "Dresden")
                 for s in streets]
    console.print(f"KIS (REST, sandbox directory): streets starting with {PREFIX!r}:")
    for street, place in zip(streets, found, strict=True):
        console.print(f"  {street['name']} 1, {street['postcode']} Dresden → Stadtteil "
                      f"{place.stadtteil_nr} {place.stadtteil}, {place.art} {place.bezirk}")
