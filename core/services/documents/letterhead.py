"""The issuing office's reference and contact on generated letters (Anlage J letterhead).

Configured once (``[letterhead]`` in ekita.toml); the clerk by postcode of 3.10.14.3 is
not modelled yet, so every letter names the office's general contact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Letterhead:
    our_ref: str = "55.2"
    clerk: str = "Beitragsstelle"
    clerk_room: str = "-"
    clerk_phone: str = "0351 488-0"
    clerk_email: str = "kita-beitrag@dresden.example"

    def fields(self) -> dict[str, Any]:
        """The template placeholders of the letterhead."""
        return asdict(self)
