"""Getting an export file to a carrier: a drop directory today, SFTP through the same
interface later, HTTP through the delivery engine's ``post_json``.

``Transport`` is the interface: ``put(name, content) -> reference``. The drop directory
is ``ekita.hub.delivery.files.drop``: written under a temporary name and renamed
atomically; a file of the same name (derived from the idempotency key) means the delivery
happened before, so nothing is written twice ("check before resending", interfaces.md
§2.2). An SFTP transport implements the same
method with ``paramiko``'s ``SFTPClient.putfo`` and a rename (see README.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ekita.hub.delivery.files import drop


class Transport(Protocol):
    """Puts one named file at the carrier's side; returns a reference for the transfer log."""

    def put(self, name: str, content: bytes) -> str: ...


class DropDirectory:
    """A local or mounted directory the carrier collects files from."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def put(self, name: str, content: bytes) -> str:
        return drop(self.directory, name, content)
