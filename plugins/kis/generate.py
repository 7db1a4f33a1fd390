"""Generate the offline street directory shipped as ``data/streets.csv.gz``.

Dresden's real directory comes from KIS (open data layer L134); the hub ships a generated
one that is consistent with the 64 statistical Stadtteile and their postcodes, so the demo
and the tests resolve every address the demo city uses. Deterministic: the same file on
every run. ``python -m ekita.plugins.kis.generate`` rewrites it.
"""

from __future__ import annotations

import csv
import gzip
import io
from importlib.resources import files
from pathlib import Path

#: Postcodes for the Stadtteile whose row in the district list has none.
EXTRA_PLZ = {"14": "01097,01127", "15": "01099", "32": "01109", "34": "01109",
             "41": "01326,01328", "44": "01099,01328", "56": "01237,01277", "64": "01259",
             "81": "01187,01069", "82": "01069,01219"}
#: The street names the demo city uses (core/demo/city.py): they exist in every Stadtteil.
DEMO_STREETS = """Lindenstraße Schulstraße Gartenstraße Bergstraße Ahornweg Birkenweg
Am_Wiesengrund Wiesenweg Rosenstraße Kastanienallee Mühlenweg Am_Anger Feldstraße Parkstraße
Waldstraße Lerchenweg Eichendorffstraße Hainstraße Friedensstraße Ringstraße Kirchweg
Am_Elbufer Weinbergstraße Talstraße Sonnenweg Fliederweg Tulpenweg Am_Hang Brunnenstraße
Marktstraße Querstraße Auenweg Amselweg Finkenweg Meisenweg Heideweg Am_Lehmberg Pappelallee
Kirschallee Am_Steinbruch Hauptstraße Am_Stadtpark""".replace("_", " ").split()
PREFIXES = """Bach Händel Schiller Goethe Lessing Herder Fichte Kant Leibniz Humboldt Bebel
Liebig Körner Richter Semper Pöppelmann Permoser Canaletto Dinglinger Wagner Weber Schumann
Kreuz Frauen Sophien Annen Martin Lukas Pauli Zions Elb Weißeritz Kaitz Lockwitz Prießnitz
Heller Loschwitz Pillnitz Wachwitz Borsberg Rochwitz Gönnsdorf Pappritz Eschdorf Schönfeld
Linden Eichen Buchen Erlen Eschen Ulmen Kiefern Tannen Fichten Lärchen Weiden Hasel Holunder
Rosen Nelken Astern Dahlien Veilchen Lilien Mohn Kornblumen Sonnen Mond Stern Regen Wolken
Wind Quell Mühl Brücken Tor Markt Schul Kirch Post Bahnhof Hafen Schloss Burg Garten Park
Wiesen Feld Acker Anger Hang Höhen Tal Grund Berg Fels Sand Lehm Kies Stein Ziegel""".split()  # noqa: SIM905
SUFFIXES = ["straße", "weg", "gasse", "allee", "ring", "platz", "steig", "pfad", "ufer",
            "höhe", "winkel", "hof"]
MODIFIERS = ["", "Alte ", "Neue ", "Obere ", "Untere "]
MAX_HOUSE = 400


def stadtteile() -> list[tuple[str, list[str]]]:
    text = (files("ekita.core.data") / "dresden_stadtteile.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    return [(r["stadtteil_nr"], (r["plz"] or EXTRA_PLZ.get(r["stadtteil_nr"], "01067")
                                 ).split(",")) for r in rows]


def synthetic_names() -> list[str]:
    return [f"{m}{p}{s}" for m in MODIFIERS for p in PREFIXES for s in SUFFIXES]


def rows() -> list[tuple[str, str, str, int, int, str]]:
    """(street_key, name, postcode, house_from, house_to, stadtteil_nr), sorted by key."""
    districts = stadtteile()
    names = synthetic_names()
    per = 85
    placed: dict[tuple[str, str], list[str]] = {}
    for i, (nr, plz) in enumerate(districts):
        for name in DEMO_STREETS:
            for code in plz:
                placed.setdefault((name, code), []).append(nr)
        for j, name in enumerate(names[i * per:(i + 1) * per]):
            placed.setdefault((name, plz[j % len(plz)]), []).append(nr)
    out: list[tuple[str, str, str, int, int, str]] = []
    for n, ((name, code), nrs) in enumerate(sorted(placed.items())):
        width = MAX_HOUSE // len(nrs)  # a street shared by Stadtteile: split by house number
        for k, nr in enumerate(nrs):
            last = MAX_HOUSE if k == len(nrs) - 1 else (k + 1) * width
            out.append((f"{n + 1:05d}", name, code, k * width + 1, last, nr))
    return out


def write(target: Path) -> int:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(["street_key", "name", "postcode", "house_from", "house_to", "stadtteil_nr"])
    data = rows()
    writer.writerows(data)
    target.write_bytes(gzip.compress(buffer.getvalue().encode(), mtime=0))
    return len(data)


if __name__ == "__main__":
    path = Path(__file__).with_name("data") / "streets.csv.gz"
    print(f"{write(path)} rows → {path}")
