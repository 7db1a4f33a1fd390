"""The HTML subset templates are written in, and its translation to Typst markup.

Administrators write templates as HTML with placeholders (3.15.3: no programming); the
PDF/A is typeset by Typst and the DOCX built by python-docx from the same filled HTML.
Both renderers understand exactly the tags and classes listed here, so ``check_markup``
refuses anything else when a template is saved instead of silently dropping it.

Every text run becomes a Typst *string* (``#"…"``), never markup: a name like
``*Müller* #1`` in a field prints as written and cannot inject Typst code.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator

import lxml.html
from lxml.etree import ParserError

#: The template subset: block-level tags, inline tags and the parts of tables and lists.
BLOCKS = {"p", "h1", "h2", "header", "div", "table", "ol", "ul"}
INLINE = {"br", "strong", "b", "em", "i", "span"}
TABLE_PARTS = {"tr", "td", "th", "li", "thead", "tbody"}
TAGS = BLOCKS | INLINE | TABLE_PARTS

#: Classes with a meaning in the letter layout (the DOCX ignores the look, not the text).
CLASSES = {
    "p": {"sender", "address", "small", "sign"},
    "table": {"ref", "lines"},
    "td": {"num"},
    "th": {"num"},
}
ATTRIBUTES = {"class", "colspan"}

PREAMBLE = """\
#set document(title: {title})
#set page(paper: "a4", margin: (top: 20mm, bottom: 20mm, left: 25mm, right: 20mm))
#set text(font: ("DejaVu Sans", "Libertinus Serif"), size: 10pt, lang: "de")
#set par(leading: 0.5em, spacing: 0.9em)
#show heading: set text(size: 11pt)
#show heading: set block(above: 4mm, below: 2mm)
#show heading.where(level: 1): set text(size: 14pt)
#show heading.where(level: 1): set block(above: 8mm, below: 4mm)
"""

_PARAGRAPH = {
    "sender": ("#block(width: 100%, stroke: (bottom: 0.5pt), inset: (bottom: 1mm))"
               "[#set text(size: 7pt)\n{}]"),
    "address": "#block(below: 6mm)[{}]",
    "small": "#block[#set text(size: 8pt)\n{}]",
    "sign": "#block(above: 15mm)[#set text(size: 8pt)\n{}]",
    "": "#block[{}]",
}
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class MarkupError(ValueError):
    """A tag, class or attribute outside the template subset (names it)."""


def check_markup(html: str) -> None:
    """Refuse tags, classes and attributes neither renderer understands."""
    try:
        elements = lxml.html.fragments_fromstring(html)
    except ParserError:
        return  # text only
    for top in elements:
        if not isinstance(top, lxml.html.HtmlElement):
            continue
        for element in top.iter():
            if not isinstance(element.tag, str):
                continue
            if element.tag not in TAGS:
                raise MarkupError(f"tag <{element.tag}> is not supported; use one of "
                                  f"{', '.join(sorted(TAGS))}")
            for name in element.attrib:
                if name not in ATTRIBUTES:
                    raise MarkupError(f"attribute {name!r} on <{element.tag}> is not supported")
            for cls in element.classes:
                if cls not in CLASSES.get(element.tag, set()):
                    known = ", ".join(sorted(CLASSES.get(element.tag, set()))) or "none"
                    raise MarkupError(f"class {cls!r} on <{element.tag}> is not supported "
                                      f"(known: {known})")


def string(text: str) -> str:
    """A Typst string literal: the text prints as written (control characters dropped)."""
    escaped = _CONTROL.sub("", text).replace("\\", "\\\\").replace('"', '\\"')
    return f'#"{escaped}"'


class _Typst(str):
    """A run that is already Typst (strong/emph), as opposed to text to be quoted."""


def _runs(element: lxml.html.HtmlElement) -> list[str | None]:
    """Text runs, typeset runs (``_Typst``) and line breaks (None)."""
    runs: list[str | None] = [_SPACE.sub(" ", element.text or "")]
    for child in element:
        if child.tag == "br":
            runs.append(None)
        elif child.tag in ("strong", "b", "em", "i"):
            fn = "strong" if child.tag in ("strong", "b") else "emph"
            runs.append(_Typst(f"#{fn}[{_inline(child)}]"))
        elif isinstance(child.tag, str):
            runs.extend(_runs(child))
        runs.append(_SPACE.sub(" ", child.tail or ""))
    return runs


def _inline(element: lxml.html.HtmlElement) -> str:
    """Inline content as Typst; spaces at a line's start and end are dropped, as in HTML."""
    lines: list[list[str]] = [[]]
    for run in _runs(element):
        if run is None:
            lines.append([])
        elif run:
            lines[-1].append(run)
    out = []
    for runs in lines:
        if runs and not isinstance(runs[0], _Typst):
            runs[0] = runs[0].lstrip()
        if runs and not isinstance(runs[-1], _Typst):
            runs[-1] = runs[-1].rstrip()
        out.append("".join(r if isinstance(r, _Typst) else string(r) for r in runs if r))
    return "#linebreak()".join(out)


def _cell(cell: lxml.html.HtmlElement) -> str:
    content = _inline(cell)
    if cell.tag == "th":
        content = f"#strong[{content}]"
    options = []
    if cell.get("colspan", "").isdigit():
        options.append(f"colspan: {max(1, int(cell.get('colspan')))}")
    if "num" in cell.classes:
        options.append("align: right")
    return f"table.cell({', '.join(options)})[{content}]"


def _table(table: lxml.html.HtmlElement) -> str:
    rows = table.xpath(".//tr")
    width = max((sum(max(1, int(c.get("colspan", "1"))) if c.get("colspan", "1").isdigit()
                     else 1 for c in row.xpath("td|th")) for row in rows), default=1)
    cells = ", ".join(_cell(c) for row in rows for c in row.xpath("td|th"))
    if "ref" in table.classes:
        return (f"#block[#set text(size: 8pt)\n#table(columns: {width}, stroke: none, "
                f"inset: (x: 0pt, right: 3mm, y: 1pt), {cells})]")
    if "lines" in table.classes:
        return (f"#table(columns: ({'1fr, ' * width}), inset: 1mm, align: left, "
                f"stroke: (x, y) => (bottom: 0.5pt + luma(68)), {cells})")
    return f"#table(columns: {width}, {cells})"


def _list(element: lxml.html.HtmlElement) -> str:
    fn = "enum" if element.tag == "ol" else "list"
    items = ", ".join(f"[{_inline(li)}]" for li in element.findall("li"))
    return f"#{fn}({items})"


def _header(header: lxml.html.HtmlElement) -> Iterator[str]:
    """The letterhead: sender line on top, address left and reference table right."""
    side = [c for c in header if c.tag == "table" and "ref" in c.classes]
    top = [c for c in header if c.tag == "p" and "sender" in c.classes]
    rest = [c for c in header if c not in side and c not in top]
    for element in top:
        yield from _blocks(element)
    main = [*_loose(header.text), *(b for element in rest for b in _with_tail(element)),
            *(t for element in top + side for t in _loose(element.tail))]
    if side:
        left = "\n".join(main)
        right = "\n".join(b for element in side for b in _blocks(element))
        yield f"#grid(columns: (1fr, auto), column-gutter: 6mm, [{left}], [{right}])"
    else:
        yield from main


def _blocks(element: lxml.html.HtmlElement) -> Iterator[str]:
    tag = element.tag
    if tag == "p":
        style = next((c for c in element.classes if c in _PARAGRAPH), "")
        yield _PARAGRAPH[style].format(_inline(element))
    elif tag in ("h1", "h2"):
        yield f"#heading(level: {tag[1]})[{_inline(element)}]"
    elif tag == "table":
        yield _table(element)
    elif tag in ("ol", "ul"):
        yield _list(element)
    elif tag == "header":
        yield from _header(element)
    elif tag == "div":
        yield from _children(element)
    else:  # an inline element at block level: a paragraph of its own
        paragraph = lxml.html.Element("p")
        paragraph.append(copy.deepcopy(element))
        paragraph[0].tail = None
        yield f"#block[{_inline(paragraph)}]"


def _loose(text: str | None) -> Iterator[str]:
    """Text between blocks (``<div>text<p>…``) is a paragraph of its own, as in HTML."""
    if text and text.strip():
        yield f"#block[{string(_SPACE.sub(' ', text.strip()))}]"


def _with_tail(element: lxml.html.HtmlElement) -> Iterator[str]:
    if isinstance(element.tag, str):
        yield from _blocks(element)
    yield from _loose(element.tail)


def _children(element: lxml.html.HtmlElement) -> Iterator[str]:
    yield from _loose(element.text)
    for child in element:
        yield from _with_tail(child)


def to_typst(html: str) -> str:
    """Typst source for a complete filled HTML document (``page_html``)."""
    root = lxml.html.document_fromstring(html)
    title = root.findtext(".//title") or ""
    body = root.find("body")
    parts = [PREAMBLE.format(title=string(title)[1:])]
    if body is not None:
        parts.extend(_children(body))
    return "\n".join(parts) + "\n"
