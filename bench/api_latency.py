"""API latency on the demo city over real HTTP (volumes.md P1: p95 ≤ 1 s, max ≤ 2 s).

Builds the demo city into a fresh SQLite file (or uses --database-url), starts
``ekita-hub serve`` and times list and detail endpoints for the ZVS, a carrier and a
facility lead, each scoped in the query layer. The floor, measured in the same run,
is the bare HTTP loop against ``/health`` (one ``SELECT 1``). Prints one JSON object
as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from ekita.core.access import Principal
from ekita.core.db.session import make_engine, unit_of_work
from ekita.core.models import CareContract, Facility
from ekita.core.models.enums import Role
from ekita.core.services.accounts import create_api_key
from ekita.hub.testkit.ports import free_port

BIN = Path(sys.executable).parent


def timed(client: httpx.Client, path: str, headers: dict[str, str], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return samples


def figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 1),
            "max_ms": round(ordered[-1], 1)}


def keys(url: str) -> tuple[dict[str, dict[str, str]], int, int]:
    """Keys for three roles; the carrier and facility with the most contracts."""
    engine = make_engine(url)
    with unit_of_work(engine, Principal.system("bench")) as s:
        facility_id, carrier_id = s.execute(
            select(Facility.id, Facility.carrier_id).join(CareContract)
            .group_by(Facility.id, Facility.carrier_id)
            .order_by(func.count().desc()).limit(1)).one()
        tokens = {
            "zvs": create_api_key(s, name="bench-zvs", role=Role.ZVS).token,
            "carrier": create_api_key(s, name="bench-carrier", role=Role.CARRIER,
                                      carrier_id=carrier_id).token,
            "facility_lead": create_api_key(s, name="bench-lead", role=Role.FACILITY_LEAD,
                                            facility_id=facility_id).token,
        }
        child_id = s.scalar(select(CareContract.child_id)
                            .where(CareContract.facility_id == facility_id).limit(1))
    engine.dispose()
    return {r: {"Authorization": f"Bearer {t}"} for r, t in tokens.items()}, child_id, facility_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="an existing demo database (default: build one)")
    parser.add_argument("-n", type=int, default=100, help="requests per endpoint and role")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ekita-bench-"))
    url = args.database_url or f"sqlite:///{workdir}/demo.db"
    if not args.database_url:
        print("building the demo city …", flush=True)
        subprocess.run([str(BIN / "ekita-hub"), "demo", "--database-url", url], check=True,
                       stdout=subprocess.DEVNULL)
    headers, child_id, facility_id = keys(url)
    port = free_port()
    env = {**os.environ, "EKITA_DATABASE_URL": url, "EKITA_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([str(BIN / "ekita-hub"), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results: dict[str, object] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(100):
                try:
                    client.get("/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            results["floor_health"] = figures(timed(client, "/health", {}, args.n))
            endpoints = {
                "children_page": "/api/v1/children?limit=50",
                "contracts_page": "/api/v1/contracts?limit=50",
                "child_detail": f"/api/v1/children/{child_id}",
                "facilities_by_bezirk": "/api/v1/facilities?stadtbezirk=Pieschen&limit=50",
                "facility_contracts": f"/api/v1/contracts?facility_id={facility_id}&limit=100",
            }
            worst = 0.0
            for role, auth in headers.items():
                for name, path in endpoints.items():
                    got = figures(timed(client, path, auth, args.n))
                    results[f"{role}.{name}"] = got
                    worst = max(worst, got["p95_ms"])
                    print(f"{role:14} {name:22} {got}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    results.update({"worst_p95_ms": worst, "requests_per_endpoint": args.n,
                    "database": url.split(":", 1)[0], "machine": platform.machine(),
                    "cpus": os.cpu_count(), "python": platform.python_version()})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
