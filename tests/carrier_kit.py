"""Helpers for the carrier exchange tests: a world, its export rows, files to import."""

from __future__ import annotations

from ekita.core.outbox import declare_recipient
from ekita.plugins.carrier_export import NAME
from ekita.plugins.carrier_export.export import collect
from ekita.plugins.carrier_export.records import PERSONAL
from tests.conftest import work
from tests.world import World, build_world


def world_with_recipient(engine) -> World:
    declare_recipient(NAME, PERSONAL)
    return build_world(engine)


def rows_of_carrier(engine, carrier_id: int) -> list[dict]:
    with work(engine) as s:
        return collect(s, carrier_id)
