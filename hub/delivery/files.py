"""Delivering a file into a drop directory, once per idempotency key.

The file name is a pure function of the key; the content is written under a temporary
name, flushed to disk and renamed atomically. A file of that name already there means
the delivery happened before, so nothing is written twice ("check before resending",
interfaces.md §2.2).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from ekita.hub.delivery.errors import TransientError


def file_name(idempotency_key: str, suffix: str) -> str:
    """A file name that is a pure function of the key (readable part plus a short hash)."""
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", idempotency_key)[:120]
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
    return f"{readable}.{digest}.{suffix}"


def drop(directory: str | Path, name: str, content: bytes) -> str:
    """Put ``content`` as ``directory/name`` atomically; returns the name (the reference)."""
    folder = Path(directory)
    target = folder / name
    if target.exists():  # delivered before: the rename is the effect, and it happened
        return target.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise TransientError(f"drop directory not writable ({type(exc).__name__})") from None
    return target.name
