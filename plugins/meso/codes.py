"""The MESO address-check contract's constants: namespace, version and result codes.

The codes follow the meaning of the XMeld registry query 0600/0601 (interfaces.md §3);
README.md documents them and what the hub does with each.
"""

from __future__ import annotations

from enum import StrEnum
from importlib.resources import files
from pathlib import Path

NS = "urn:ekita:meso:address-check:1"
CONTRACT_VERSION = "1.0"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def wsdl_path() -> Path:
    """The shipped WSDL (package data): never loaded from the network."""
    return Path(str(files("ekita.plugins.meso") / "contract" / "address_check.wsdl"))


class ResultCode(StrEnum):
    """Wire code → meaning (the enum *name* is what the hub stores)."""

    REGISTERED = "01"  # registered at the requested address
    MOVED_WITHIN_DRESDEN = "02"  # registered at another Dresden address
    MOVED_AWAY = "03"  # moved away from Dresden on MovedOn
    NOT_FOUND = "04"
    INFORMATION_BLOCKED = "05"  # Auskunftssperre: no address is disclosed
    AMBIGUOUS = "06"  # several persons match


class Purpose(StrEnum):
    INTAKE = "INTAKE"  # at submission (3.3.2)
    RECHECK = "RECHECK"  # 4–6 weeks before the placement window (3.2.4)
    POOL = "POOL"  # the ZVS checks the central pool for moves away (3.4.4)


#: The fields a MESO request may carry (data-protection C5, M6); enforced by the outbox.
REQUEST_FIELDS = frozenset({"family_name", "first_name", "birth_date", "street", "house_no",
                            "postcode", "town"})
