"""Benchmark: the mass fee notice after a statute change (Lastenheft 3.10.14.2).

Renders N fee notices (PDF/A-3b, WeasyPrint, one process per core), files them in the
families' files (internal store, one transaction per 250 notices) with the DOMEA outbox
messages, and delivers the xdomea containers (0604 per new family file, 0605 per notice,
each validated against xdomea 3.0.0) through the delivery engine to the sandbox DMS.

    python bench/documents.py [--notices 5000] [--database-url URL] [--processes 2]

The last line is a JSON object: notices, render_per_s, file_per_s, deliver_per_s,
containers, total_s, peak_rss_mb (largest of this process and its render processes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from ekita.core.access import Principal
from ekita.core.db.migrate import upgrade
from ekita.core.db.session import make_engine, unit_of_work
from ekita.core.models import Family
from ekita.core.models.documents import Direction, DocumentTemplate, DocumentType
from ekita.core.models.exchange import MessageStatus, OutboxMessage
from ekita.core.services.documents import family_file as ff
from ekita.core.services.documents import render, templates
from ekita.core.services.documents.samples import SAMPLES
from ekita.hub.config import AdapterSection, RetryPolicy, Settings, WorkerSettings
from ekita.hub.delivery.worker import Worker
from ekita.hub.plugins import load_plugins
from ekita.plugins.domea.peer import DomeaPeer

NOTICE = DocumentType.FEE_NOTICE_SINGLE_DEBIT
ON = date(2027, 1, 4)
SYSTEM = Principal.system("bench", "bench-documents")
_template: DocumentTemplate | None = None


def _init(title: str, statute: str, body: str) -> None:
    global _template
    _template = DocumentTemplate(doc_type=NOTICE, title=title, statute_ref=statute, body=body,
                                 valid_from=ON)


def _fields(i: int) -> dict[str, Any]:
    return {**SAMPLES[NOTICE], "recipient_name": f"Familie Beispiel {i}",
            "pkn": f"{100000 + i:06d}01", "child_name": f"Kind {i}",
            "amount": Decimal(150 + i % 120) + Decimal("0.50")}


def _render(i: int) -> tuple[int, bytes]:
    assert _template is not None
    html = render.page_html(_template.title, templates.fill(_template, _fields(i)))
    return i, render.render_pdf(html)


def _rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=5000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    n = args.notices
    folder = tempfile.mkdtemp(prefix="ekita-bench-docs-")
    url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(engine, SYSTEM) as s:
        templates.install_defaults(s)
        template = templates.template_for(s, NOTICE, ON)
        title, statute, body, template_id = (template.title, template.statute_ref,
                                             template.body, template.id)
        start_no = int(s.scalar(select(func.count()).select_from(Family)) or 0)
        s.execute(insert(Family), [{"number": f"{100000 + start_no + i:06d}"}
                                   for i in range(n)])
        family_ids = list(s.scalars(select(Family.id).order_by(Family.id)))[-n:]
    load_plugins(Settings(database_url=url, load_plugins=["domea"]))  # recipient "domea"
    started = time.perf_counter()

    ctx = get_context("fork")
    with ctx.Pool(args.processes, initializer=_init, initargs=(title, statute, body)) as pool:
        pdfs = dict(pool.imap_unordered(_render, range(n), chunksize=25))
    rendered = time.perf_counter()
    print(f"rendered {n} notices in {rendered - started:.1f} s", file=sys.stderr)

    base = ff.Filing(family_id=0, business_key="", doc_class=NOTICE.value, title=title,
                     file_name=f"{NOTICE.value}_{ON.isoformat()}.pdf",
                     media_type="application/pdf", direction=Direction.OUTGOING,
                     reference_date=ON, machine_generated=True, statute_ref=statute,
                     template_id=template_id, valid_from=date(2027, 1, 1))
    for chunk in range(0, n, 250):
        with unit_of_work(engine, SYSTEM) as s:
            for i in range(chunk, min(chunk + 250, n)):
                filing = replace(base, family_id=family_ids[i], pkn=f"{100000 + i:06d}01",
                                 business_key=f"fee-statute-2027:{family_ids[i]}")
                ff.file_document(s, filing, pdfs[i], target="domea")
    filed = time.perf_counter()
    print(f"filed {n} notices in {filed - rendered:.1f} s", file=sys.stderr)

    with DomeaPeer() as dms:
        settings = Settings(
            database_url=url, load_plugins=["domea"],
            adapters={"domea": AdapterSection(
                settings={"url": dms.url, "database_url": url},
                retry=RetryPolicy(max_attempts=5, backoff_initial_s=0.05, backoff_max_s=0.5,
                                  jitter_s=0.0, timeout_s=10.0))},
            worker=WorkerSettings(batch_size=100, poll_s=0.05, lease_margin_s=30.0))
        worker = Worker(engine, load_plugins(settings), settings, "bench")
        while True:
            worker.run(idle_exit=True)
            with unit_of_work(engine, SYSTEM) as s:
                open_ = s.scalar(select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.status.in_([MessageStatus.PENDING, MessageStatus.FAILED,
                                              MessageStatus.IN_FLIGHT])))
            if not open_:
                break
            time.sleep(0.2)
        delivered = time.perf_counter()
        documents = len(dms.documents())
        containers = len(dms.state.containers)
    with unit_of_work(engine, SYSTEM) as s:
        dead = s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == MessageStatus.DEAD))
    result = {
        "notices": n,
        "render_per_s": round(n / (rendered - started), 1),
        "file_per_s": round(n / (filed - rendered), 1),
        "deliver_per_s": round(containers / (delivered - filed), 1),
        "containers": containers,
        "dms_documents": documents,
        "dead": dead,
        "render_s": round(rendered - started, 1),
        "file_s": round(filed - rendered, 1),
        "deliver_s": round(delivered - filed, 1),
        "total_s": round(delivered - started, 1),
        "peak_rss_mb": _rss_mb(),
        "processes": args.processes,
        "database": engine.dialect.name,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
