"""A sandbox peer in its own process, driven over its ``/_control/`` HTTP calls.

For benchmarks and multi-process tests: the peer does not share the GIL with the code
under test, and any process that knows the URL can program faults or read the records.
"""

from __future__ import annotations

import selectors
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from ekita.hub.testkit.faults import Fault, FaultProgramming
from ekita.hub.testkit.peer_state import Effect, Received


class RemotePeer(FaultProgramming):
    """Same programming and inspection verbs as ``SandboxPeer``, over HTTP."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url + "/_control", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._http.request(method, path, **kwargs)
        if response.is_error:
            raise RuntimeError(f"sandbox peer control {method} {path}: {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def add_fault(self, fault: Fault) -> Fault:
        self._call("POST", "/faults", json=fault.to_json())
        return fault

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def reset(self) -> None:
        """Clear faults and all records."""
        self._call("POST", "/reset")

    def state(self, *, records: bool = True) -> dict[str, Any]:
        """The raw state JSON (``records=False`` leaves out the per-request lists)."""
        return self._call("GET", "/state", params=None if records else {"records": "0"})

    @property
    def effects(self) -> Counter[str]:
        return Counter(self.state(records=False)["effects"])

    @property
    def received(self) -> list[Received]:
        return [Received.from_json(r) for r in self.state()["received"]]

    @property
    def received_count(self) -> int:
        return int(self.state(records=False)["received_count"])

    @property
    def effect_log(self) -> list[Effect]:
        return [Effect.from_json(e) for e in self.state()["effect_log"]]

    def attempts(self, key: str) -> int:
        return int(self.state(records=False)["attempts"].get(key, 0))

    def took_effect(self, key: str) -> bool:
        return self.effects[key] > 0

    def faults(self) -> list[tuple[Fault, int | None]]:
        result = []
        for data in self.state(records=False)["faults"]:
            remaining = data.pop("remaining")
            result.append((Fault.from_json(data), remaining))
        return result


@contextmanager
def spawn_peer(
    *,
    deduplicate: bool = True,
    state_file: Path | None = None,
    startup_timeout: float = 15.0,
    command: Sequence[str] | None = None,
) -> Iterator[RemotePeer]:
    """Run ``python -m ekita.hub.testkit.peer`` as a child process; stop it with SIGTERM.

    ``command`` runs another peer built on ``SandboxPeer`` instead (a plugin's, such as
    the DOMEA sandbox DMS); it must print its base URL on the first line of its output.
    """
    cmd = [sys.executable, "-m", "ekita.hub.testkit.peer", "--port", "0"]
    if not deduplicate:
        cmd.append("--no-dedupe")
    if state_file is not None:
        cmd += ["--state-file", str(state_file)]
    if command is not None:
        cmd = list(command)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            ready = sel.select(startup_timeout)
        url = proc.stdout.readline().strip() if ready else ""
        if not url.startswith("http://"):
            raise RuntimeError(f"sandbox peer did not start (exit code {proc.poll()})")
        with RemotePeer(url) as peer:
            yield peer
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
