"""Safe XML parsing and validation against the hub's own XSDs (interfaces.md §2.5).

Inbound XML goes through ``ekita.hub.inputs`` (issue 12 item 6): parsed without DTDs,
entities or network access, and a document with a DOCTYPE is refused, as decided by the
parser after decoding (UTF-8/16/32, with or without BOM). Outbound documents are validated
before delivery: an invalid one is our bug, so it is a ``PermanentError``.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from lxml import etree

from ekita.hub import inputs
from ekita.hub.inputs import XmlRefused

__all__ = ["XmlRefused", "parse_checked", "safe_parser", "schema", "validate_stream"]


def safe_parser(schema: etree.XMLSchema | None = None) -> etree.XMLParser:
    """A parser that resolves nothing from outside the document."""
    return inputs.safe_parser(schema)


@cache
def schema(package: str, name: str) -> etree.XMLSchema:
    """The XSD ``xsd/<name>`` shipped in ``package`` (parsed once per process)."""
    data = files(package).joinpath("xsd", name).read_bytes()
    return etree.XMLSchema(etree.fromstring(data, safe_parser()))


def parse_checked(content: bytes, xsd: etree.XMLSchema, *, record: str,
                  max_bytes: int | None = None) -> etree._Element:
    """Parse untrusted XML safely and validate it; raise ``XmlRefused`` naming the problem.
    ``max_bytes`` caps an inbound answer (``input_caps.peer_xml``); our own outbound
    documents are not capped."""
    return inputs.parse_xml(content, record=record, cap=max_bytes, schema=xsd)


def validate_stream(content: bytes, xsd: etree.XMLSchema, *, record: str, tag: str = "IDOC",
                    max_bytes: int | None = None) -> None:
    """Validate a large document while parsing it, dropping each ``tag`` once parsed; a
    DOCTYPE is refused by the parser before any content."""
    for _ in inputs.iter_xml(content, record=record, tag=tag, cap=max_bytes, schema=xsd):
        pass
