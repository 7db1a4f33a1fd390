"""Sandbox SAP peer: a local HTTP receiver standing in for SAP-FI and SAP-CO
(interfaces.md §2.6 "an offline mock peer per adapter").

It is the test kit's sandbox peer (``ekita.hub.testkit.peer``: deduplication by
``Idempotency-Key``, fault injection, ``GET /messages/{key}``) with SAP's side added:

* ``POST /sap/<type>`` takes the adapters' envelope ``{message_type, filename, document}``,
  validates the document against the hub's XSDs (400 for a bad envelope, 422 with the
  validation error for an invalid document), acknowledges it and keeps it by key;
* it books the receivables it took in and reconciles each run's trailer against them
  (``GET /sap/runs/{run_id}``: expected and received line count and sum);
* it produces an arrears file for the demo (``GET /sap/arrears/{as_of}``): per PKN the
  open items whose due date has passed, less what ``pay(pkn, cents)`` recorded.

``ekita-hub peer sap`` runs it standalone (URL on the first stdout line).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import date
from typing import Any

from lxml import etree

from ekita.hub.testkit.faults import Fault
from ekita.hub.testkit.peer import SandboxPeer, serve_until_stopped
from ekita.hub.testkit.peer_state import Outcome, PeerState, Reply
from ekita.plugins.sap_fi.arrears import ArrearsRecord, render_arrears
from ekita.plugins.sap_fi.xmltools import XmlRefused, parse_checked, schema

#: message type -> (package, XSD) of the document it carries; None: not XML.
MESSAGE_TYPES: dict[str, tuple[str, str] | None] = {
    "FIDCC2": ("ekita.plugins.sap_fi", "fidccp02.xsd"),
    "DEBMAS": ("ekita.plugins.sap_fi", "debmas07.xsd"),
    "STATKEYFIG": ("ekita.plugins.sap_co", "stat_key_fig.xsd"),
    "FIDCC2CSV": None,
}


class SapPeerState(PeerState):
    """The sandbox peer's records plus SAP's bookkeeping of what it received."""

    def __init__(self, *, deduplicate: bool = True) -> None:
        self._books = threading.Lock()
        super().__init__(deduplicate=deduplicate)

    def _clear(self) -> None:
        super()._clear()
        self.documents: dict[str, str] = {}  # idempotency key -> document as received
        self.lines: list[dict[str, Any]] = []  # booked receivable lines
        self.trailers: dict[int, dict[str, Any]] = {}
        self.debtors: dict[str, str] = {}  # PKN -> key of the latest debtor document
        self.key_figures: list[dict[str, Any]] = []
        self.payments: dict[str, int] = defaultdict(int)

    # --- taking a delivery -------------------------------------------------------------

    def _refuse(self, method: str, path: str, key: str | None, size: int, status: int,
                error: str, fault: Fault | None) -> Reply:
        with self._lock:
            self._note(method, path, key, size, Outcome.REJECTED, status,
                       fault.kind if fault is not None else None)
        return Reply(status, {"error": error})

    def deliver(self, method: str, path: str, key: str | None, raw: bytes,
                fault: Fault | None = None) -> Reply:
        try:
            envelope = json.loads(raw) if raw else None
        except ValueError:
            envelope = None
        if not key or not isinstance(envelope, dict):
            return super().deliver(method, path, key, raw, fault)  # the kit's 400 answers
        message_type = envelope.get("message_type")
        document = envelope.get("document")
        if message_type not in MESSAGE_TYPES or not isinstance(document, str):
            return self._refuse(method, path, key, len(raw), 400,
                                "envelope needs message_type (FIDCC2, FIDCC2CSV, DEBMAS, "
                                "STATKEYFIG) and document", fault)
        root = None
        xsd = MESSAGE_TYPES[message_type]
        if xsd is not None:
            try:
                root = parse_checked(document.encode("utf-8"), schema(*xsd),
                                     record=message_type)
            except XmlRefused as exc:
                return self._refuse(method, path, key, len(raw), 422, exc.message, fault)
        elif not document.strip():
            return self._refuse(method, path, key, len(raw), 422, "empty CSV document", fault)
        reply = super().deliver(method, path, key, raw, fault)
        if reply.payload.get("outcome") == Outcome.EFFECT.value:
            self._book(key, message_type, document, root)
        return reply

    def _book(self, key: str, message_type: str, document: str,
              root: etree._Element | None) -> None:
        with self._books:
            self.documents[key] = document
            if message_type == "FIDCC2" and root is not None:
                for ref in root.iterfind("IDOC/E1FIKPF/Z1EKREF"):
                    seg = ref.getparent().find("E1FISEG/E1FINBU/ZFBDT")
                    run = ref.findtext("RUN_ID")
                    self.lines.append({
                        "key": key, "pkn": ref.findtext("PKN"),
                        "contract_id": int(ref.findtext("CONTRACT")),
                        "period": ref.findtext("PERIOD"),
                        "fee_type": ref.findtext("FEE_TYPE"),
                        "line_kind": ref.findtext("LINE_KIND"),
                        "correction_no": int(ref.findtext("CORRECTION_NO")),
                        "amount_cents": int(ref.findtext("AMOUNT_CENTS")),
                        "run_id": int(run) if run else None,
                        "due_date": date(int(seg.text[:4]), int(seg.text[4:6]),
                                         int(seg.text[6:])),
                    })
                trailer = root.find("Z1EKTRL")
                if trailer is not None:
                    run_id = int(trailer.findtext("RUN_ID"))
                    self.trailers[run_id] = {
                        "run_id": run_id, "period": trailer.findtext("PERIOD"),
                        "line_count": int(trailer.findtext("LINE_COUNT")),
                        "sum_cents": int(trailer.findtext("SUM_CENTS"))}
            elif message_type == "DEBMAS" and root is not None:
                self.debtors[root.findtext("IDOC/E1KNA1M/KUNNR")] = key
            elif message_type == "STATKEYFIG" and root is not None:
                for item in root.iterfind("DOC_ITEMS/item"):
                    self.key_figures.append({
                        "key": key, "statkeyfig": item.findtext("STATKEYFIG"),
                        "stat_qty": item.findtext("STAT_QTY"),
                        "rec_cctr": item.findtext("REC_CCTR")})

    # --- SAP's side --------------------------------------------------------------------

    def reconcile(self, run_id: int) -> dict[str, Any] | None:
        """The run's trailer against the receivables received for it (by run id; lines
        without one count for the trailer's period when they are the period's own debits)."""
        with self._books:
            trailer = self.trailers.get(run_id)
            if trailer is None:
                return None
            lines = [ln for ln in self.lines if ln["run_id"] == run_id]
            if not lines:
                lines = [ln for ln in self.lines if ln["run_id"] is None
                         and ln["period"] == trailer["period"] and ln["correction_no"] == 0]
        count, total = len(lines), sum(ln["amount_cents"] for ln in lines)
        return {"run_id": run_id,
                "expected": {"line_count": trailer["line_count"],
                             "sum_cents": trailer["sum_cents"]},
                "received": {"line_count": count, "sum_cents": total},
                "balanced": (count, total) == (trailer["line_count"], trailer["sum_cents"])}

    def pay(self, pkn: str, cents: int) -> None:
        """Record a payment (as the bank-statement booking in SAP would)."""
        with self._books:
            self.payments[pkn] += cents

    def arrears(self, as_of: date) -> list[ArrearsRecord]:
        """Open items per PKN as of a date: payments settle the oldest items first."""
        with self._books:
            by_pkn: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for line in self.lines:
                by_pkn[line["pkn"]].append(line)
            payments = dict(self.payments)
        result = []
        for pkn, lines in sorted(by_pkn.items()):
            paid = payments.get(pkn, 0) - sum(ln["amount_cents"] for ln in lines
                                              if ln["amount_cents"] < 0)
            open_items = []
            for line in sorted((ln for ln in lines if ln["amount_cents"] > 0),
                               key=lambda ln: ln["due_date"]):
                settled = min(paid, line["amount_cents"])
                paid -= settled
                rest = line["amount_cents"] - settled
                if rest > 0 and line["due_date"] < as_of:
                    open_items.append((line, rest))
            if open_items:
                result.append(ArrearsRecord(
                    pkn=pkn, debtor_no=None,
                    months_overdue=len({ln["period"] for ln, _ in open_items}),
                    amount_overdue_cents=sum(rest for _, rest in open_items),
                    oldest_due_date=min(ln["due_date"] for ln, _ in open_items)))
        return result

    def lookup(self, path: str, key: str) -> Reply:
        if path.startswith("/sap/runs/"):
            try:
                found = self.reconcile(int(key))
            except ValueError:
                found = None
            return Reply(200, found) if found else Reply(404, {"error": "no trailer"})
        if path.startswith("/sap/arrears/"):
            try:
                as_of = date.fromisoformat(key)
            except ValueError:
                return Reply(400, {"error": "GET /sap/arrears/YYYY-MM-DD"})
            document = render_arrears(self.arrears(as_of), as_of).decode()
            return Reply(200, {"filename": f"arrears-{as_of.isoformat()}.xml",
                               "document": document})
        return super().lookup(path, key)


class SapPeer(SandboxPeer):
    """The sandbox SAP peer, in-process (``with SapPeer() as peer:``)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, deduplicate: bool = True):
        super().__init__(host=host, port=port, deduplicate=deduplicate)
        self.state: SapPeerState = SapPeerState(deduplicate=deduplicate)

    def reconcile(self, run_id: int) -> dict[str, Any] | None:
        return self.state.reconcile(run_id)

    def pay(self, pkn: str, cents: int) -> None:
        self.state.pay(pkn, cents)

    def arrears_file(self, as_of: date) -> bytes:
        return render_arrears(self.state.arrears(as_of), as_of)


def serve(host: str = "127.0.0.1", port: int = 0) -> None:
    """Run until SIGTERM/SIGINT, printing the base URL first (``ekita-hub peer sap``)."""
    serve_until_stopped(SapPeer(host=host, port=port))
