"""xdomea 3.0.0 FVDaten messages: 0604, 0605, 0609, 0610 out; 0629, 0630 back (interfaces.md §7).

Built with lxml in the element order of the schema; booleans are written ``1``/``0``
because ``Importbestaetigung`` is ``fixed="1"`` and the fixed-value check compares the
lexical form (``true`` fails). Every builder's output is validated by the adapter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from lxml import etree

from ekita.plugins.domea.xml import NS, XmlRefused, message_name, validate

SYSTEM_NAME = "E-KITA Hub"
SYSTEM_VERSION = "1.0"
EXTENSION_ID = "urn:ekita-hub:dresden:familienakte:1"

NAMES = {
    "0604": "FVDaten.SGOErstellen.0604",
    "0605": "FVDaten.SGOAblegen.0605",
    "0609": "FVDaten.MetadatenAnlegen.0609",
    "0610": "FVDaten.MetadatenAktualisieren.0610",
    "0629": "FVDaten.EmpfangBestaetigen.0629",
    "0630": "FVDaten.ImportBestaetigen.0630",
}
#: Dateiformat code list 1.0: 044 "pdf - Portable Document Format (Archival)", 035 docx.
FORMAT_CODES = {"application/pdf": ("044", "PDF/A-3b"),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
                    ("035", "OOXML")}
OTHER_FORMAT = ("018", "PDF")


def _flag(value: bool) -> str:
    """xs:boolean in its canonical numeric form (the schema's fixed values are "1")."""
    return "1" if value else "0"


def _el(parent: etree._Element, name: str, text: str | None = None, **attrs: str
        ) -> etree._Element:
    child = etree.SubElement(parent, f"{{{NS}}}{name}", attrs)
    if text is not None:
        child.text = text
    return child


def _code(parent: etree._Element, name: str, code: str, **attrs: str) -> etree._Element:
    element = _el(parent, name, **attrs)
    etree.SubElement(element, "code").text = code  # unqualified, per the XÖV code type
    return element


@dataclass(frozen=True)
class Parties:
    """Sender and recipient as the messages name them (configurable per installation)."""

    sender: str = "Landeshauptstadt Dresden, Amt für Kindertagesbetreuung"
    recipient: str = "Landeshauptstadt Dresden, DMS"
    recipient_system: str = "DOMEA"
    creator: str = "ekita-hub"  # Erstellerkennung: the technical user in the DMS
    receipt_wanted: bool = False  # Empfangsbestaetigung (recommended default 0)


def _contact(parent: etree._Element, name: str, institution: str) -> None:
    contact = _el(parent, name)
    org = _el(contact, "Institution")
    _el(org, "Name", institution)


def _head(root: etree._Element, code: str, process_id: str, parties: Parties,
          created: datetime, *, request: bool = True, session_id: str | None = None) -> None:
    head = _el(root, "Kopf")
    _el(head, "ProzessID", process_id)
    _code(head, "Nachrichtentyp", code, listURI="urn:xoev-de:xdomea:codeliste:nachrichtentyp",
          listVersionID="2.0")
    _el(head, "Erstellungszeitpunkt", created.astimezone(UTC).isoformat(timespec="seconds"))
    if request:
        _contact(head, "Absender", parties.sender)
        _contact(head, "Empfaenger", parties.recipient)
    else:
        _contact(head, "Absender", parties.recipient)
        _contact(head, "Empfaenger", parties.sender)
    system = _el(head, "SendendesSystem")
    _el(system, "Produktname", SYSTEM_NAME if request else parties.recipient_system)
    _el(system, "Version", SYSTEM_VERSION)
    receiving = _el(head, "EmpfangendesSystem")
    _el(receiving, "Produktname", parties.recipient_system if request else SYSTEM_NAME)
    if request:
        _el(head, "Empfangsbestaetigung", _flag(parties.receipt_wanted))
        _el(head, "Importbestaetigung", _flag(True))
        _el(head, "Erstellerkennung", parties.creator)
        _el(head, "Stapel", _flag(False))
    if session_id is not None:
        _el(head, "FVSessionID", session_id)


def _root(code: str) -> etree._Element:
    return etree.Element(f"{{{NS}}}{NAMES[code]}", nsmap={"xdomea": NS})


def _extension(parent: etree._Element, fields: Iterable[tuple[str, str | None]]) -> None:
    ext = _el(parent, "AnwendungsspezifischeErweiterung")
    _el(ext, "Kennung", EXTENSION_ID)
    _el(ext, "Name", "E-KITA Familienakte")
    for name, value in fields:
        if value is None:
            continue
        feld = _el(ext, "Feld")
        _el(feld, "Name", name)
        _el(feld, "Wert", value)


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@dataclass(frozen=True)
class FileInfo:
    """The family file as the DMS sees it."""

    uuid: str
    file_key: str  # the 6-digit family number (the PKN's family part)
    status: str = "active"


@dataclass(frozen=True)
class DocumentInfo:
    """One filed document with the metadata of interfaces.md §7."""

    uuid: str
    business_key: str
    title: str
    doc_class: str
    direction: str  # outgoing / incoming
    reference_date: date
    file_name: str  # name of the primary file inside the container
    original_name: str
    media_type: str
    created_by: str
    machine_generated: bool
    retention: str
    sha256: str
    filed_at: datetime
    pkn: str | None = None
    child_id: int | None = None
    cost_centre: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    received_on: date | None = None
    statute_ref: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def create_file(process_id: str, file: FileInfo, parties: Parties, created: datetime) -> bytes:
    """0604 SGOErstellen: the family's Akte, created when the family first needs one."""
    root = _root("0604")
    _head(root, "0604", process_id, parties, created)
    sgo = _el(root, "SchriftgutobjektZumErstellen")
    _el(sgo, "FachverfahrenObjektID", f"familienakte:{file.file_key}")
    akte = _el(_el(sgo, "Schriftgutobjekt"), "Akte")
    _el(_el(akte, "Identifikation"), "ID", file.uuid)
    meta = _el(akte, "AllgemeineMetadaten")
    _el(meta, "Betreff", f"Familienakte {file.file_key}")
    _el(meta, "Kennzeichen", file.file_key)
    _el(akte, "Typ", "Familienakte")
    _extension(akte, [("Aktenzeichen", file.file_key), ("Status", file.status)])
    return _bytes(root)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def file_document(process_id: str, file: FileInfo, doc: DocumentInfo, parties: Parties,
                  created: datetime) -> bytes:
    """0605 SGOAblegen: one document into the family's Akte (Ablageort = the Akte's id)."""
    root = _root("0605")
    _head(root, "0605", process_id, parties, created)
    sgo = _el(root, "SchriftgutobjektZumAblegen")
    _el(sgo, "FachverfahrenObjektID", doc.business_key)
    dok = _el(_el(sgo, "Schriftgutobjekt"), "Dokument")
    _el(_el(dok, "Identifikation"), "ID", doc.uuid)
    meta = _el(dok, "AllgemeineMetadaten")
    _el(meta, "Betreff", doc.title)
    _el(meta, "Kennzeichen", file.file_key)
    if doc.direction == "incoming":
        _el(dok, "Posteingangsdatum", (doc.received_on or doc.reference_date).isoformat())
    else:
        _el(dok, "Postausgangsdatum", doc.reference_date.isoformat())
    _el(dok, "DatumDesSchreibens", doc.reference_date.isoformat())
    _el(dok, "Bearbeiter", doc.created_by)
    _el(dok, "Typ", doc.doc_class)
    version = _el(dok, "Version")
    _el(version, "Nummer", "1")
    code, label = FORMAT_CODES.get(doc.media_type, OTHER_FORMAT)
    fmt = _el(version, "Format")
    _code(fmt, "Name", code, listURI="urn:xoev-de:xdomea:codeliste:dateiformat",
          listVersionID="1.0")
    _el(fmt, "Version", label)
    primary = _el(fmt, "Primaerdokument")
    _el(primary, "Dateiname", doc.file_name)
    _el(primary, "DateinameOriginal", doc.original_name)
    _el(primary, "Ersteller", doc.created_by)
    _el(primary, "DatumUhrzeit", doc.filed_at.astimezone(UTC).isoformat(timespec="seconds"))
    _extension(dok, [
        ("Aktenzeichen", file.file_key), ("PKN", doc.pkn),
        ("Kind", str(doc.child_id) if doc.child_id is not None else None),
        ("Dokumentklasse", doc.doc_class), ("Richtung", doc.direction),
        ("Kostenstelle", doc.cost_centre), ("Gueltigab", _iso(doc.valid_from)),
        ("Gueltigbis", _iso(doc.valid_to)), ("Eingangsdatum", _iso(doc.received_on)),
        ("Rechtsgrundlage", doc.statute_ref),
        ("MaschinellErstellt", _flag(doc.machine_generated)),
        ("Aufbewahrung", doc.retention), ("SHA256", doc.sha256),
        *sorted(doc.extra.items()),
    ])
    _el(sgo, "Ablageort", file.uuid)
    return _bytes(root)


def metadata(code: str, process_id: str, object_uuid: str, values: dict[str, str],
             parties: Parties, created: datetime) -> bytes:
    """0609 MetadatenAnlegen (new fields) or 0610 MetadatenAktualisieren (changed fields)."""
    if code not in ("0609", "0610"):
        raise ValueError(f"not a metadata message: {code}")
    root = _root(code)
    _head(root, code, process_id, parties, created)
    element = _el(root, "MetadatenZumAnlegen" if code == "0609" else "MetadatenZumAktualisieren")
    _el(element, "IDSGO", object_uuid)
    for name, value in values.items():
        feld = _el(element, "Metadatum")
        _el(feld, "Name", name)
        _el(feld, "Wert", value)
    return _bytes(root)


# --- acknowledgements (built by the DMS, here the sandbox peer; parsed by the adapter) ---


def receipt(process_id: str, parties: Parties, created: datetime) -> bytes:
    """0629 EmpfangBestaetigen: the DMS received the message (not yet imported)."""
    root = _root("0629")
    _head(root, "0629", process_id, parties, created, request=False)
    return _bytes(root)


def import_result(process_id: str, object_uuid: str | None, dms_id: str | None,
                  errors: list[str], parties: Parties, created: datetime,
                  session_id: str = "") -> bytes:
    """0630 ImportBestaetigen: success with the DMS id, or failure with the reasons."""
    root = _root("0630")
    _head(root, "0630", process_id, parties, created, request=False,
          session_id=session_id or process_id)
    outcome = _el(root, "ErfolgOderMisserfolg")
    if errors:
        for error in errors:
            _el(_el(outcome, "Rueckmeldung"), "SonstigeFehlermeldung", error)
    else:
        _code(_el(outcome, "Rueckmeldung"), "AllgemeineRueckmeldung", "0000000",
              listURI="urn:xoev-de:xdomea:codeliste:allgemeinerueckmeldung", listVersionID="1.1")
    back = _el(outcome, "Rueckgabeparameter")
    if object_uuid is not None:
        _el(back, "IDSGO", object_uuid)
    param = _el(_el(back, "Parameter"), "AllgemeinerRueckgabeparameter")
    _el(param, "Name", "DMS-ID")
    if dms_id is not None:
        _el(param, "Wert", dms_id)
    _el(back, "Erfolgreich", _flag(not errors))
    return _bytes(root)


@dataclass(frozen=True)
class Acknowledgement:
    """What an 0629 or 0630 says."""

    code: str  # "0629" or "0630"
    process_id: str
    imported: bool | None = None  # 0630 only
    object_uuid: str | None = None
    dms_id: str | None = None
    reasons: tuple[str, ...] = ()


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def parse_acknowledgement(data: bytes) -> Acknowledgement:
    """Read a validated 0629 or 0630; anything else is refused."""
    root = validate(data)
    name = message_name(root)
    process_id = root.findtext(f"{_q('Kopf')}/{_q('ProzessID')}") or ""
    if name == NAMES["0629"]:
        return Acknowledgement("0629", process_id)
    if name != NAMES["0630"]:
        raise XmlRefused(f"expected an 0629 or 0630 acknowledgement, got {name}")
    outcome = root.find(_q("ErfolgOderMisserfolg"))
    reasons = [e.text or "" for e in outcome.iter(_q("SonstigeFehlermeldung"))]
    for code in outcome.iter():
        local = etree.QName(code).localname
        if local.startswith("SpezifischeFehlermeldung") or local == "SonstigeFehlermeldungCode":
            reasons.append(f"{local} {code.findtext('code')}")
    back = outcome.find(_q("Rueckgabeparameter"))
    imported = back is not None and back.findtext(_q("Erfolgreich")) in ("1", "true")
    dms_id = None
    object_uuid = None
    if back is not None:
        object_uuid = back.findtext(_q("IDSGO"))
        for param in back.iter(_q("AllgemeinerRueckgabeparameter")):
            if param.findtext(_q("Name")) == "DMS-ID":
                dms_id = param.findtext(_q("Wert"))
    return Acknowledgement("0630", process_id, imported and not reasons, object_uuid, dms_id,
                           tuple(reasons))
