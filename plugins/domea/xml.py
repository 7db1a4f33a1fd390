"""Validating xdomea XML against the shipped 3.0.0 schemas, safely (interfaces.md §2 rule 5).

Every outgoing message is validated before it leaves (a failure is our bug, so the
delivery is dead at once) and every incoming one before it is read. Parsing goes through
``ekita.hub.inputs`` (issue 12 item 6): capped, never loads a DTD, never resolves
entities, never touches the network, and refuses any DOCTYPE as the parser sees it after
decoding (UTF-8/16/32, with or without BOM).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from lxml import etree

from ekita.hub import inputs

NS = "urn:xoev-de:xdomea:schema:3.0.0"
VERSION = "3.0.0"
MAX_XML_BYTES = 2 * 1024 * 1024


class XmlRefused(inputs.XmlRefused, ValueError):
    """The XML is unsafe, malformed, too large or not valid xdomea 3.0.0; the message says
    why (a ``RuleViolation`` naming record, field and rule; still a ``ValueError``)."""

    def __init__(self, message: str, *, record: str | None = "xdomea_message",
                 field: str | None = "document", rule: str | None = "xdomea 3.0.0") -> None:
        super().__init__(message, record=record, field=field, rule=rule)


def _parser() -> etree.XMLParser:
    return inputs.safe_parser()


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """The FVDaten message schema (it includes the building blocks and the XÖV code type)."""
    root = resources.files("ekita.plugins.domea").joinpath("schemas", "xdomea_3.0.0")
    with resources.as_file(root) as folder:
        path = folder / "xdomea-Nachrichten-FachverfahrensdatenAustauschen.xsd"
        return etree.XMLSchema(etree.parse(str(path), _parser()))


def parse(data: bytes, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """Parse untrusted XML: size cap, no DOCTYPE, no entities, no network."""
    try:
        return inputs.parse_xml(data, record="xdomea_message", cap=max_bytes)
    except inputs.InputTooLarge as exc:
        raise XmlRefused(f"message larger than {max_bytes} bytes", field="size",
                         rule=exc.rule) from None
    except inputs.XmlRefused as exc:
        raise XmlRefused(exc.message, rule=exc.rule) from None


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
