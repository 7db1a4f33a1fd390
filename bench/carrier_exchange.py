"""Carrier exchange benchmark on PostgreSQL (issue 5).

Loads the demo city, topped up to 42,000 facility contracts, into a scratch database and
builds the import files (in child processes, so their memory does not count), gives
every facility to one carrier, then measures in this process:

- the export of the carrier's ~42,000 contracts as CSV (collect, enqueue, render);
- the import of a 50,000-row CSV end to end (parse, validate, match, upsert, report):
  the export with 2 % of the rows changed (daily hours) plus rows of unknown children
  up to 50,000 (quarantined);
- the same as a 50,000-record hub XML file;
- the floors: ``csv.reader`` plus ``COPY`` into a temporary table, and ``lxml.iterparse``
  alone.

Last line: one JSON object. Goals: CSV import >= 20,000 rows/s, peak RSS <= 300 MB,
export <= 3 s.

    python bench/carrier_exchange.py [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import text

from ekita.core.access import Principal
from ekita.core.db.session import make_engine, normalise_url, unit_of_work

ROWS = 50_000
CONTRACTS = 42_000  # Lastenheft 4.1: about 42,000 places
BENCH = Principal.system("bench", "carrier-exchange")


def setup(url: str) -> None:
    """Child process: migrate, load the demo city topped up to 42,000 facility contracts
    (as bench/billing.py does: whole families cloned), give every facility to one
    carrier."""
    from billing import top_up

    from ekita.core import demo
    from ekita.core.db.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    city = demo.generate()
    # Childminding contracts are not the carrier's: grow all contracts in proportion.
    in_facilities = sum(1 for c in city.care_contracts if c.get("facility_id"))
    top_up(city, len(city.care_contracts) * CONTRACTS // in_facilities + 200)
    demo.load(engine, city, None, copy=True)
    with engine.begin() as conn:
        carrier = conn.execute(text("SELECT min(id) FROM carrier")).scalar()
        conn.execute(text("UPDATE facility SET carrier_id = :c"), {"c": carrier})
    engine.dispose()


def build_files(url: str, folder: str) -> None:
    """Child process: the 50,000-row CSV and XML import files, written to ``folder``
    (built here, so their construction does not count in the measured peak RSS)."""
    from ekita.plugins.carrier_export import render
    from ekita.plugins.carrier_export.export import collect
    from ekita.plugins.carrier_export.profile import load_profile

    engine = make_engine(url)
    csv_profile, xml_profile = load_profile("hub-csv"), load_profile("hub-xml")
    with engine.connect() as conn:
        carrier = conn.execute(text("SELECT min(id) FROM carrier")).scalar()
    with unit_of_work(engine, BENCH) as s:
        base = collect(s, carrier)
    contract_rows = [r for r in base if r["record_type"] == "contract"]
    for n, row in enumerate(contract_rows):
        if n % 50 == 0:
            row["daily_hours"] = "8.00" if row["daily_hours"] != "8.00" else "7.00"
    extra = [{**contract_rows[i % len(contract_rows)], "family_name": f"Unbekannt{i}",
              "pkn": None, "contract_ref": None}
             for i in range(max(0, ROWS - len(contract_rows)))]
    file_rows = (contract_rows + extra)[:ROWS]
    csv_file = render(file_rows, csv_profile, {})[0]
    for row in file_rows:
        if row["daily_hours"] == "8.00":
            row["daily_hours"] = "8.50"
    xml_file = render(file_rows, xml_profile, {"carrier": str(carrier)})[0]

    (Path(folder) / "import.csv").write_bytes(csv_file)
    (Path(folder) / "import.xml").write_bytes(xml_file)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(url: str, folder: str) -> dict[str, Any]:
    from ekita.core.outbox import declare_recipient
    from ekita.plugins.carrier_export import NAME, export_carrier, render
    from ekita.plugins.carrier_export.importer import import_file
    from ekita.plugins.carrier_export.profile import load_profile
    from ekita.plugins.carrier_export.records import PERSONAL, unpack

    engine = make_engine(url)
    declare_recipient(NAME, PERSONAL)
    csv_profile, xml_profile = load_profile("hub-csv"), load_profile("hub-xml")
    with engine.connect() as conn:
        carrier = conn.execute(text("SELECT min(id) FROM carrier")).scalar()

    started = time.perf_counter()
    with unit_of_work(engine, BENCH) as s:
        queued, exported = export_carrier(s, carrier, csv_profile, full=True)
        payload = s.execute(text("SELECT payload FROM outbox_message WHERE id = :i"),
                            {"i": queued.id}).scalar()
    rows = unpack((payload if isinstance(payload, dict) else json.loads(payload))["records"])
    content = render(rows, csv_profile, {})[0]
    export_s = time.perf_counter() - started
    print(f"export: {exported} records, {len(content) / 1e6:.1f} MB, {export_s:.2f} s, "
          f"peak RSS {rss_mb():.0f} MB", file=sys.stderr)

    subprocess.run([sys.executable, __file__, "--files", url, folder], check=True)
    csv_file = (Path(folder) / "import.csv").read_bytes()
    xml_file = (Path(folder) / "import.xml").read_bytes()
    n_rows = ROWS
    del rows, payload, content

    def timed_import(content: bytes, profile: Any) -> tuple[float, Any]:
        t0 = time.perf_counter()
        with unit_of_work(engine, BENCH) as s:
            report = import_file(s, carrier, content, source="bench", profile=profile)
        return time.perf_counter() - t0, report

    csv_s, csv_report = timed_import(csv_file, csv_profile)
    print(f"csv import: {csv_s:.2f} s, peak RSS {rss_mb():.0f} MB; "
          f"{csv_report.as_text().splitlines()[1]}", file=sys.stderr)
    xml_s, xml_report = timed_import(xml_file, xml_profile)
    print(f"xml import: {xml_s:.2f} s, peak RSS {rss_mb():.0f} MB; "
          f"{xml_report.as_text().splitlines()[1]}", file=sys.stderr)

    t0 = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("CREATE TEMP TABLE floor_rows (" + ", ".join(
            f"c{i} text" for i in range(20)) + ")")
        with cur.copy("COPY floor_rows FROM STDIN") as copy:
            reader = csv.reader(io.StringIO(csv_file.decode("utf-8"), newline=""))
            next(reader)
            for cells in reader:
                copy.write_row(cells)
        raw.rollback()
    finally:
        raw.close()
    csv_floor_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    count = 0
    for _, element in etree.iterparse(io.BytesIO(xml_file), events=("end",),
                                      tag="{urn:ekita:carrier-exchange:v1}record",
                                      resolve_entities=False, no_network=True):
        count += 1
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
    xml_floor_s = time.perf_counter() - t0
    engine.dispose()
    return {
        "rows": n_rows, "exported_records": exported,
        "csv_import_s": round(csv_s, 2), "xml_import_s": round(xml_s, 2),
        "csv_import_rows_per_s": round(n_rows / csv_s),
        "csv_floor_rows_per_s": round(n_rows / csv_floor_s),
        "xml_import_rows_per_s": round(n_rows / xml_s),
        "xml_floor_rows_per_s": round(count / xml_floor_s),
        "csv_updated": csv_report.updated, "csv_quarantined": csv_report.quarantined,
        "xml_updated": xml_report.updated, "xml_quarantined": xml_report.quarantined,
        "export_42k_s": round(export_s, 2), "peak_rss_mb": round(rss_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--setup", help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        setup(args.setup)
        return
    if args.files:
        build_files(*args.files)
        return
    from demo_load import scratch_database

    admin = make_engine(normalise_url(args.database_url)).execution_options(
        isolation_level="AUTOCOMMIT")
    with (scratch_database(admin, f"ekita_bench_carrier_{uuid.uuid4().hex[:8]}") as url,
          tempfile.TemporaryDirectory(prefix="ekita-bench-carrier-") as folder):
        print("loading the demo city …", file=sys.stderr)
        subprocess.run([sys.executable, __file__, "--setup", url], check=True)
        result = bench(url, folder)
    admin.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
