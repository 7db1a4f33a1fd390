"""Getting an export file to a carrier: a drop directory today, SFTP through the same
interface later, HTTP through the delivery engine's ``post_json``.

``Transport`` is the interface: ``put(name, content) -> reference``. The drop directory
writes under a temporary name and renames atomically; a file of the same name (derived
from the idempotency key) means the delivery happened before, so nothing is written twice
("check before resending", interfaces.md §2.2). An SFTP transport implements the same
method with ``paramiko``'s ``SFTPClient.putfo`` and a rename (see README.md).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from ekita.hub.delivery.errors import TransientError


class Transport(Protocol):
    """Puts one named file at the carrier's side; returns a reference for the transfer log."""

    def put(self, name: str, content: bytes) -> str: ...


def file_name(idempotency_key: str, suffix: str) -> str:
    """A file name that is a pure function of the key (readable part plus a short hash)."""
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", idempotency_key)[:120]
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
    return f"{readable}.{digest}.{suffix}"


class DropDirectory:
    """A local or mounted directory the carrier collects files from."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def put(self, name: str, content: bytes) -> str:
        target = self.directory / name
        if target.exists():  # delivered before: the rename is the effect, and it happened
            return target.name
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".incoming-", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise TransientError(f"drop directory not writable ({type(exc).__name__})") from None
        return target.name


_client: Any = None


def client() -> Any:
    """One keep-alive ``httpx.Client`` per process, for the HTTP transport."""
    global _client
    if _client is None:
        import httpx

        _client = httpx.Client()
    return _client
