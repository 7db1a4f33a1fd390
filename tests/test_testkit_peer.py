"""The sandbox peer of the test kit (issue 4 item 10), exercised over real HTTP with httpx.

The peer stands in for the real systems behind adapters (interfaces.md §2.6, "an offline
mock peer per adapter") and checks the delivery rules of interfaces.md §2.2: one effect per
idempotency key, retries reuse the key, after a timeout the peer can be queried.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ekita.hub.testkit.faults import Fault, FaultKind
from ekita.hub.testkit.peer import SandboxPeer
from ekita.hub.testkit.peer_state import REFERENCE_HEADER, REPLAYED_HEADER, Outcome, PeerState
from ekita.hub.testkit.remote import spawn_peer

KEY = "soll:2026-11:1000101:betreuung"


@pytest.fixture
def peer() -> Iterator[SandboxPeer]:
    with SandboxPeer() as p:
        yield p


@pytest.fixture
def client(peer: SandboxPeer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=peer.url, timeout=5.0) as c:
        yield c


def post(client: httpx.Client, key: str | None, body: object = None, path: str = "/messages"):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(path, json=body if body is not None else {"n": 1}, headers=headers)


# --- deduplication and lookup (interfaces.md §2.2) -------------------------------------


def test_first_receipt_takes_effect_repeats_answer_200_without_second_effect(
    peer: SandboxPeer, client: httpx.Client
) -> None:
    """interfaces.md §2.2: a retry with the same key has no second effect at the peer."""
    first = post(client, KEY, {"amount": "123.45"})
    again = post(client, KEY, {"amount": "123.45"})
    assert (first.status_code, first.json()["outcome"]) == (200, "effect")
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.headers[REFERENCE_HEADER] == first.headers[REFERENCE_HEADER] == "peer-1"
    assert REPLAYED_HEADER not in first.headers
    assert peer.effects[KEY] == 1
    assert peer.attempts(KEY) == 2
    assert [e.body for e in peer.effect_log] == [{"amount": "123.45"}]


def test_key_reused_with_another_body_is_a_conflict(
    peer: SandboxPeer, client: httpx.Client
) -> None:
    """interfaces.md §2.2: a key names one effect; reusing it for other data is a 422."""
    post(client, KEY, {"amount": "1.00"})
    other = post(client, KEY, {"amount": "2.00"})
    other_path = post(client, KEY, {"amount": "1.00"}, path="/bookings")
    assert other.status_code == other_path.status_code == 422
    assert "another path or body" in other.json()["error"]
    assert peer.effects[KEY] == 1
    assert [r.outcome for r in peer.received] == [
        Outcome.EFFECT,
        Outcome.CONFLICT,
        Outcome.CONFLICT,
    ]


def test_lookup_says_whether_a_key_took_effect(peer: SandboxPeer, client: httpx.Client) -> None:
    """interfaces.md §2.2: "after a timeout query the peer before resending"."""
    slashed = "bescheid:2026/11:42"
    missing = client.get(f"/messages/{quote(KEY)}")
    post(client, KEY)
    post(client, slashed, path="/documents")
    found = client.get(f"/messages/{quote(KEY)}")
    found_slashed = client.get(f"/documents/{quote(slashed, safe='')}")
    assert (missing.status_code, missing.json()["effects"]) == (404, 0)
    assert (found.status_code, found.json()["effects"], found.json()["path"]) == (
        200,
        1,
        "/messages",
    )
    assert (found_slashed.status_code, found_slashed.json()["path"]) == (200, "/documents")
    assert peer.attempts(KEY) == 1, "a lookup is not a delivery attempt"


def test_requests_without_key_or_json_are_rejected(peer: SandboxPeer, client: httpx.Client) -> None:
    """interfaces.md §2.2: every effect carries a deterministic key; none is a 400."""
    no_key = post(client, None)
    bad_json = client.post("/messages", content=b"{nope", headers={"Idempotency-Key": "k"})
    empty = client.post("/messages", headers={"Idempotency-Key": "k"})
    assert [r.status_code for r in (no_key, bad_json, empty)] == [400, 400, 400]
    assert no_key.json()["error"] == "missing Idempotency-Key header"
    assert bad_json.json()["error"] == "body is not valid JSON"
    assert not peer.effects
    assert {r.outcome for r in peer.received} == {Outcome.REJECTED}


def test_peer_without_dedup_counts_every_delivery() -> None:
    """A peer that cannot deduplicate: each delivery is an effect, so double sends show."""
    with SandboxPeer(deduplicate=False) as p, httpx.Client(base_url=p.url) as c:
        statuses = [post(c, KEY).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        assert p.effects[KEY] == 3
        assert c.get(f"/messages/{KEY}").json()["effects"] == 3


def test_half_sent_request_never_takes_effect(peer: SandboxPeer) -> None:
    """A worker killed mid-request leaves a truncated body: dropped, no effect, no record
    (what the crash test relies on)."""
    body = b"12345678"
    head = (
        "POST /messages HTTP/1.1\r\nHost: peer\r\nContent-Type: application/json\r\n"
        f"Idempotency-Key: {KEY}\r\nContent-Length: {len(body) + 10}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", peer.port)) as raw:
        raw.sendall(head.encode() + body)
        raw.shutdown(socket.SHUT_WR)
        assert raw.recv(100) == b"", "the peer closes without an answer"
    assert (peer.received, peer.effects) == ([], Counter())


def test_put_to_any_path_is_a_delivery(peer: SandboxPeer, client: httpx.Client) -> None:
    """Any path takes deliveries, by POST or PUT; other methods are refused."""
    put = client.put("/carriers/12/children", json={"a": 1}, headers={"Idempotency-Key": "p"})
    delete = client.delete("/messages/p")
    assert (put.status_code, delete.status_code) == (200, 405)
    assert peer.effect_log[0].path == "/carriers/12/children"


# --- faults --------------------------------------------------------------------------


def test_fails_twice_with_500_then_delivers_once(peer: SandboxPeer, client: httpx.Client) -> None:
    """interfaces.md §2.2: retries reuse the key: 500, 500, 200 is one effect, 3 attempts."""
    peer.fail(times=2, status=500)
    statuses = [post(client, KEY).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert peer.effects[KEY] == 1
    assert peer.attempts(KEY) == 3
    assert [r.status for r in peer.received] == [500, 500, 200]
    assert peer.faults()[0][1] == 0, "the fault is used up"


@pytest.mark.parametrize("status", [400, 422])
def test_permanent_4xx_never_takes_effect(
    peer: SandboxPeer, client: httpx.Client, status: int
) -> None:
    """interfaces.md §2.3: a permanent refusal (FAILED, not retryable) leaves no effect."""
    peer.fail(times=None, status=status)
    answers = [post(client, KEY) for _ in range(3)]
    assert {a.status_code for a in answers} == {status}
    assert answers[0].json() == {"error": "injected fault", "status": status}
    assert peer.effects[KEY] == 0
    assert client.get(f"/messages/{KEY}").status_code == 404


def test_503_carries_retry_after(peer: SandboxPeer, client: httpx.Client) -> None:
    """Injected 429/503 answers can say when to come back."""
    peer.fail(status=503, retry_after=7)
    answer = post(client, KEY)
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "7")


def test_timeout_after_receiving_takes_effect_once(peer: SandboxPeer) -> None:
    """interfaces.md §2.2: the client times out after the peer took the effect; a retry with
    the same key answers 200 without a second effect."""
    peer.time_out_after_receiving(delay=5.0)
    with httpx.Client(base_url=peer.url, timeout=0.3) as c:
        start = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            post(c, KEY)
        assert time.monotonic() - start < 2.0
        assert peer.effects[KEY] == 1
        assert c.get(f"/messages/{KEY}").json()["effects"] == 1
        retry = post(c, KEY)
    assert (retry.status_code, retry.json()["outcome"]) == (200, "duplicate")
    assert peer.effects[KEY] == 1
    assert peer.attempts(KEY) == 2


def test_held_answer_arrives_when_client_waits_long_enough(
    peer: SandboxPeer, client: httpx.Client
) -> None:
    """The time-out fault only delays: a patient client still gets the 200."""
    peer.time_out_after_receiving(delay=0.2)
    start = time.monotonic()
    answer = post(client, KEY)
    assert answer.status_code == 200
    assert time.monotonic() - start >= 0.2


@pytest.mark.parametrize(("after_effect", "effects"), [(False, 0), (True, 1)])
def test_connection_reset_is_a_transport_error(
    peer: SandboxPeer, client: httpx.Client, after_effect: bool, effects: int
) -> None:
    """A reset without an HTTP answer, before or after the effect; the next call works."""
    peer.reset_connection(after_effect=after_effect)
    with pytest.raises(httpx.TransportError):
        post(client, KEY)
    assert peer.effects[KEY] == effects
    retry = post(client, KEY)
    assert retry.status_code == 200
    assert retry.json()["outcome"] == ("duplicate" if after_effect else "effect")
    assert peer.effects[KEY] == 1
    assert peer.received[0].status is None


def test_slow_answers_are_late_but_complete(peer: SandboxPeer, client: httpx.Client) -> None:
    """Slow: wait, then process normally; a client that gives up early may still cause
    the effect, which the key then deduplicates."""
    peer.slow(0.25)
    start = time.monotonic()
    assert post(client, "a").status_code == 200
    assert time.monotonic() - start >= 0.25
    with (
        httpx.Client(base_url=peer.url, timeout=0.05) as impatient,
        pytest.raises(httpx.TimeoutException),
    ):
        post(impatient, "b")
    deadline = time.monotonic() + 3
    while not peer.took_effect("b") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert peer.effects == Counter({"a": 1, "b": 1})


def test_faults_limited_to_keys_and_paths(peer: SandboxPeer, client: httpx.Client) -> None:
    """A fault applies only to the keys / path patterns it names, and to deliveries only."""
    peer.fail(times=None, status=503, keys=["bad"])
    peer.fail(times=None, status=500, paths=["/sap/*"])
    assert post(client, "good").status_code == 200
    assert post(client, "bad").status_code == 503
    assert post(client, "other", path="/sap/fi").status_code == 500
    assert post(client, "other", path="/domea").status_code == 200
    assert client.get("/sap/fi/other").status_code == 200, "GET lookups use no fault"
    assert set(peer.effects) == {"good", "other"}


def test_first_matching_fault_wins_in_order(peer: SandboxPeer, client: httpx.Client) -> None:
    """Rules apply in the order they were added, each for its number of uses."""
    peer.fail(times=1, status=502)
    peer.fail(times=2, status=429)
    statuses = [post(client, f"k{i}").status_code for i in range(4)]
    assert statuses == [502, 429, 429, 200]


def test_reset_clears_faults_and_records(peer: SandboxPeer, client: httpx.Client) -> None:
    """``reset()`` starts the peer over: no faults, no records, keys may take effect again."""
    peer.fail(times=None)
    post(client, KEY)
    peer.reset()
    assert (peer.faults(), peer.received, peer.effects) == ([], [], Counter())
    assert post(client, KEY).json()["outcome"] == "effect"
    peer.fail(times=None)
    peer.clear_faults()
    assert post(client, "next").status_code == 200


def test_stop_wakes_held_answers() -> None:
    """Stopping the peer does not wait for a held (time-out) answer."""
    p = SandboxPeer().start()
    p.time_out_after_receiving(delay=60)
    errors: list[Exception] = []

    def call() -> None:
        with httpx.Client(base_url=p.url, timeout=30) as c:
            try:
                post(c, KEY)
            except httpx.TransportError as exc:
                errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while not p.took_effect(KEY) and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    p.stop()
    caller.join(10)
    assert time.monotonic() - start < 3
    assert len(errors) == 1, "the held client sees the connection close"


# --- concurrency ---------------------------------------------------------------------


def test_counts_are_exact_under_concurrency(peer: SandboxPeer) -> None:
    """8 threads x 200 requests: every key counted exactly, shared keys take effect once,
    and a fault limited to 100 uses fails exactly 100 requests."""
    threads, per_thread, shared = 8, 200, 20
    peer.fail(times=100, status=503, paths=["/failing"])
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def worker(t: int) -> None:
        seen: Counter[int] = Counter()
        with httpx.Client(base_url=peer.url, timeout=10) as c:
            for i in range(per_thread):
                if i < shared:
                    key, path = f"shared-{i}", "/messages"
                elif i < shared + 20:
                    key, path = f"f-{t}-{i}", "/failing"
                else:
                    key, path = f"own-{t}-{i}", "/messages"
                seen[post(c, key, {"i": i}, path=path).status_code] += 1
        with lock:
            statuses.update(seen)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    effects = peer.effects
    assert len(peer.received) == peer.received_count == threads * per_thread
    assert statuses == Counter({200: threads * per_thread - 100, 503: 100})
    assert all(effects[f"shared-{i}"] == 1 for i in range(shared))
    assert all(peer.attempts(f"shared-{i}") == threads for i in range(shared))
    assert sum(effects.values()) == shared + threads * (per_thread - shared) - 100
    assert set(effects.values()) == {1}


# --- standalone process --------------------------------------------------------------


def test_standalone_process_round_trip(tmp_path: Path) -> None:
    """``python -m ekita.hub.testkit.peer``: faults and records over ``/_control``, and the
    state file written on SIGTERM."""
    state_file = tmp_path / "peer.json"
    with spawn_peer(state_file=state_file) as remote, httpx.Client(base_url=remote.url) as c:
        remote.fail(times=2, status=500, keys=[KEY])
        remote.reset_connection(keys=["r"], after_effect=True)
        assert [(f.kind, left) for f, left in remote.faults()] == [
            (FaultKind.STATUS, 2),
            (FaultKind.RESET, 1),
        ]
        assert [post(c, KEY).status_code for _ in range(3)] == [500, 500, 200]
        with pytest.raises(httpx.TransportError):
            post(c, "r")
        assert remote.effects == Counter({KEY: 1, "r": 1})
        assert remote.attempts(KEY) == 3
        assert remote.received_count == 4
        assert remote.took_effect("r")
        assert [r.outcome for r in remote.received][-1] is Outcome.EFFECT
        assert remote.effect_log[0].key == KEY
        bad = c.post("/_control/faults", json={"kind": "explode"})
        assert bad.status_code == 400
        assert bad.json()["error"].startswith("fault.kind")
        remote.reset()
        assert remote.effects == Counter()
        post(c, "after-reset")
    saved = json.loads(state_file.read_text())
    assert saved["effects"] == {"after-reset": 1}
    assert saved["received"][0]["key"] == "after-reset"


# --- the bookkeeping as a state machine, and the fault wire format -------------------

faults = st.builds(
    Fault,
    kind=st.sampled_from(FaultKind),
    times=st.none() | st.integers(1, 5),
    status=st.integers(400, 599),
    delay=st.floats(0, 10, allow_nan=False),
    after_effect=st.booleans(),
    retry_after=st.none() | st.integers(1, 120),
    keys=st.none() | st.frozensets(st.text(min_size=1, max_size=8), max_size=3),
    paths=st.none() | st.lists(st.text(min_size=1, max_size=8), max_size=3).map(tuple),
    methods=st.frozensets(st.sampled_from(["POST", "PUT", "GET"]), min_size=1),
)


@given(faults)
def test_fault_wire_format_round_trips(fault: Fault) -> None:
    """What the Python API programs is what ``POST /_control/faults`` parses back."""
    assert Fault.from_json(json.loads(json.dumps(fault.to_json()))) == fault


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "status", "status": 200}, "fault.status"),
        ({"kind": "status", "times": 0}, "fault.times"),
        ({"kind": "slow", "delay": "soon"}, "fault.delay"),
        ({"kind": "reset", "keys": "abc"}, "fault.keys"),
        ({"kind": "reset", "colour": "red"}, "unknown field(s) colour"),
    ],
)
def test_bad_fault_names_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field.replace("(", r"\(").replace(")", r"\)")):
        Fault.from_json(data)


@dataclass
class Budget:
    """The model of one status fault: which keys it hits and how many uses are left."""

    keys: frozenset[str] | None
    left: int

    def hits(self, key: str) -> bool:
        return self.left > 0 and (self.keys is None or key in self.keys)


class PeerStateMachine(RuleBasedStateMachine):
    """Status faults and deliveries in any order against a simple model of the peer."""

    def __init__(self) -> None:
        super().__init__()
        self.state = PeerState()
        self.budget: list[Budget] = []  # one per status fault, in order
        self.effected: set[str] = set()
        self.sent: Counter[str] = Counter()

    @rule(
        times=st.integers(1, 3),
        keys=st.none() | st.frozensets(st.sampled_from("abc"), min_size=1),
    )
    def add_fault(self, times: int, keys: frozenset[str] | None) -> None:
        self.state.add_fault(Fault(FaultKind.STATUS, times=times, status=503, keys=keys))
        self.budget.append(Budget(keys, times))

    @rule(key=st.sampled_from("abcd"))
    def deliver(self, key: str) -> None:
        fault = self.state.take_fault("POST", "/messages", key)
        slot = next((b for b in self.budget if b.hits(key)), None)
        self.sent[key] += 1
        if fault is not None:
            assert slot is not None, "the peer used a fault the model does not expect"
            slot.left -= 1
            assert self.state.refuse("POST", "/messages", key, 2, fault).status == 503
            return
        assert slot is None, "the model expected a fault"
        reply = self.state.deliver("POST", "/messages", key, b"{}")
        assert reply.payload["outcome"] == ("duplicate" if key in self.effected else "effect")
        self.effected.add(key)

    @rule()
    def reset(self) -> None:
        self.state.reset()
        self.budget.clear()
        self.effected.clear()
        self.sent.clear()

    @invariant()
    def counts_match_the_model(self) -> None:
        assert self.state.effects == Counter(dict.fromkeys(self.effected, 1))
        assert all(self.state.attempts(k) == n for k, n in self.sent.items())
        assert [left for _, left in self.state.faults()] == [b.left for b in self.budget]


TestPeerStateMachine = PeerStateMachine.TestCase
TestPeerStateMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


# --- the hostile peer (issue 12 item 5) -----------------------------------------------


def _raw_get(url: str, wait_s: float) -> bytes:
    """One GET over a bare socket, collecting whatever arrives within ``wait_s``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=wait_s) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got, end = b"", time.monotonic() + wait_s
        while time.monotonic() < end:
            sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            got += chunk
        return got


def test_hostile_peer_drips_hangs_floods_and_answers_garbage() -> None:
    """Issue 12 item 5: the test kit's hostile peer really misbehaves at the byte level:
    drip sends one byte per interval (headers included), hang sends nothing, flood sends
    more than any cap, garbage sends the programmed body."""
    from ekita.hub.testkit.hostile import HostilePeer, deep_json

    with HostilePeer("drip", interval=0.2) as peer:
        assert 1 <= len(_raw_get(peer.url, 1.1)) <= 6  # ~5 bytes in 1.1 s, not the answer
    with HostilePeer("hang") as peer:
        assert _raw_get(peer.url, 0.5) == b"" and peer.requests == 1
    with HostilePeer("flood") as peer:
        assert len(_raw_get(peer.url, 0.5)) > 1024 * 1024
    with HostilePeer("garbage", body=deep_json(10), status=502) as peer:
        answer = _raw_get(peer.url, 0.5)
        assert answer.startswith(b"HTTP/1.1 502") and answer.endswith(b"[" * 10 + b"]" * 10)
