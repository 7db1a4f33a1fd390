"""Measure how many small POSTs per second the standalone sandbox peer takes.

``python -m ekita.hub.testkit.throughput [--requests N] [--clients C]`` starts the peer as
its own process, sends N keep-alive POSTs from C client processes (stdlib ``http.client``,
the cheapest client, so the peer is what is measured) and then from one bare ``httpx``
loop, checks the peer counted every key exactly once, and prints one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from ekita.hub.testkit.remote import spawn_peer

BODY = json.dumps({"type": "contract.created", "id": 12345, "hours": "9.00"}).encode()


def _stdlib_client(url: str, prefix: str, count: int, barrier: Any) -> None:
    """One keep-alive connection posting ``count`` messages with distinct keys."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    conn.connect()
    barrier.wait()  # start together, after interpreter start-up
    headers = {"Content-Type": "application/json"}
    for i in range(count):
        conn.request("POST", "/messages", BODY, {**headers, "Idempotency-Key": f"{prefix}-{i}"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"peer answered {response.status}")
    conn.close()


def _httpx_loop(url: str, prefix: str, count: int) -> None:
    with httpx.Client(base_url=url) as client:
        for i in range(count):
            client.post(
                "/messages", content=BODY, headers={"Idempotency-Key": f"{prefix}-{i}"}
            ).raise_for_status()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ekita.hub.testkit.throughput")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)
    per_client = args.requests // args.clients
    with spawn_peer() as peer:
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(args.clients + 1)
        procs = [
            ctx.Process(target=_stdlib_client, args=(peer.url, f"c{c}", per_client, barrier))
            for c in range(args.clients)
        ]
        for p in procs:
            p.start()
        barrier.wait()
        start = time.perf_counter()
        for p in procs:
            p.join()
        parallel_s = time.perf_counter() - start
        if any(p.exitcode for p in procs):
            raise SystemExit("a client process failed")
        sent = per_client * args.clients
        start = time.perf_counter()
        _httpx_loop(peer.url, "h", args.requests)
        httpx_s = time.perf_counter() - start
        effects = peer.effects
        exact = len(effects) == sent + args.requests and set(effects.values()) == {1}
    result = {
        "peer_stdlib_clients": args.clients,
        "peer_requests": sent,
        "peer_req_per_s": round(sent / parallel_s),
        "httpx_loop_requests": args.requests,
        "httpx_loop_req_per_s": round(args.requests / httpx_s),
        "every_key_once": exact,
    }
    print(json.dumps(result))
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
