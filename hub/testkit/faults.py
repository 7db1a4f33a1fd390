"""Fault rules of the sandbox peer, and the programming API shared by local and remote peers.

A fault is a rule "the next ``times`` matching requests get this treatment". Rules are
checked in the order they were added; the first rule that matches a request and has
uses left is consumed and applies. Requests no rule matches are answered normally.
"""

from __future__ import annotations

import fnmatch
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    """What a fault does to a request it matches."""

    STATUS = "status"  # answer with an error status, no effect
    TIMEOUT = "timeout"  # record the effect, then answer only after ``delay`` seconds
    RESET = "reset"  # close the socket without an HTTP answer (before or after the effect)
    SLOW = "slow"  # wait ``delay`` seconds, then process the request normally


DEFAULT_METHODS = ("POST", "PUT")


@dataclass(frozen=True, slots=True)
class Fault:
    """One programmed fault; immutable, the peer keeps the remaining count beside it.

    ``times=None`` means "until cleared". ``keys``/``paths`` limit the fault to requests
    with one of these idempotency keys / a path matching one of these glob patterns
    (``fnmatch``, e.g. ``/messages*``); ``None`` matches everything. ``methods`` defaults to
    the delivering methods, so a "check with the peer" ``GET`` does not use up a fault.
    """

    kind: FaultKind
    times: int | None = 1
    status: int = 500
    delay: float = 0.0
    after_effect: bool = False
    retry_after: int | None = None
    keys: frozenset[str] | None = None
    paths: tuple[str, ...] | None = None
    methods: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_METHODS))

    def __post_init__(self) -> None:
        if self.times is not None and self.times < 1:
            raise ValueError(f"fault.times: must be at least 1 or None, got {self.times}")
        if self.delay < 0:
            raise ValueError(f"fault.delay: must not be negative, got {self.delay}")
        if self.kind is FaultKind.STATUS and not 400 <= self.status <= 599:
            raise ValueError(f"fault.status: must be a 4xx or 5xx status, got {self.status}")

    def matches(self, method: str, path: str, key: str | None) -> bool:
        """Whether this rule applies to a request (ignoring how many uses are left)."""
        if method not in self.methods:
            return False
        if self.keys is not None and key not in self.keys:
            return False
        return self.paths is None or any(fnmatch.fnmatchcase(path, p) for p in self.paths)

    def to_json(self) -> dict[str, Any]:
        """The wire form used by ``POST /_control/faults``."""
        data = asdict(self)
        data["kind"] = self.kind.value
        data["keys"] = sorted(self.keys) if self.keys is not None else None
        data["paths"] = list(self.paths) if self.paths is not None else None
        data["methods"] = sorted(self.methods)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Parse the wire form; raises ``ValueError`` naming the bad field."""
        if not isinstance(data, dict):
            raise ValueError("fault: body must be a JSON object")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"fault: unknown field(s) {', '.join(unknown)}")
        try:
            kind = FaultKind(data.get("kind"))
        except ValueError:
            choices = ", ".join(k.value for k in FaultKind)
            raise ValueError(f"fault.kind: must be one of {choices}") from None
        args: dict[str, Any] = {"kind": kind}
        for name, typ in (("status", int), ("retry_after", int), ("times", int)):
            if name in data:
                value = data[name]
                if value is not None and (not isinstance(value, typ) or isinstance(value, bool)):
                    raise ValueError(f"fault.{name}: must be an integer")
                args[name] = value
        if "delay" in data:
            if not isinstance(data["delay"], int | float) or isinstance(data["delay"], bool):
                raise ValueError("fault.delay: must be a number of seconds")
            args["delay"] = float(data["delay"])
        if "after_effect" in data:
            if not isinstance(data["after_effect"], bool):
                raise ValueError("fault.after_effect: must be true or false")
            args["after_effect"] = data["after_effect"]
        for name in ("keys", "paths", "methods"):
            if data.get(name) is not None:
                value = data[name]
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"fault.{name}: must be a list of strings")
                args[name] = {
                    "keys": frozenset,
                    "paths": tuple,
                    "methods": lambda v: frozenset(m.upper() for m in v),
                }[name](value)
        return cls(**args)


def _opt_keys(keys: Iterable[str] | None) -> frozenset[str] | None:
    return frozenset(keys) if keys is not None else None


def _opt_paths(paths: Iterable[str] | None) -> tuple[str, ...] | None:
    return tuple(paths) if paths is not None else None


def _methods(methods: Iterable[str]) -> frozenset[str]:
    return frozenset(m.upper() for m in methods)


class FaultProgramming(ABC):
    """The fault-programming verbs; local and remote peers only implement ``add_fault``."""

    @abstractmethod
    def add_fault(self, fault: Fault) -> Fault:
        """Append a rule to the peer's fault list."""

    def fail(
        self,
        times: int | None = 1,
        status: int = 500,
        *,
        retry_after: int | None = None,
        delay: float = 0.0,
        keys: Iterable[str] | None = None,
        paths: Iterable[str] | None = None,
        methods: Iterable[str] = DEFAULT_METHODS,
    ) -> Fault:
        """Answer the next ``times`` matching requests with ``status`` and take no effect."""
        return self.add_fault(
            Fault(
                FaultKind.STATUS,
                times=times,
                status=status,
                retry_after=retry_after,
                delay=delay,
                keys=_opt_keys(keys),
                paths=_opt_paths(paths),
                methods=_methods(methods),
            )
        )

    def time_out_after_receiving(
        self,
        times: int | None = 1,
        *,
        delay: float = 5.0,
        keys: Iterable[str] | None = None,
        paths: Iterable[str] | None = None,
        methods: Iterable[str] = DEFAULT_METHODS,
    ) -> Fault:
        """Take the effect, then hold the answer ``delay`` s (longer than the client waits)."""
        return self.add_fault(
            Fault(
                FaultKind.TIMEOUT,
                times=times,
                delay=delay,
                keys=_opt_keys(keys),
                paths=_opt_paths(paths),
                methods=_methods(methods),
            )
        )

    def reset_connection(
        self,
        times: int | None = 1,
        *,
        after_effect: bool = False,
        keys: Iterable[str] | None = None,
        paths: Iterable[str] | None = None,
        methods: Iterable[str] = DEFAULT_METHODS,
    ) -> Fault:
        """Close the socket with a TCP reset instead of answering; effect first if asked."""
        return self.add_fault(
            Fault(
                FaultKind.RESET,
                times=times,
                after_effect=after_effect,
                keys=_opt_keys(keys),
                paths=_opt_paths(paths),
                methods=_methods(methods),
            )
        )

    def slow(
        self,
        delay: float,
        times: int | None = None,
        *,
        keys: Iterable[str] | None = None,
        paths: Iterable[str] | None = None,
        methods: Iterable[str] = DEFAULT_METHODS,
    ) -> Fault:
        """Wait ``delay`` s before handling matching requests normally (default: until cleared)."""
        return self.add_fault(
            Fault(
                FaultKind.SLOW,
                times=times,
                delay=delay,
                keys=_opt_keys(keys),
                paths=_opt_paths(paths),
                methods=_methods(methods),
            )
        )
