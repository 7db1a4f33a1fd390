"""The embedded offline street directory: prefix suggestions and address → districts.

Loaded once per process from the shipped ``data/streets.csv.gz`` (or a refreshed KIS
snapshot in the same format). Prefix search is a binary search over the sorted,
normalised names, so a lookup costs microseconds even with thousands of streets.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

TOWN = "dresden"


def norm(name: str) -> str:
    """Case-, space- and spelling-insensitive key: "Lindenstr." == "lindenstraße"."""
    text = " ".join(name.casefold().split()).replace("ß", "ss")
    return re.sub(r"str\.?$", "strasse", text)


def in_dresden(postcode: str) -> bool:
    """Dresden's postcodes lie in 01067–01479 (the Ortschaften included)."""
    code = postcode.strip()
    return len(code) == 5 and code.isdigit() and 1067 <= int(code) <= 1479


def house_number(value: str | None) -> int | None:
    match = re.match(r"\s*(\d+)", value or "")
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Street:
    street_key: str
    name: str
    postcode: str
    house_from: int
    house_to: int
    stadtteil_nr: str


@dataclass(frozen=True)
class District:
    nr: str
    name: str
    bezirk: str
    art: str


@dataclass(frozen=True)
class Assignment:
    """A resolved address (interfaces.md §4: street key, postcode, Stadtteil, Bezirk)."""

    street_key: str
    postcode: str
    stadtteil_nr: str
    stadtteil: str
    bezirk: str
    art: str
    source_version: str


class Unresolved(Exception):
    """Why an address has no district: ``outside_dresden`` or ``unknown_street``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Directory:
    def __init__(self, streets: list[Street], districts: dict[str, District], version: str):
        self.version = version
        self.districts = districts
        self.streets = streets
        self._by_address: dict[tuple[str, str], list[Street]] = {}
        names: dict[str, dict[str, Street]] = {}
        for s in streets:
            self._by_address.setdefault((norm(s.name), s.postcode), []).append(s)
            names.setdefault(norm(s.name), {}).setdefault(s.postcode, s)
        self._sorted = sorted(names)
        self._names = names
        self.postcodes = frozenset(s.postcode for s in streets)

    @property
    def street_count(self) -> int:
        return len({s.street_key for s in self.streets})

    def suggest(self, prefix: str, limit: int = 20) -> list[dict[str, str]]:
        """Streets whose name starts with ``prefix``: name, key, postcode, Stadtteil."""
        key = norm(prefix)
        if not key:
            return []
        out: list[dict[str, str]] = []
        for name in self._sorted[bisect_left(self._sorted, key):]:
            if not name.startswith(key) or len(out) >= limit:
                break
            for s in self._names[name].values():
                out.append({"street_key": s.street_key, "name": s.name,
                            "postcode": s.postcode,
                            "stadtteil": self.districts[s.stadtteil_nr].name})
        return out[:limit]

    def resolve(self, street: str | None, house_no: str | None, postcode: str | None,
                town: str | None) -> Assignment:
        """The districts of a Dresden address; ``Unresolved`` otherwise (never a crash)."""
        if (town and norm(town) != TOWN) or (postcode and not in_dresden(postcode)):
            raise Unresolved("outside_dresden")
        if not street or not postcode:
            raise Unresolved("incomplete_address")
        segments = self._by_address.get((norm(street), postcode.strip()))
        if not segments:
            raise Unresolved("unknown_street")
        number = house_number(house_no)
        hit = next((s for s in segments if number is None or s.house_from <= number <= s.house_to),
                   segments[0])
        d = self.districts[hit.stadtteil_nr]
        return Assignment(hit.street_key, hit.postcode, d.nr, d.name, d.bezirk, d.art,
                          self.version)


def _districts() -> dict[str, District]:
    text = (files("ekita.core.data") / "dresden_stadtteile.csv").read_text(encoding="utf-8")
    return {r["stadtteil_nr"]: District(r["stadtteil_nr"], r["stadtteil"],
                                        r["stadtbezirk_oder_ortschaft"], r["art"])
            for r in csv.DictReader(io.StringIO(text), delimiter=";")}


def shipped_path() -> Path:
    return Path(str(files("ekita.plugins.kis") / "data" / "streets.csv.gz"))


@cache
def load(path: str | None = None) -> Directory:
    """The directory from ``path`` (default: the shipped one), once per process."""
    raw = Path(path or shipped_path()).read_bytes()
    rows = csv.DictReader(io.StringIO(gzip.decompress(raw).decode("utf-8")), delimiter=";")
    streets = [Street(r["street_key"], r["name"], r["postcode"], int(r["house_from"]),
                      int(r["house_to"]), r["stadtteil_nr"]) for r in rows]
    version = "offline-" + hashlib.sha256(raw).hexdigest()[:12]
    return Directory(streets, _districts(), version)
