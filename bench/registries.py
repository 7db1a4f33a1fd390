"""Registry adapters: MESO batch re-check over SOAP (zeep) against its floor, KIS lookups.

Usage: ``python bench/registries.py [--n 20000] [--concurrency 8] [--lookups 5000] [--hub 2000]``.
The MESO sandbox peer (lxml on uvicorn) runs as its own process on localhost over a
synthetic register of ``n`` residents. The same ``n`` CheckAddress calls run twice with
bounded concurrency: through the adapter's zeep client (``meso_checks_per_s``) and as the
floor, the same SOAP envelopes built and parsed with lxml and sent with httpx, no zeep
(``meso_floor_per_s``). ``zeep_overhead_ms_per_call`` is the difference of the mean
latencies of sequential calls (one at a time, so it is zeep's own cost per call, not
queueing). The hub path (``hub_rechecks_per_s``): ``hub`` applications of the demo city
queued as outbox messages and delivered by one worker against the same peer (see
``hub_path``). Street lookups: ``lookups`` random prefixes against the embedded directory
(at least 5,000 streets); goal p95 <= 20 ms. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import httpx
from lxml import etree
from lxml.builder import ElementMaker

from ekita.hub.testkit.ports import free_port
from ekita.plugins.kis.directory import load
from ekita.plugins.meso import client
from ekita.plugins.meso.codes import NS, SOAP_ENV, Purpose
from ekita.plugins.meso.peer import safe_parser
from ekita.plugins.meso.settings import MesoSettings

S = ElementMaker(namespace=SOAP_ENV, nsmap={"soap": SOAP_ENV})
T = ElementMaker(namespace=NS, nsmap={"t": NS})


def fields(i: int) -> dict[str, str]:
    return {"family_name": f"Person{i}", "first_name": "Kim", "birth_date": "2022-01-01",
            "street": f"Teststraße {i % 500}", "house_no": str(i if i % 10 else i + 1),
            "postcode": "01067", "town": "Dresden"}


def floor_call(http: httpx.Client, url: str, i: int) -> str:
    """The same request as the adapter's, built and parsed with lxml, sent with httpx."""
    f = fields(i)
    body = etree.tostring(S.Envelope(S.Body(T.CheckAddressRequest(
        T.RequestId(f"b{i}"), T.Purpose("RECHECK"),
        T.Person(T.FamilyName(f["family_name"]), T.FirstNames(f["first_name"]),
                 T.BirthDate(f["birth_date"])),
        T.Address(T.Street(f["street"]), T.HouseNumber(f["house_no"]),
                  T.Postcode(f["postcode"]), T.City(f["town"]))))),
        xml_declaration=True, encoding="utf-8")
    answer = http.post(url, content=body, timeout=10.0, headers={
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": f'"{NS}#CheckAddress"'})
    answer.raise_for_status()
    root = etree.fromstring(answer.content, safe_parser())
    code = root.find(f".//{{{NS}}}ResultCode")
    assert code is not None and code.text
    return code.text


def zeep_call(settings: MesoSettings, i: int) -> str:
    return client.check(settings, f"b{i}", Purpose.RECHECK, fields(i), 10.0).code.value


def run(call: Callable[[int], str], n: int, concurrency: int) -> tuple[float, dict[str, int]]:
    codes: dict[str, int] = {}
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for code in pool.map(call, range(n), chunksize=64):
            codes[code] = codes.get(code, 0) + 1
    return n / (time.perf_counter() - start), codes


def mean_latency_ms(call: Callable[[int], str], n: int) -> float:
    times = []
    for i in range(n):
        t = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - t)
    return statistics.fmean(times) * 1000


def wait_for(port: int, seconds: float = 15.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("MESO peer did not start")


def street_lookups(count: int) -> dict[str, float]:
    directory = load()
    names = [s.name for s in directory.streets]
    rng = random.Random(6)
    prefixes = [rng.choice(names)[: rng.randint(1, 8)] for _ in range(count)]
    times = []
    for prefix in prefixes:
        t = time.perf_counter()
        directory.suggest(prefix, 20)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"streets": directory.street_count, "lookups": count,
            "street_lookup_p50_ms": round(times[len(times) // 2], 4),
            "street_lookup_p95_ms": round(times[int(len(times) * 0.95)], 4)}


def hub_path(peer_url: str, count: int) -> dict[str, float]:
    """The re-check as the hub runs it: ``count`` applications of the demo city (SQLite,
    loaded untimed) queued by ``apply.queue_checks`` (one outbox message each, one
    transaction), then delivered by one worker: claim, SOAP call through zeep, the answer
    applied in its own transaction (registry check row, flags, events)."""
    import tempfile

    sys.path.insert(0, os.path.dirname(__file__))
    from placement import applications, insert_applications
    from sqlalchemy import select

    from ekita.core import demo
    from ekita.core.access import Principal
    from ekita.core.db.migrate import upgrade
    from ekita.core.db.session import make_engine, unit_of_work
    from ekita.core.models import Stadtteil
    from ekita.hub.config import AdapterSection, RetryPolicy, Settings
    from ekita.hub.delivery.worker import Worker
    from ekita.hub.plugins import load_plugins
    from ekita.plugins.meso import apply

    with tempfile.TemporaryDirectory(prefix="ekita-bench-registries-") as folder:
        url = f"sqlite:///{folder}/hub.db"
        engine = make_engine(url)
        upgrade(engine)
        city = demo.generate(demo.DEFAULT_SEED)
        demo.load(engine, city)
        with engine.connect() as conn:
            bezirk_of = dict(conn.execute(select(Stadtteil.nr, Stadtteil.bezirk)).all())
        rows = applications(city, bezirk_of, city.today)
        for i, child in enumerate(rows["child"]):  # registered at the synthetic peer
            child |= {"family_name": f"Person{i}", "first_name": "Kim",
                      "birth_date": date(2022, 1, 1), "street": f"Teststraße {i % 500}",
                      "house_no": str(i), "postcode": "01067", "town": "Dresden"}
        insert_applications(engine, rows)
        settings = Settings(database_url=url, load_plugins=["meso"], adapters={
            "meso": AdapterSection(settings={"url": peer_url},
                                   retry=RetryPolicy(max_attempts=3, timeout_s=10.0))})
        plugins = load_plugins(settings)
        ids = [r["id"] for r in rows["application"]][:count]
        system = Principal.system("bench", "registries")
        started = time.perf_counter()
        with unit_of_work(engine, system) as session:
            queued = apply.queue_checks(session, ids, city.today, Purpose.RECHECK)
        queue_s = time.perf_counter() - started
        started = time.perf_counter()
        stats = Worker(engine, plugins, settings, "bench").run(idle_exit=True)
        deliver_s = time.perf_counter() - started
        engine.dispose()
    assert stats.delivered == queued, stats
    return {"hub_rechecks": queued, "hub_queue_per_s": round(queued / queue_s, 1),
            "hub_rechecks_per_s": round(queued / deliver_s, 1),
            "hub_ms_per_recheck": round(deliver_s * 1000 / queued, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--hub", type=int, default=2000,
                        help="re-checks through the outbox and one worker")
    args = parser.parse_args()
    port = free_port()
    peer = subprocess.Popen([sys.executable, "-m", "ekita.plugins.meso.peer", "--port",
                             str(port), "--synthetic", str(args.n)])
    try:
        wait_for(port)
        url = f"http://127.0.0.1:{port}/meso"
        settings = MesoSettings(url=url)
        http = httpx.Client(limits=httpx.Limits(max_connections=args.concurrency * 2))
        floor_call(http, url, 0)  # warm up
        zeep_call(settings, 0)
        floor_ms = mean_latency_ms(lambda i: floor_call(http, url, i), args.sequential)
        zeep_ms = mean_latency_ms(lambda i: zeep_call(settings, i), args.sequential)
        floor_rate, floor_codes = run(lambda i: floor_call(http, url, i), args.n,
                                      args.concurrency)
        zeep_rate, zeep_codes = run(lambda i: zeep_call(settings, i), args.n, args.concurrency)
        assert floor_codes == zeep_codes, (floor_codes, zeep_codes)
        hub = hub_path(url, args.hub)
    finally:
        peer.terminate()
        peer.wait(timeout=10)
    result = {
        "n": args.n, "concurrency": args.concurrency, "codes": zeep_codes,
        "meso_checks_per_s": round(zeep_rate, 1), "meso_floor_per_s": round(floor_rate, 1),
        "zeep_share_of_floor": round(zeep_rate / floor_rate, 3),
        "zeep_latency_ms": round(zeep_ms, 3), "floor_latency_ms": round(floor_ms, 3),
        "zeep_overhead_ms_per_call": round(zeep_ms - floor_ms, 3),
        **hub, "hub_overhead_ms_per_recheck": round(hub["hub_ms_per_recheck"] - zeep_ms, 3),
        **street_lookups(args.lookups),
        "street_lookup_goal_ms": 20, "cpus": os.cpu_count(),
        "python": platform.python_version(), "date": date.today().isoformat(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
