"""Configuration of the SAP-FI adapter (``[adapters.sap_fi.settings]``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ekita.hub.registrations import AdapterSettings
from ekita.plugins.sap_fi.csv_profile import CsvProfile


class SapFiSettings(AdapterSettings):
    """Where and how documents go to SAP-FI, and the SAP keys they carry.

    ``transport``: ``http`` posts each document to the SAP peer (``url``) with an
    ``Idempotency-Key`` header; ``dropdir`` writes it atomically into ``drop_dir`` under a
    name derived from the key. ``format``: ``idoc`` (IDoc-style XML) or ``csv`` (the flat
    profile, receivables and trailer only; debtors stay XML).
    """

    transport: Literal["http", "dropdir"] = "http"
    url: str | None = None  # e.g. http://127.0.0.1:8470 (the sandbox SAP peer)
    drop_dir: str | None = None
    format: Literal["idoc", "csv"] = "idoc"
    csv: CsvProfile = Field(default_factory=CsvProfile)
    sender: str = "EKITAHUB"  # SNDPRN, the hub's logical system
    receiver: str = "SAPFI"  # RCVPRN
    company_code: str = "1000"  # BUKRS
    document_type: str = "DR"  # BLART: customer invoice
    revenue_account: str = "4410000"  # HKONT: Elternbeiträge
    controlling_area: str = "1000"  # KOKRS
    arrears_months: int = Field(default=2, ge=0)  # worklist: more than this many months
    arrears_dir: str | None = None  # the daily import reads *.xml files from here
    # fetching the arrears file over HTTP: the whole answer within this time (issue 12 item 5)
    arrears_timeout_s: float = Field(default=30.0, gt=0, le=600)
