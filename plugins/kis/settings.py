"""``[adapters.kis.settings]``: the embedded directory (default) or a KIS REST service."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ekita.hub.registrations import AdapterSettings


class KisSettings(AdapterSettings):
    source: Literal["offline", "rest"] = "offline"
    directory_file: str | None = None  # a refreshed snapshot; default: the shipped one
    url: str | None = None  # the KIS REST service (source = "rest")
    timeout_s: float = Field(default=2.0, gt=0, le=30)
    assign_on_save: bool = True  # district assignment on every address save (3.14.1.10)
