"""Billing benchmark on PostgreSQL: the debit run for 45,000 contracts and its IDoc-XML file.

Usage: ``.venv/bin/python bench/billing.py`` (PostgreSQL from ``EKITA_BENCH_DATABASE_URL``,
default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``; a scratch database is
created and dropped). The demo city (``ekita.core.demo.city.generate``, ~41,500 contracts)
is topped up to 45,000 by cloning whole families, every carrier is made municipal so
every contract is debited, and the city is loaded by a child process (so the generator's
memory does not count). Then, measured in this process:

* ``debit_run_s``: ``run_debit`` for the month after the city's date — assessment of all
  contracts, 45,000 receivable lines, their SAP-FI messages, debtor records and trailer, in
  one committed transaction — plus the IDoc-XML file rendered and XSD-validated by
  ``ekita.plugins.sap_fi.idoc.render_receivables``;
* ``floor_s``: the same number of lines serialised with lxml alone (``etree.xmlfile``,
  one element per line with the same fields), no database, no validation.

* ``correction_run_s`` (issue 13): after 2 % of the debited contracts got an hours change
  valid from the 1st of that month (a dated change in a debited month, entered with an
  override of the notice rule, not timed), ``run_corrections`` for that month: every
  contract re-assessed from its terms, the differences booked as one correction run;
  ``correction_floor_s`` is the month's assessment alone (``MonthAssessor.all``).

Goals: ``debit_run_s`` ≤ 30 s, ``correction_run_s`` ≤ 10 s and ``peak_rss_mb`` ≤ 500 on
the 2-core machine. Last line: one JSON object.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import Engine, func, select, text

sys.path.insert(0, str(Path(__file__).parent))
from demo_load import scratch_database, shared_data_key

CONTRACTS = int(os.environ.get("EKITA_BENCH_CONTRACTS", "45000"))
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_S, GOAL_MB = 30.0, 500.0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- the city (child process)


def top_up(city: Any, target: int) -> None:
    """Clone whole families (children, PKNs, guardians, links, contracts) until ``target``."""
    from ekita.core.models.enums import CarrierCategory

    for carrier in city.carriers:
        carrier["category"] = CarrierCategory.MUNICIPAL
    by_family: dict[int, dict[str, list]] = {}
    for kind in ("children", "guardians", "pkns"):
        for row in getattr(city, kind):
            by_family.setdefault(row["family_id"], {}).setdefault(kind, []).append(row)
    links_of: dict[int, list] = {}
    for row in city.child_guardians:
        links_of.setdefault(row["child_id"], []).append(row)
    contracts_of: dict[int, list] = {}
    for row in city.care_contracts:
        contracts_of.setdefault(row["child_id"], []).append(row)
    next_id = {k: max(r["id"] for r in getattr(city, k)) + 1 for k in
               ("families", "children", "guardians", "pkns", "child_guardians",
                "care_contracts")}
    number = 900000
    count = len(city.care_contracts)
    for family in list(city.families):
        if count >= target:
            break
        parts = by_family.get(family["id"], {})
        new_family = {**family, "id": next_id["families"], "number": str(number)}
        next_id["families"] += 1
        number += 1
        city.families.append(new_family)
        guardian_map = {}
        for g in parts.get("guardians", []):
            guardian_map[g["id"]] = next_id["guardians"]
            city.guardians.append({**g, "id": next_id["guardians"],
                                   "family_id": new_family["id"]})
            next_id["guardians"] += 1
        for child in parts.get("children", []):
            new_child = {**child, "id": next_id["children"], "family_id": new_family["id"]}
            next_id["children"] += 1
            city.children.append(new_child)
            for p in parts.get("pkns", []):
                if p["child_id"] == child["id"]:
                    city.pkns.append({**p, "id": next_id["pkns"], "child_id": new_child["id"],
                                      "family_id": new_family["id"],
                                      "number": new_family["number"] + p["number"][6:],
                                      "successor_id": None})
                    next_id["pkns"] += 1
            for link in links_of.get(child["id"], []):
                city.child_guardians.append({**link, "id": next_id["child_guardians"],
                                             "child_id": new_child["id"],
                                             "guardian_id": guardian_map[link["guardian_id"]]})
                next_id["child_guardians"] += 1
            for c in contracts_of.get(child["id"], []):
                city.care_contracts.append(copy.copy({
                    **c, "id": next_id["care_contracts"], "child_id": new_child["id"],
                    "payer_guardian_id": guardian_map[c["payer_guardian_id"]]}))
                next_id["care_contracts"] += 1
                count += 1


def load_city(url: str) -> None:
    """Child process: generate, top up and load the city; print its date."""
    from ekita.core import demo
    from ekita.core.db.migrate import upgrade
    from ekita.core.db.session import make_engine

    city = demo.generate(demo.DEFAULT_SEED)
    top_up(city, CONTRACTS)
    engine = make_engine(url)
    upgrade(engine)
    demo.load(engine, city)
    print(city.today.isoformat())


# ---------------------------------------------------------------- measured part


def debit_run(engine: Engine, period: str) -> tuple[dict[str, Any], float, float, int]:
    from ekita.core.access import Principal
    from ekita.core.db.session import unit_of_work
    from ekita.core.models.fees import DebitRun, ReceivableLine
    from ekita.core.services.fees.debit_run import run_debit
    from ekita.plugins.sap_fi.idoc import render_receivables

    system = Principal.system("bench", "billing")
    started = time.perf_counter()
    with unit_of_work(engine, system) as session:
        result = run_debit(session, period)
        lines, run_id = result.lines, result.run_id
        trailer = {"run_id": run_id, "period": period, "line_count": result.record_count,
                   "sum_cents": result.control_sum_cents}
    db_s = time.perf_counter() - started
    xml = render_receivables(lines, trailer)
    total_s = time.perf_counter() - started
    with unit_of_work(engine, system) as session:
        stored = session.execute(select(func.count(), func.sum(ReceivableLine.amount_cents))
                                 .where(ReceivableLine.run_id == run_id)).one()
        run = session.get_one(DebitRun, run_id)
        assert (stored[0], stored[1]) == (run.record_count, run.control_sum_cents)
    figures = {"lines": result.record_count, "control_sum_cents": result.control_sum_cents,
               "quarantined": result.quarantined}
    return figures, total_s, db_s, len(xml)


def correction_run(engine: Engine, period: str, share: float = 0.02
                   ) -> tuple[int, int, float, float]:
    """Dated hour changes for ``share`` of the debited contracts, then the correction run
    of ``period``; returns (changed, correction lines, seconds, floor seconds)."""
    from decimal import Decimal

    from ekita.core.access import Principal
    from ekita.core.db.session import unit_of_work
    from ekita.core.models import CareContract
    from ekita.core.models.fees import DebitRun, ReceivableLine
    from ekita.core.services import contracts
    from ekita.core.services.fees.assessment import MonthAssessor
    from ekita.core.services.fees.corrections import run_corrections
    from ekita.core.services.fees.rules import month_start
    from ekita.core.tracking import valid_from

    system = Principal.system("bench", "billing")
    first = month_start(period)
    with unit_of_work(engine, system) as session:
        ids = sorted(set(session.scalars(
            select(ReceivableLine.contract_id).join(DebitRun,
                                                    DebitRun.id == ReceivableLine.run_id)
            .where(DebitRun.period == period))))
        step = max(1, round(1 / share))
        chosen = ids[::step]
        with valid_from(session, first):
            for cid in chosen:
                current = session.get_one(CareContract, cid).daily_hours
                new = current - Decimal(1) if current > Decimal(6) else current + Decimal(1)
                contracts.update_contract(session, cid, {"daily_hours": new},
                                          override_reason="benchmark: dated change")
        session.commit()
    started = time.perf_counter()
    with unit_of_work(engine, system) as session:
        result = run_corrections(session, [period], on=first)
        session.commit()
    run_s = time.perf_counter() - started
    started = time.perf_counter()
    with unit_of_work(engine, system) as session:
        MonthAssessor(session, first).all(debit_scope_only=True)
    return len(chosen), result.record_count, run_s, time.perf_counter() - started


def floor(lines: int) -> float:
    """lxml alone: the same number of lines with the same fields, streamed."""
    started = time.perf_counter()
    out = BytesIO()
    with etree.xmlfile(out, encoding="UTF-8") as xf, xf.element("LINES"):
        for i in range(lines):
            el = etree.Element("LINE")
            for tag, value in (("REF", f"2026-12-{i:08d}-1-ELTERNBEITRAG-SOLL-0"),
                               ("PKN", f"{i:08d}"), ("CONTRACT", str(i)),
                               ("COST_CENTRE", "KST-1"), ("PERIOD", "202612"),
                               ("FEE_TYPE", "ELTERNBEITRAG"), ("KIND", "SOLL"),
                               ("AMOUNT", "189.36"), ("DUE", "20261215")):
                etree.SubElement(el, tag).text = value
            xf.write(el)
    return time.perf_counter() - started


def main() -> int:
    shared_data_key()
    if len(sys.argv) == 3 and sys.argv[1] == "--load":
        load_city(sys.argv[2])
        return 0
    from ekita.core.db.session import make_engine, normalise_url
    from ekita.core.outbox import declare_recipient
    from ekita.core.services.fees.rules import add_months, period_of
    from ekita.core.services.fees.statutes import load_default
    from ekita.plugins.sap_fi import PERSONAL_FIELDS

    declare_recipient("sap_fi", PERSONAL_FIELDS)
    url = normalise_url(os.environ.get("EKITA_BENCH_DATABASE_URL", DEFAULT_PG))
    admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with scratch_database(admin, f"ekita_bench_billing_{os.getpid()}") as scratch:
        say("generating and loading the city (child process)")
        started = time.perf_counter()
        loaded = subprocess.run([sys.executable, __file__, "--load", scratch], check=True,
                                capture_output=True, text=True)
        today = loaded.stdout.strip().splitlines()[-1]
        say(f"city loaded in {time.perf_counter() - started:.1f} s (date {today})")
        engine = make_engine(scratch)
        from datetime import date

        from ekita.core.access import Principal
        from ekita.core.db.session import unit_of_work

        with unit_of_work(engine, Principal.system("bench", "billing")) as session:
            load_default(session)
            contracts = session.execute(text("SELECT count(*) FROM care_contract")).scalar()
        period = period_of(add_months(date.fromisoformat(today).replace(day=1), 1))
        say(f"debit run for {period}: {contracts} contracts")
        figures, run_s, db_s, xml_bytes = debit_run(engine, period)
        peak = rss_mb()
        say(f"debit run {run_s:.2f} s (database part {db_s:.2f} s), "
            f"{figures['lines']} lines, XML {xml_bytes / 1e6:.1f} MB")
        floor_s = floor(figures["lines"])
        say(f"floor (lxml alone) {floor_s:.2f} s")
        changed, correction_lines, correction_s, correction_floor_s = correction_run(
            engine, period)
        say(f"correction run after {changed} dated changes: {correction_s:.2f} s, "
            f"{correction_lines} lines (floor: the month's assessment {correction_floor_s:.2f} s)")
        engine.dispose()
    result = {"contracts": contracts, "period": period, **figures,
              "debit_run_s": round(run_s, 2), "debit_run_db_s": round(db_s, 2),
              "floor_s": round(floor_s, 2), "xml_mb": round(xml_bytes / 1e6, 1),
              "changed_contracts": changed, "correction_lines": correction_lines,
              "correction_run_s": round(correction_s, 2),
              "correction_floor_s": round(correction_floor_s, 2),
              "peak_rss_mb": round(max(peak, rss_mb()), 1),
              "within_goal": run_s <= GOAL_S and peak <= GOAL_MB and correction_s <= 10,
              "cpu_count": os.cpu_count()}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
