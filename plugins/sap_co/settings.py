"""Configuration of the SAP-CO adapter (``[adapters.sap_co.settings]``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from ekita.hub.registrations import AdapterSettings

#: Default statistical key figure stems per measure. The code sent is the stem, one letter
#: for the care type and, for tier figures, two digits of the tier (``OCCG09``: occupied,
#: Kindergarten, 9-hour tier), at most 6 characters as SAP's STATKEYFIG. The city supplies
#: the real catalogue (interfaces.md §6 "SKF codes are configuration") through ``skf``,
#: keyed ``MEASURE``, ``MEASURE:care_type`` or ``MEASURE:care_type:tier``.
DEFAULT_SKF = {"CAPACITY": "CAP", "OCCUPIED": "OCC", "RESERVED": "RES",
               "COMMITTED_6M": "C6M", "HOURS": "HRS"}


class SapCoSettings(AdapterSettings):
    transport: Literal["http", "dropdir"] = "http"
    url: str | None = None
    drop_dir: str | None = None
    co_area: str = Field(default="1000", min_length=1, max_length=4)  # CO_AREA
    username: str = Field(default="EKITAHUB", min_length=1, max_length=12)  # USERNAME
    skf: dict[str, str] = Field(default_factory=dict)
    # Care-time tiers (Anlage B §4, fees.md §3): a contract counts in the smallest tier
    # not below its daily hours.
    tiers: list[Decimal] = Field(default_factory=lambda: [Decimal(t) for t in
                                                          ("4.5", "6", "7", "8", "9", "10",
                                                           "11")])
