"""Safe XML parsing and validation against the hub's own XSDs (interfaces.md §2.5).

Inbound XML is parsed without DTDs, entities or network access, and a document with a
DOCTYPE is refused outright (no XXE, no entity expansion). Outbound documents are
validated before delivery: an invalid one is our bug, so it is a ``PermanentError``.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from io import BytesIO

from lxml import etree

from ekita.core.errors import RuleViolation


def safe_parser(schema: etree.XMLSchema | None = None) -> etree.XMLParser:
    """A parser that resolves nothing from outside the document."""
    return etree.XMLParser(resolve_entities=False, no_network=True, dtd_validation=False,
                           load_dtd=False, huge_tree=False, schema=schema)


@cache
def schema(package: str, name: str) -> etree.XMLSchema:
    """The XSD ``xsd/<name>`` shipped in ``package`` (parsed once per process)."""
    data = files(package).joinpath("xsd", name).read_bytes()
    return etree.XMLSchema(etree.fromstring(data, safe_parser()))


class XmlRefused(RuleViolation):
    """Inbound or outbound XML that is not a valid document of the contract."""


def parse_checked(content: bytes, xsd: etree.XMLSchema, *, record: str) -> etree._Element:
    """Parse untrusted XML safely and validate it; raise ``XmlRefused`` naming the problem."""
    try:
        tree = etree.parse(BytesIO(content), safe_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(f"not well-formed XML: {exc}", record=record, field="document",
                         rule="interfaces.md §2.5: well-formed XML") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise XmlRefused("a DOCTYPE is not allowed", record=record, field="document",
                         rule="interfaces.md §2.5: XML without DTD or external entities")
    if not xsd.validate(tree):
        error = xsd.error_log.last_error
        raise XmlRefused(f"does not match the schema: line {error.line}: {error.message}",
                         record=record, field="document",
                         rule="interfaces.md §5: the hub's XSD")
    return tree.getroot()


def validate_stream(content: bytes, xsd: etree.XMLSchema, *, record: str, tag: str = "IDOC"
                    ) -> None:
    """Validate a large document while parsing it, dropping each ``tag`` once parsed."""
    if b"<!DOCTYPE" in content[:4096]:
        raise XmlRefused("a DOCTYPE is not allowed", record=record, field="document",
                         rule="interfaces.md §2.5: XML without DTD or external entities")
    try:
        for _, element in etree.iterparse(BytesIO(content), events=("end",), tag=tag,
                                          schema=xsd, resolve_entities=False, no_network=True,
                                          load_dtd=False, huge_tree=False):
            element.clear()  # keep memory flat: drop what was validated
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(f"does not match the schema: {exc}", record=record,
                         field="document", rule="interfaces.md §5: the hub's XSD") from None
