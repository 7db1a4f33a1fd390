"""Validating xdomea XML against the shipped 3.0.0 schemas, safely (interfaces.md §2 rule 5).

Every outgoing message is validated before it leaves (a failure is our bug, so the
delivery is dead at once) and every incoming one before it is read. Parsing never loads
a DTD, never resolves entities, never touches the network, and refuses any DOCTYPE.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from lxml import etree

NS = "urn:xoev-de:xdomea:schema:3.0.0"
VERSION = "3.0.0"
MAX_XML_BYTES = 2 * 1024 * 1024


class XmlRefused(ValueError):
    """The XML is unsafe, malformed or not valid xdomea 3.0.0; the message says why."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_blank_text=False)


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """The FVDaten message schema (it includes the building blocks and the XÖV code type)."""
    root = resources.files("ekita.plugins.domea").joinpath("schemas", "xdomea_3.0.0")
    with resources.as_file(root) as folder:
        path = folder / "xdomea-Nachrichten-FachverfahrensdatenAustauschen.xsd"
        return etree.XMLSchema(etree.parse(str(path), _parser()))


def parse(data: bytes) -> etree._Element:
    """Parse untrusted XML: size cap, no DOCTYPE, no entities, no network."""
    if len(data) > MAX_XML_BYTES:
        raise XmlRefused(f"message larger than {MAX_XML_BYTES} bytes")
    try:
        tree = etree.fromstring(data, _parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(f"not well-formed XML: {exc}") from None
    if tree.docinfo.doctype:
        raise XmlRefused("a DOCTYPE is not allowed")
    return tree.getroot()


def validate(data: bytes) -> etree._Element:
    """Parse and validate against xdomea 3.0.0; the first schema errors name line and cause."""
    root = parse(data)
    checker = schema()
    if not checker.validate(root):
        errors = "; ".join(f"line {e.line}: {e.message}" for e in list(checker.error_log)[:3])
        raise XmlRefused(f"not valid xdomea {VERSION}: {errors}")
    return root


def message_name(root: etree._Element) -> str:
    """The local name of a message's root element, e.g. ``FVDaten.SGOAblegen.0605``."""
    return etree.QName(root).localname
