"""Benchmark: the collective fee notice after a statute change (Lastenheft 3.10.14.2).

Set-up, not timed: the demo city (~41,500 contracts) is loaded by a child process into
a fresh database (SQLite file, or a scratch PostgreSQL database with ``--database-url``),
with the 2011 statute and the default templates; the tenant "city" files into DOMEA.

Timed, through the production path (``ekita.core.services.fees.notices``):

* ``plan_s``: ``notices.plan`` for the next 1st of a month, the whole city assessed;
* render and file the first N notices (``notices.issue``: fields, template version, Typst
  PDF/A-3b, family file, 0604/0605 outbox messages; 250 per transaction), split into
  ``render_s`` (time inside ``render.render_pdf``) and ``file_s`` (the rest);
* ``deliver_s``: the worker delivers the xdomea containers (0604 per new family file, 0605
  per notice, each validated against xdomea 3.0.0 by adapter and DMS) to the sandbox DMS,
  which runs in its own process as a remote DMS would.

Floor, in the same run: Typst compiling the finished sources of the same notices (no
template fill, no translation, no database), the engine's own speed.

    python bench/documents.py [--notices 5000] [--database-url postgresql+psycopg://…]

Goal: ``total_s`` (plan + render + file + deliver) ≤ 120 s on the 2-core machine. The
last line is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import Any

import typst
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parent))
from demo_load import scratch_database, shared_data_key

from ekita.core.access import Principal
from ekita.core.db.session import make_engine, unit_of_work
from ekita.core.models.exchange import MessageStatus, OutboxMessage
from ekita.core.services.documents import render, templates
from ekita.core.services.documents.letterhead import Letterhead
from ekita.core.services.documents.markup import to_typst
from ekita.core.services.fees import notices, statutes
from ekita.core.services.fees.rules import add_months
from ekita.hub.config import AdapterSection, RetryPolicy, Settings, WorkerSettings
from ekita.hub.delivery.worker import Worker
from ekita.hub.plugins import load_plugins
from ekita.hub.testkit.remote import spawn_peer

SYSTEM = Principal.system("bench", "bench-documents")
DMS = """
from ekita.plugins.domea.peer import serve
serve(port=0)
"""
LOAD_CITY = """
import os
import sys
from ekita.core import crypto, demo
crypto.configure(os.environ["EKITA_DATA_KEY"])  # the parent's (shared_data_key)
from ekita.core.db.migrate import upgrade
from ekita.core.db.session import make_engine
engine = make_engine(sys.argv[1])
upgrade(engine)
city = demo.generate(demo.DEFAULT_SEED)
demo.load(engine, city)
print(city.today.isoformat())
"""


class Stopwatch:
    """Adds up the time spent inside one function (here: the Typst rendering)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.sources: list[bytes] = []

    def wrap(self, fn: Callable[..., bytes]) -> Callable[..., bytes]:
        def timed(html: str, *args: Any, **kwargs: Any) -> bytes:
            begun = time.perf_counter()
            try:
                return fn(html, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - begun
                self.sources.append(html.encode())
        return timed


def floor(htmls: list[bytes]) -> float:
    """Typst alone on the finished sources of the same notices (made untimed)."""
    sources = [to_typst(h.decode()).encode() for h in htmls]
    compiler = typst.Compiler()
    compiler.compile(sources[0], format="pdf", pdf_standards=["a-3b"])
    started = time.perf_counter()
    for source in sources:
        compiler.compile(source, format="pdf", pdf_standards=["a-3b"])
    return len(sources) / (time.perf_counter() - started)


def deliver(engine: Any, url: str) -> tuple[float, int, int]:
    # The sandbox DMS in its own process, as the city's DMS would be: not on our GIL.
    with spawn_peer(command=[sys.executable, "-c", DMS]) as dms:
        settings = Settings(
            database_url=url, load_plugins=["domea"],
            adapters={"domea": AdapterSection(
                settings={"url": dms.url, "database_url": url},
                retry=RetryPolicy(max_attempts=5, backoff_initial_s=0.05, backoff_max_s=0.5,
                                  jitter_s=0.0, timeout_s=10.0))},
            worker=WorkerSettings(batch_size=100, poll_s=0.05, lease_margin_s=30.0))
        worker = Worker(engine, load_plugins(settings), settings, "bench")
        started = time.perf_counter()
        while True:
            worker.run(idle_exit=True)
            with unit_of_work(engine, SYSTEM) as s:
                open_ = s.scalar(select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.status.in_([MessageStatus.PENDING, MessageStatus.FAILED,
                                              MessageStatus.IN_FLIGHT])))
            if not open_:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        effects = dms.effects
    documents = sum(1 for key in effects if ":file_document:" in key)
    return elapsed, len(effects), documents


def run(url: str, n: int) -> dict[str, Any]:
    loaded = subprocess.run([sys.executable, "-c", LOAD_CITY, url], capture_output=True,
                            text=True, check=True)
    today = date.fromisoformat(loaded.stdout.strip().splitlines()[-1])
    switch = add_months(today.replace(day=1), 1)
    engine = make_engine(url)
    with unit_of_work(engine, SYSTEM) as s:
        statutes.load_default(s)
        templates.install_defaults(s)
    load_plugins(Settings(database_url=url, load_plugins=["domea"]))  # recipient "domea"
    watch = Stopwatch()
    render.render_pdf = watch.wrap(render.render_pdf)  # generate.py calls it by module

    started = time.perf_counter()
    with unit_of_work(engine, SYSTEM) as s:
        planned = notices.plan(s, switch)[:n]
    planned_at = time.perf_counter()
    for chunk in range(0, len(planned), 250):
        with unit_of_work(engine, SYSTEM) as s:
            for notice in planned[chunk:chunk + 250]:
                notices.issue(s, notice, switch, issued_on=today, letterhead=Letterhead(),
                              target="domea")
    filed_at = time.perf_counter()
    print(f"planned in {planned_at - started:.1f} s; rendered {len(planned)} notices in "
          f"{watch.seconds:.1f} s, filed in {filed_at - planned_at - watch.seconds:.1f} s",
          file=sys.stderr)
    deliver_s, containers, documents = deliver(engine, url)
    with unit_of_work(engine, SYSTEM) as s:
        dead = s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == MessageStatus.DEAD))
    issued = len(planned)
    file_s = filed_at - planned_at - watch.seconds
    total = filed_at - started + deliver_s
    engine.dispose()
    return {
        "notices": issued,
        "render_per_s": round(issued / watch.seconds, 1),
        "floor_typst_per_s": round(floor(watch.sources), 1),
        "file_per_s": round(issued / file_s, 1),
        "deliver_per_s": round(containers / deliver_s, 1),
        "containers": containers, "dms_documents": documents, "dead": dead,
        "plan_s": round(planned_at - started, 1), "render_s": round(watch.seconds, 1),
        "file_s": round(file_s, 1), "deliver_s": round(deliver_s, 1),
        "total_s": round(total, 1), "goal_total_s": 120,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "database": engine.dialect.name, "switch": switch.isoformat(),
    }


def main(argv: list[str] | None = None) -> int:
    shared_data_key()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=5000)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL server URL; a scratch database is made and dropped")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="ekita-bench-docs-")
    target = (scratch_database(make_engine(args.database_url).execution_options(
        isolation_level="AUTOCOMMIT"), "ekita_bench_documents") if args.database_url
        else nullcontext(f"sqlite:///{Path(folder) / 'bench.db'}"))
    with target as url:
        result = run(url, args.notices)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
