"""Hostile files: size caps, safe XML and safe XLSX for every file the hub takes in
(issue 12 item 6; interfaces.md §2 rule 5). The public API for plugins.

Threats and answers:

* Memory exhaustion by size: every reader counts bytes as it reads, in chunks, and raises
  ``InputTooLarge`` before more than the cap is held; two-pass consumers spool the file to a
  temporary file (``spool_capped``) instead of memory.
* XXE, billion laughs, external DTDs: lxml parses with ``resolve_entities=False``,
  ``no_network=True``, ``load_dtd=False``, ``huge_tree=False``, and a document with a
  DOCTYPE is refused. Whether there is one is decided by the parser after decoding (its
  ``docinfo``), never by searching bytes, so UTF-16/32 with or without BOM and a DOCTYPE
  after comments or processing instructions are caught alike.
* XLSX: openpyxl parses through defusedxml (``openpyxl.xml.DEFUSEDXML``); on top, every XML
  part of the archive is checked for a DOCTYPE by the same parser, the unpacked size is
  capped (zip bombs), and any archive or openpyxl error becomes one ``SpreadsheetRefused``.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import IO, Any, BinaryIO, Protocol

from lxml import etree

from ekita.core.errors import RuleViolation

RULE_CAP = "issue 12: input size cap"
RULE_DOCTYPE = "interfaces.md §2.5: XML without DTD or external entities (issue 12 item 6)"
RULE_WELL_FORMED = "interfaces.md §2.5: well-formed XML"
RULE_SCHEMA = "interfaces.md §5: the hub's XSD"
RULE_XLSX = "Office Open XML (.xlsx), read with entity expansion off (issue 12 item 6)"
CHUNK = 1024 * 1024
MIB = 1024 * 1024

Source = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO | IO[bytes]


class InputTooLarge(RuleViolation):
    """The file is larger than its cap; nothing of it was applied."""

    def __init__(self, name: str, cap: int) -> None:
        size = f"{cap / MIB:g} MB" if cap >= MIB // 10 else f"{cap} bytes"
        super().__init__(f"file larger than {size}", record=name, field="size", rule=RULE_CAP)
        self.cap = cap


class XmlRefused(RuleViolation):
    """XML that is unsafe (DOCTYPE), not well-formed or not valid against its schema."""


class SpreadsheetRefused(RuleViolation):
    """An XLSX file that is not a readable workbook or carries a DOCTYPE."""


def cap_for(kind: str, settings: Any = None) -> int:
    """The configured cap of an input kind (``Settings.input_caps``); defaults without one."""
    from ekita.hub.config import InputCaps

    caps = getattr(settings, "input_caps", None) or InputCaps()
    return int(getattr(caps, kind))


# ---------------------------------------------------------------- capped reading


def name_of(source: Any, default: str = "file") -> str:
    """A file name for error messages (never the content)."""
    if isinstance(source, str | os.PathLike):
        return Path(source).name
    return str(getattr(source, "name", None) or default)


class CappedStream(io.RawIOBase):
    """A binary stream that raises ``InputTooLarge`` once more than ``cap`` bytes came."""

    def __init__(self, raw: IO[bytes], cap: int, name: str) -> None:
        super().__init__()
        self.raw, self.cap, self.name, self.count = raw, cap, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # Never ask for more than one byte past the cap: the excess never reaches memory.
        view = memoryview(buffer)
        want = min(len(view), self.cap + 1 - self.count)
        data = self.raw.read(max(want, 1))
        n = len(data)
        self.count += n
        if self.count > self.cap:
            raise InputTooLarge(self.name, self.cap)
        view[:n] = data
        return n


@contextmanager
def open_capped(source: Source, *, cap: int, name: str | None = None) -> Iterator[BinaryIO]:
    """A binary stream over ``source`` (bytes, path or stream) that never yields more than
    ``cap`` bytes; a larger file raises ``InputTooLarge`` while being read."""
    label = name or name_of(source)
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) > cap:
            raise InputTooLarge(label, cap)
        yield io.BytesIO(bytes(source))
        return
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.stat().st_size > cap:  # refused before a byte is read
            raise InputTooLarge(label, cap)
        with path.open("rb") as raw:
            yield io.BufferedReader(CappedStream(raw, cap, label), CHUNK)
        return
    yield io.BufferedReader(CappedStream(source, cap, label), CHUNK)


def read_capped(source: Source, *, cap: int, name: str | None = None) -> bytes:
    """All of a small input, read in chunks; ``InputTooLarge`` before the cap is exceeded."""
    with open_capped(source, cap=cap, name=name) as stream:
        return stream.read()


class Spooled:
    """A capped input copied to a temporary file (memory up to 1 MB), with its sha256."""

    def __init__(self, *, cap: int, name: str) -> None:
        self.name, self.cap, self.size = name, cap, 0
        # closed by close()/__exit__, which every caller uses
        self.file: SpooledTemporaryFile[bytes] = SpooledTemporaryFile(max_size=CHUNK)  # noqa: SIM115
        self._digest = hashlib.sha256()

    def add(self, chunk: bytes) -> None:
        """One more chunk; past the cap ``InputTooLarge`` (the chunk is not kept)."""
        self.size += len(chunk)
        if self.size > self.cap:
            raise InputTooLarge(self.name, self.cap)
        self._digest.update(chunk)
        self.file.write(chunk)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def reader(self) -> BinaryIO:
        """The content from its start (each pass of a two-pass consumer calls this)."""
        self.file.seek(0)
        return self.file  # type: ignore[return-value]

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> Spooled:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def read_text_capped(source: Source, *, cap: int, name: str | None = None,
                     encoding: str = "utf-8") -> str:
    """A small text file (template body, JSON given to the CLI), capped and decoded; a
    byte the encoding cannot read is one clear error naming the file."""
    label = name or name_of(source)
    data = read_capped(source, cap=cap, name=label)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise RuleViolation(f"byte {exc.start} is not valid {encoding}", record=label,
                            field="encoding", rule=f"a text file in {encoding}") from None


def spool_capped(source: Source, *, cap: int, name: str | None = None) -> Spooled:
    """``source`` copied to a temporary file under ``cap``, for consumers that read twice."""
    spooled = Spooled(cap=cap, name=name or name_of(source))
    try:
        with open_capped(source, cap=cap, name=spooled.name) as stream:
            while chunk := stream.read(CHUNK):
                spooled.add(chunk)
    except BaseException:
        spooled.close()
        raise
    return spooled


async def spool_upload(request: Upload, *, cap: int, name: str) -> Spooled:
    """An HTTP request body spooled to a temporary file under ``cap`` as it arrives."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise InputTooLarge(name, cap)
    spooled = Spooled(cap=cap, name=name)
    try:
        async for chunk in request.stream():
            spooled.add(chunk)
    except BaseException:
        spooled.close()
        raise
    return spooled


class Upload(Protocol):
    headers: Any

    def stream(self) -> AsyncIterator[bytes]: ...


async def read_upload(request: Upload, *, cap: int, name: str) -> bytes:
    """An HTTP request body, read chunk by chunk and refused as soon as it passes ``cap``
    (a ``Content-Length`` over the cap is refused before any byte is read; a chunked
    upload without one is counted as it arrives)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise InputTooLarge(name, cap)
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise InputTooLarge(name, cap)
        parts.append(chunk)
    return b"".join(parts)


# ---------------------------------------------------------------- safe XML

_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32LE"), (codecs.BOM_UTF32_BE, "UTF-32BE"),
         (codecs.BOM_UTF8, "UTF-8"), (codecs.BOM_UTF16_LE, "UTF-16LE"),
         (codecs.BOM_UTF16_BE, "UTF-16BE"))
# XML 1.0 Appendix F: the zero bytes of the first four tell UTF-16/32 without a BOM.
_ZERO_PATTERNS = {(True, True, True, False): "UTF-32BE", (False, True, True, True): "UTF-32LE",
                  (True, False, True, False): "UTF-16BE", (False, True, False, True): "UTF-16LE"}


def sniff_encoding(head: bytes) -> tuple[int, str | None]:
    """(length of the BOM to skip, encoding to force) from a document's first bytes.

    libxml2 reads UTF-16/32 only with a BOM or declaration and a UTF-32 BOM not at all
    when fed in chunks; forcing the encoding the bytes show makes the parser decode every
    such document, so its own DOCTYPE detection sees what the document says."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return len(bom), encoding
    if len(head) >= 4:
        return 0, _ZERO_PATTERNS.get(tuple(b == 0 for b in head[:4]))  # type: ignore[arg-type]
    return 0, None


def safe_parser(schema: etree.XMLSchema | None = None, encoding: str | None = None
                ) -> etree.XMLParser:
    """A parser that resolves nothing from outside the document and expands no entity."""
    return etree.XMLParser(resolve_entities=False, no_network=True, dtd_validation=False,
                           load_dtd=False, huge_tree=False, schema=schema, encoding=encoding)


def _has_doctype(tree: etree._ElementTree) -> bool:
    info = tree.docinfo
    return bool(info.doctype) or info.internalDTD is not None or info.externalDTD is not None


class _Doctype(Exception):
    pass


class _Root(Exception):
    pass


class _Prolog:
    """A parser target that stops at the DOCTYPE or at the root's start, whichever comes
    first. libxml2 calls ``doctype`` as soon as it has read the DOCTYPE's name, before one
    entity declaration of the internal subset, so nothing is ever expanded."""

    def doctype(self, *_: object) -> None:
        raise _Doctype

    def start(self, tag: str, *_: object) -> None:
        raise _Root(tag)

    def end(self, *_: object) -> None: ...

    def data(self, *_: object) -> None: ...

    def comment(self, *_: object) -> None: ...

    def pi(self, *_: object) -> None: ...

    def close(self) -> None: ...


_PROLOG_CHUNK = 64 * 1024


def _check_prolog(stream: IO[bytes], record: str, encoding: str | None
                  ) -> tuple[list[bytes], str | None]:
    """Refuse a DOCTYPE, reading only up to the root's start; the bytes read (to replay)
    and the root's tag (None when the document is broken: the real parse names why)."""
    parser = etree.XMLParser(target=_Prolog(), resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=False, encoding=encoding)
    seen: list[bytes] = []
    while True:
        chunk = stream.read(_PROLOG_CHUNK)
        seen.append(chunk)
        try:
            if not chunk:
                parser.close()
                return seen, None
            parser.feed(chunk)
        except _Doctype:
            raise doctype_refused(record) from None
        except _Root as root:
            return seen, str(root.args[0])
        except etree.XMLSyntaxError:
            return seen, None


class _Replay(io.RawIOBase):
    """The bytes the prolog check read, then the rest of the stream."""

    def __init__(self, head: list[bytes], rest: IO[bytes]) -> None:
        super().__init__()
        self.head, self.rest = [c for c in head if c], rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        data = self.head.pop(0) if self.head else self.rest.read(len(view))
        if len(data) > len(view):
            self.head.insert(0, data[len(view):])
            data = data[:len(view)]
        view[:len(data)] = data
        return len(data)


def doctype_refused(record: str) -> XmlRefused:
    return XmlRefused("a DOCTYPE is not allowed", record=record, field="document",
                      rule=RULE_DOCTYPE)


def _syntax(exc: etree.XMLSyntaxError, record: str) -> XmlRefused:
    return XmlRefused(f"not well-formed XML: {exc}", record=record, field="document",
                      rule=RULE_WELL_FORMED)


def parse_xml(source: Source, *, record: str, cap: int | None = None,
              schema: etree.XMLSchema | None = None) -> etree._Element:
    """Parse a (small) untrusted document: capped, decoded by the parser, refused with a
    DOCTYPE, validated against ``schema`` when given; the root element."""
    data = (bytes(source) if cap is None and isinstance(source, bytes | bytearray | memoryview)
            else read_capped(source, cap=cap if cap is not None else 2**62, name=record))
    skip, encoding = sniff_encoding(data[:4])
    _check_prolog(io.BytesIO(data[skip:]), record, encoding)  # before any entity
    try:
        root = etree.fromstring(data[skip:], safe_parser(encoding=encoding))
    except etree.XMLSyntaxError as exc:
        raise _syntax(exc, record) from None
    tree = root.getroottree()
    if _has_doctype(tree):
        raise doctype_refused(record)
    if schema is not None and not schema.validate(tree):
        error = schema.error_log.last_error
        raise XmlRefused(f"does not match the schema: line {error.line}: {error.message}",
                         record=record, field="document", rule=RULE_SCHEMA)
    return root


def _head(stream: BinaryIO) -> tuple[BinaryIO, bytes]:
    """The stream's first 4 bytes, and a stream that still yields them."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(
        stream, CHUNK)  # type: ignore[arg-type]
    return buffered, buffered.peek(4)[:4]


def iter_xml(source: Source, *, record: str, tag: str, cap: int | None = None,
             schema: etree.XMLSchema | None = None) -> Iterator[etree._Element]:
    """Stream a big untrusted document: first the root element at its start (attributes
    only), then each complete ``tag`` element, cleared once the consumer moves on, so
    memory stays flat. The DOCTYPE check happens at the root's start, before any content;
    ``schema`` validates while parsing."""
    with open_capped(source, cap=cap if cap is not None else 2**62, name=record) as raw:
        stream, head = _head(raw)
        skip, encoding = sniff_encoding(head)
        stream.read(skip)
        seen, root_tag = _check_prolog(stream, record, encoding)
        replay = io.BufferedReader(_Replay(seen, stream), CHUNK)
        # Only the root and ``tag`` reach Python (lxml filters the rest in C): speed.
        events = etree.iterparse(replay, events=("start", "end"), schema=schema,
                                 tag=[root_tag, tag] if root_tag else None,
                                 resolve_entities=False, no_network=True, load_dtd=False,
                                 huge_tree=False, encoding=encoding)
        started = False
        try:
            for event, element in events:
                if not started:
                    started = True
                    if _has_doctype(element.getroottree()):  # a second guard
                        raise doctype_refused(record)
                    yield element
                elif event == "end" and element.tag == tag:
                    yield element
                    element.clear()
                    parent = element.getparent()
                    while parent is not None and element.getprevious() is not None:
                        del parent[0]
            if not started:
                raise XmlRefused("not well-formed XML: no root element", record=record,
                                 field="document", rule=RULE_WELL_FORMED)
        except etree.XMLSyntaxError as exc:
            if any(entry.domain_name == "SCHEMASV" for entry in exc.error_log or ()):
                raise XmlRefused(f"does not match the schema: {exc}", record=record,
                                 field="document", rule=RULE_SCHEMA) from None
            raise _syntax(exc, record) from None


def refuse_doctype_stream(stream: IO[bytes], *, record: str) -> None:
    """Refuse a document with a DOCTYPE, parsing only up to its root's start."""
    buffered, head = _head(stream)  # type: ignore[arg-type]
    skip, encoding = sniff_encoding(head)
    buffered.read(skip)
    _check_prolog(buffered, record, encoding)


# ---------------------------------------------------------------- safe XLSX


def _refused(message: str, record: str, field: str = "file") -> SpreadsheetRefused:
    return SpreadsheetRefused(message, record=record, field=field, rule=RULE_XLSX)


def _check_archive(stream: BinaryIO, *, record: str, unpacked_cap: int) -> None:
    try:
        archive = zipfile.ZipFile(stream)
        parts = archive.infolist()
        if sum(p.file_size for p in parts) > unpacked_cap:
            raise InputTooLarge(f"{record} (unpacked)", unpacked_cap)
        for part in parts:
            if part.filename.endswith((".xml", ".rels", ".vml")):
                with archive.open(part) as body:
                    try:
                        refuse_doctype_stream(body, record=record)  # type: ignore[arg-type]
                    except XmlRefused as exc:
                        raise _refused(f"part {part.filename}: {exc.message}", record,
                                       "document") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError) as exc:
        raise _refused(f"not an Excel workbook ({type(exc).__name__})", record) from None


def xlsx_rows(source: Source, *, record: str, cap: int,
              unpacked_cap: int = 200_000_000) -> Iterator[tuple[Any, ...]]:
    """The rows of the first sheet, streamed (``read_only``): the file capped, its unpacked
    size capped, no part with a DOCTYPE, entity expansion off (defusedxml), and any
    archive or openpyxl error one ``SpreadsheetRefused`` instead of a traceback."""
    import openpyxl.xml
    from openpyxl import load_workbook

    if not openpyxl.xml.DEFUSEDXML:  # the dependency is declared; refuse to run without it
        raise _refused("defusedxml is not installed: XLSX cannot be read safely", record)
    with spool_capped(source, cap=cap, name=record) as spooled:
        _check_archive(spooled.reader(), record=record, unpacked_cap=unpacked_cap)
        try:
            book = load_workbook(spooled.reader(), read_only=True, data_only=True)
            try:
                if not book.worksheets:
                    raise _refused("the workbook has no sheet", record)
                yield from book.worksheets[0].iter_rows(values_only=True)
            finally:
                book.close()
        except RuleViolation:
            raise
        except Exception as exc:  # openpyxl, zipfile and defusedxml raise many kinds
            raise _refused(f"not a readable Excel workbook ({type(exc).__name__})",
                           record) from None
