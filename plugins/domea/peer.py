"""Sandbox DMS: receives xdomea containers over HTTP, validates, stores, acknowledges.

``POST /xdomea`` with a container (ZIP) and an ``Idempotency-Key``:

- the container and its message are checked (safe ZIP, one message, xdomea 3.0.0 schema,
  primary files present); an invalid one is answered ``422`` with an 0630 that reports
  the failure (the rejection) when the ProzessID can be read;
- an 0605 for an Akte the DMS does not know yet is answered ``409`` (try again later);
- otherwise the objects are stored and the answer is ``200`` with the 0629 (when the
  message asked for it) and the 0630 carrying the DMS id.

It **deduplicates**: a repeated Idempotency-Key or ProzessID gets the first answer again
and stores nothing twice. Built on the test kit's peer, so faults can be injected.
``ekita-hub peer domea`` runs it standalone.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ekita.hub.testkit.faults import Fault
from ekita.hub.testkit.peer import SandboxPeer, serve_until_stopped
from ekita.hub.testkit.peer_state import Effect, Outcome, PeerState, Reply
from ekita.plugins.domea import messages
from ekita.plugins.domea.container import ContainerRefused, unpack
from ekita.plugins.domea.xml import NS, XmlRefused, message_name, parse, validate

PARTIES = messages.Parties()


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


@dataclass
class StoredObject:
    """What the DMS keeps per object (Akte or Dokument)."""

    uuid: str
    kind: str  # "Akte" or "Dokument"
    dms_id: str
    parent: str | None = None  # the Akte of a Dokument
    primaries: dict[str, bytes] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


class DomeaPeerState(PeerState):
    """The test kit's records plus the DMS's own: objects, answers per ProzessID."""

    def __init__(self, *, deduplicate: bool = True) -> None:
        self._dms = threading.Lock()
        super().__init__(deduplicate=deduplicate)

    def _clear(self) -> None:
        super()._clear()
        self.objects: dict[str, StoredObject] = {}
        self.answers: dict[str, Reply] = {}  # by ProzessID
        self.by_key: dict[str, str] = {}  # idempotency key -> ProzessID
        self.rejections: list[str] = []
        self.containers: list[str] = []  # names of the containers taken into effect
        self.messages: list[bytes] = []  # their message XML, as received
        self.refuse_next: list[str] = []  # reasons for programmed import failures (tests)

    def _reject(self, method: str, path: str, key: str | None, size: int, status: int,
                error: str, process_id: str | None, fault: Fault | None) -> Reply:
        acks = []
        if process_id:
            acks.append(messages.import_result(process_id, None, None, [error], PARTIES,
                                               datetime.now(UTC)).decode())
        with self._lock:
            self._note(method, path, key, size, Outcome.REJECTED, status,
                       fault.kind if fault is not None else None)
            self.rejections.append(error)
        return Reply(status, {"error": error, "acknowledgements": acks})

    def deliver(self, method: str, path: str, key: str | None, raw: bytes,
                fault: Fault | None = None) -> Reply:
        size = len(raw)
        if not key:
            return self._reject(method, path, key, size, 400, "missing Idempotency-Key header",
                                None, fault)
        with self._dms:
            seen = self.by_key.get(key) if self.deduplicate else None
            if seen is not None:
                return self._repeat(method, path, key, size, seen, fault)
            try:
                box = unpack(raw)
            except ContainerRefused as exc:
                return self._reject(method, path, key, size, 422, str(exc), None, fault)
            process_id = _process_id(box.message)
            if self.deduplicate and process_id in self.answers:
                return self._repeat(method, path, key, size, process_id, fault)
            try:
                root = validate(box.message)
            except XmlRefused as exc:
                return self._reject(method, path, key, size, 422, str(exc), process_id, fault)
            if self.refuse_next:
                reason = self.refuse_next.pop(0)
                return self._reject(method, path, key, size, 422, reason, process_id, fault)
            try:
                reply = self._apply(root, process_id, box.primaries)
            except _Unknown as exc:
                return self._reject(method, path, key, size, 409, str(exc), None, fault)
            except _Invalid as exc:
                return self._reject(method, path, key, size, 422, str(exc), process_id, fault)
            self.answers[process_id] = reply
            self.by_key[key] = process_id
            self.containers.append(box.name)
            self.messages.append(box.message)
        with self._lock:
            seq = self._note(method, path, key, size, Outcome.EFFECT, reply.status,
                             fault.kind if fault is not None else None)
            effect = Effect(seq, time.time(), key, path, {"container": box.name})
            self._effect_log.append(effect)
            self._first_effect.setdefault(key, effect)
            self._effects[key] += 1
        return reply

    def _repeat(self, method: str, path: str, key: str, size: int, process_id: str,
                fault: Fault | None) -> Reply:
        with self._lock:
            self._note(method, path, key, size, Outcome.DUPLICATE, 200,
                       fault.kind if fault is not None else None)
        first = self.answers[process_id]
        return Reply(first.status, first.payload, (("Idempotent-Replayed", "true"),))

    def _apply(self, root: Any, process_id: str, primaries: dict[str, bytes]) -> Reply:
        name = message_name(root)
        head = root.find(_q("Kopf"))
        now = datetime.now(UTC)
        if name == messages.NAMES["0604"]:
            akte = root.find(f"{_q('SchriftgutobjektZumErstellen')}/{_q('Schriftgutobjekt')}"
                             f"/{_q('Akte')}")
            obj_uuid = akte.findtext(f"{_q('Identifikation')}/{_q('ID')}")
            obj = self.objects.setdefault(obj_uuid, StoredObject(
                obj_uuid, "Akte", f"DOMEA-A-{len(self.objects) + 1:06d}"))
        elif name == messages.NAMES["0605"]:
            sgo = root.find(_q("SchriftgutobjektZumAblegen"))
            parent = sgo.findtext(_q("Ablageort"))
            if parent not in self.objects:
                raise _Unknown(f"Akte {parent} is not known to the DMS")
            dok = sgo.find(f"{_q('Schriftgutobjekt')}/{_q('Dokument')}")
            obj_uuid = dok.findtext(f"{_q('Identifikation')}/{_q('ID')}")
            files = [e.text for e in dok.iter(_q("Dateiname"))]
            missing = [f for f in files if f not in primaries]
            if missing:
                raise _Invalid(f"primary file {missing[0]} is not in the container")
            obj = StoredObject(obj_uuid, "Dokument", f"DOMEA-D-{len(self.objects) + 1:06d}",
                               parent, {f: primaries[f] for f in files})
            self.objects[obj_uuid] = obj
        elif name in (messages.NAMES["0609"], messages.NAMES["0610"]):
            element = root.find(_q("MetadatenZumAnlegen"))
            if element is None:
                element = root.find(_q("MetadatenZumAktualisieren"))
            obj_uuid = element.findtext(_q("IDSGO"))
            if obj_uuid not in self.objects:
                raise _Unknown(f"object {obj_uuid} is not known to the DMS")
            obj = self.objects[obj_uuid]
            for feld in element.iter(_q("Metadatum")):
                obj.metadata[feld.findtext(_q("Name"))] = feld.findtext(_q("Wert")) or ""
        else:
            raise _Invalid(f"{name} is not a message this DMS imports")
        acks = []
        if head.findtext(_q("Empfangsbestaetigung")) in ("1", "true"):
            acks.append(messages.receipt(process_id, PARTIES, now).decode())
        acks.append(messages.import_result(process_id, obj.uuid, obj.dms_id, [], PARTIES,
                                           now).decode())
        return Reply(200, {"outcome": "imported", "dms_id": obj.dms_id,
                           "acknowledgements": acks}, (("X-Reference", obj.dms_id),))

    def documents(self) -> list[StoredObject]:
        with self._dms:
            return [o for o in self.objects.values() if o.kind == "Dokument"]


class _Unknown(Exception):
    """The message refers to an object the DMS does not have (yet)."""


class _Invalid(Exception):
    """The message is valid xdomea but cannot be imported."""


def _process_id(message: bytes) -> str | None:
    try:
        return parse(message).findtext(f"{_q('Kopf')}/{_q('ProzessID')}")
    except XmlRefused:
        return None


class DomeaPeer(SandboxPeer):
    """The sandbox DMS, in-process (``with DomeaPeer() as dms:``)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, deduplicate: bool = True):
        super().__init__(host=host, port=port, deduplicate=deduplicate)
        self.state: DomeaPeerState = DomeaPeerState(deduplicate=deduplicate)

    def documents(self) -> list[StoredObject]:
        return self.state.documents()

    def refuse_next(self, reason: str) -> None:
        """Answer the next valid container with a failed 0630 carrying ``reason``."""
        with self.state._dms:
            self.state.refuse_next.append(reason)


def serve(host: str = "127.0.0.1", port: int = 8790) -> None:
    """Run until SIGTERM/SIGINT, printing the base URL first (``ekita-hub peer domea``)."""
    serve_until_stopped(DomeaPeer(host=host, port=port))
