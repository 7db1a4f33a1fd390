"""What the sandbox peer remembers: received requests, effects per idempotency key, faults.

Kept apart from the HTTP server so the bookkeeping is one lock-protected object whose
counts stay exact under concurrent requests, and can be tested without sockets.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from ekita.hub.testkit.faults import DEFAULT_METHODS, Fault, FaultKind

REPLAYED_HEADER = "Idempotent-Replayed"
REFERENCE_HEADER = "X-Reference"


def reference(seq: int) -> str:
    """The peer's own reference for an effect (like a document or booking number)."""
    return f"peer-{seq}"


class Outcome(StrEnum):
    """What a received request did at the peer."""

    EFFECT = "effect"  # took effect (the first receipt of its key, or any receipt without dedup)
    DUPLICATE = "duplicate"  # key already took effect; answered 200, no second effect
    CONFLICT = "conflict"  # key already took effect with another path or body; 422
    FAULT = "fault"  # an injected error status, no effect
    RESET = "reset"  # connection reset before the effect
    REJECTED = "rejected"  # no Idempotency-Key or no JSON body; 400
    QUERY = "query"  # GET /messages/{key}


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the peer saw it (bodies are kept only for effects)."""

    seq: int
    at: float
    method: str
    path: str
    key: str | None
    size: int
    outcome: Outcome
    status: int | None  # the status answered; None when the connection was reset
    fault: FaultKind | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Received:
        fault = FaultKind(data["fault"]) if data["fault"] is not None else None
        return cls(**{**data, "outcome": Outcome(data["outcome"]), "fault": fault})


@dataclass(frozen=True, slots=True)
class Effect:
    """One effect taken at the peer: what a real system would have stored or booked."""

    seq: int
    at: float
    key: str
    path: str
    body: Any

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Effect:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer the HTTP layer should send."""

    status: int
    payload: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


class _Slot:
    """A fault with its remaining uses (``None``: unlimited)."""

    __slots__ = ("fault", "remaining")

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.remaining = fault.times


class PeerState:
    """Thread-safe records of one sandbox peer."""

    def __init__(self, *, deduplicate: bool = True) -> None:
        self.deduplicate = deduplicate
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self._seq = 0
        self._received: list[Received] = []
        self._effect_log: list[Effect] = []
        self._first_effect: dict[str, Effect] = {}
        self._effects: Counter[str] = Counter()
        self._attempts: Counter[str] = Counter()
        self._faults: list[_Slot] = []

    # --- programming -------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(_Slot(fault))
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Forget faults, received requests and effects (the dedup setting stays)."""
        with self._lock:
            self._clear()

    def take_fault(self, method: str, path: str, key: str | None) -> Fault | None:
        """Consume and return the first matching fault with uses left."""
        with self._lock:
            for slot in self._faults:
                if slot.remaining != 0 and slot.fault.matches(method, path, key):
                    if slot.remaining is not None:
                        slot.remaining -= 1
                    return slot.fault
        return None

    # --- handling ----------------------------------------------------------------------

    def _note(
        self,
        method: str,
        path: str,
        key: str | None,
        size: int,
        outcome: Outcome,
        status: int | None,
        fault: FaultKind | None,
    ) -> int:
        """Append a received record; the caller holds the lock."""
        self._seq += 1
        self._received.append(
            Received(self._seq, time.time(), method, path, key, size, outcome, status, fault)
        )
        if method in DEFAULT_METHODS and key is not None:
            self._attempts[key] += 1
        return self._seq

    def refuse(self, method: str, path: str, key: str | None, size: int, fault: Fault) -> Reply:
        """Record a request an injected status or a reset-before-effect stops."""
        with self._lock:
            if fault.kind is FaultKind.RESET:
                self._note(method, path, key, size, Outcome.RESET, None, fault.kind)
                return Reply(0, {})
            self._note(method, path, key, size, Outcome.FAULT, fault.status, fault.kind)
        headers = (("Retry-After", str(fault.retry_after)),) if fault.retry_after else ()
        return Reply(fault.status, {"error": "injected fault", "status": fault.status}, headers)

    def deliver(
        self, method: str, path: str, key: str | None, raw: bytes, fault: Fault | None = None
    ) -> Reply:
        """Apply a delivery: validate, deduplicate by key, take the effect, record it."""
        kind = fault.kind if fault is not None else None
        size = len(raw)
        error = None
        body: Any = None
        if not key:
            error = "missing Idempotency-Key header"
        else:
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                error = "body is not valid JSON"
            if body is None and error is None:
                error = "body must be a JSON document"

        def status_for(status: int) -> int | None:
            """The status to record: none when a reset replaces the answer."""
            return None if kind is FaultKind.RESET else status

        with self._lock:
            if error is not None:
                self._note(method, path, key, size, Outcome.REJECTED, status_for(400), kind)
                return Reply(400, {"error": error})
            assert key is not None
            first = self._first_effect.get(key)
            if first is not None and self.deduplicate:
                if first.path != path or first.body != body:
                    self._note(method, path, key, size, Outcome.CONFLICT, status_for(422), kind)
                    return Reply(
                        422,
                        {
                            "error": "idempotency key was first used with another path or body",
                            "key": key,
                        },
                    )
                self._note(method, path, key, size, Outcome.DUPLICATE, status_for(200), kind)
                ref = reference(first.seq)
                return Reply(
                    200,
                    {
                        "key": key,
                        "outcome": Outcome.DUPLICATE.value,
                        "effects": 1,
                        "reference": ref,
                    },
                    ((REFERENCE_HEADER, ref), (REPLAYED_HEADER, "true")),
                )
            seq = self._note(method, path, key, size, Outcome.EFFECT, status_for(200), kind)
            effect = Effect(seq, time.time(), key, path, body)
            self._effect_log.append(effect)
            self._first_effect.setdefault(key, effect)
            self._effects[key] += 1
            count = self._effects[key]
        ref = reference(seq)
        return Reply(
            200,
            {"key": key, "outcome": Outcome.EFFECT.value, "effects": count, "reference": ref},
            ((REFERENCE_HEADER, ref),),
        )

    def lookup(self, path: str, key: str) -> Reply:
        """Answer ``GET /messages/{key}``: did this key take effect?"""
        with self._lock:
            count = self._effects.get(key, 0)
            first = self._first_effect.get(key)
            status = 200 if count else 404
            self._note("GET", path, key, 0, Outcome.QUERY, status, None)
        if first is None:
            return Reply(404, {"key": key, "effects": 0})
        return Reply(200, {"key": key, "effects": count, "path": first.path, "first_at": first.at})

    # --- inspection --------------------------------------------------------------------

    @property
    def effects(self) -> Counter[str]:
        """Effects per idempotency key (a copy; missing keys count 0)."""
        with self._lock:
            return Counter(self._effects)

    @property
    def received(self) -> list[Received]:
        """Every non-control request in arrival order (a copy)."""
        with self._lock:
            return list(self._received)

    @property
    def received_count(self) -> int:
        """How many requests were recorded (cheap, for polling)."""
        with self._lock:
            return len(self._received)

    @property
    def effect_log(self) -> list[Effect]:
        """Every effect in order, with its body (a copy)."""
        with self._lock:
            return list(self._effect_log)

    def attempts(self, key: str) -> int:
        """How many deliveries (POST/PUT) carried this key, faults included."""
        with self._lock:
            return self._attempts.get(key, 0)

    def took_effect(self, key: str) -> bool:
        with self._lock:
            return self._effects.get(key, 0) > 0

    def faults(self) -> list[tuple[Fault, int | None]]:
        """Programmed faults with their remaining uses."""
        with self._lock:
            return [(s.fault, s.remaining) for s in self._faults]

    def to_json(self, *, with_records: bool = True) -> dict[str, Any]:
        """The state as JSON for ``GET /_control/state`` and the standalone state file."""
        with self._lock:
            data: dict[str, Any] = {
                "deduplicate": self.deduplicate,
                "received_count": len(self._received),
                "effects": dict(self._effects),
                "attempts": dict(self._attempts),
                "faults": [{**s.fault.to_json(), "remaining": s.remaining} for s in self._faults],
            }
            if with_records:
                data["received"] = [r.to_json() for r in self._received]
                data["effect_log"] = [e.to_json() for e in self._effect_log]
        return data
