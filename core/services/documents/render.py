"""Rendering a filled template to PDF/A (archiving) and DOCX (office export, 3.19).

PDF: WeasyPrint writes PDF/A-3b (or -2b) with embedded, subset fonts, an sRGB output
intent and XMP identification. DOCX: python-docx builds the same headings, paragraphs,
lists and tables from the filled HTML, so one template serves both formats.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Literal

import lxml.html
from docx import Document
from fontTools import subset
from fontTools.ttLib import TTFont
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

PdfVariant = Literal["pdf/a-3b", "pdf/a-2b"]
DEFAULT_VARIANT: PdfVariant = "pdf/a-3b"

PAGE_CSS = """
@page { size: A4; margin: 20mm 20mm 20mm 25mm; }
body { font-family: EkitaSans, 'DejaVu Sans', sans-serif; font-size: 10pt; line-height: 1.35; }
h1 { font-size: 14pt; margin: 8mm 0 4mm; }
h2 { font-size: 11pt; margin: 4mm 0 2mm; }
.sender { font-size: 7pt; border-bottom: 0.5pt solid #000; }
.address { margin-bottom: 6mm; }
table.ref { float: right; font-size: 8pt; margin-top: -30mm; }
table.lines { width: 100%; border-collapse: collapse; }
table.lines th, table.lines td { border-bottom: 0.5pt solid #444; padding: 1mm; text-align: left; }
.num { text-align: right; }
.small { font-size: 8pt; }
.sign { margin-top: 15mm; font-size: 8pt; }
"""


def page_html(title: str, body: str) -> str:
    """A complete HTML document around a filled template body."""
    from html import escape

    return (f'<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title></head><body>{body}</body></html>")


#: Characters of German letters: Latin-1, Latin Extended-A, € and typographic punctuation.
LETTER_CHARS = [*range(0x20, 0x7F), *range(0xA0, 0x180), 0x20AC, 0x2013, 0x2014, 0x2018,
                0x2019, 0x201A, 0x201C, 0x201D, 0x201E, 0x2022, 0x2026]


def _system_font(pattern: str) -> Path | None:
    if shutil.which("fc-match") is None:
        return None
    found = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True,
                           text=True, check=False).stdout.strip()
    return Path(found) if found.endswith((".ttf", ".otf")) else None


def _letter_font(source: Path) -> Path:
    """A copy of a system font cut to the letter characters, made once per machine.

    WeasyPrint subsets every font it embeds with fontTools when HarfBuzz's subsetter is
    missing; for DejaVu Sans with its large layout tables that costs ~0.4 s per PDF. The
    cut font costs a few milliseconds (measured in bench/documents.py; decisions DOC3).
    """
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / "ekita-fonts" / f"{digest}.ttf"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        options = subset.Options()
        options.drop_tables += ["GSUB", "GPOS", "GDEF", "FFTM"]
        options.layout_features = []
        options.hinting = False
        options.name_IDs = ["*"]
        font = TTFont(source)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=LETTER_CHARS)
        subsetter.subset(font)
        partial = target.with_suffix(f".{digest}.part")
        font.save(partial)
        partial.replace(target)
    return target


def _font_faces() -> str:
    faces = []
    for weight, pattern in (("normal", "DejaVu Sans:style=Book"),
                            ("bold", "DejaVu Sans:style=Bold")):
        source = _system_font(pattern)
        if source is not None and "DejaVu" in source.name:
            faces.append(f"@font-face {{ font-family: EkitaSans; font-weight: {weight}; "
                         f"src: url({_letter_font(source).as_uri()}); }}")
    return "\n".join(faces)


@lru_cache(maxsize=1)
def _fonts() -> tuple[FontConfiguration, CSS]:
    """One font configuration and style sheet per process: loading them dominates small pages."""
    fonts = FontConfiguration()
    return fonts, CSS(string=_font_faces() + PAGE_CSS, font_config=fonts)


def render_pdf(html: str, variant: PdfVariant = DEFAULT_VARIANT) -> bytes:
    """PDF/A bytes of a complete HTML document (fonts embedded, output intent sRGB)."""
    fonts, css = _fonts()
    return HTML(string=html).write_pdf(stylesheets=[css], font_config=fonts,
                                       pdf_variant=variant, uncompressed_pdf=False)


def _text(element: lxml.html.HtmlElement) -> str:
    for br in element.iter("br"):
        br.tail = "\n" + (br.tail or "")
    return " ".join(part.strip() for part in element.text_content().split(" ") if part.strip()
                    ).replace(" \n", "\n").replace("\n ", "\n")


def render_docx(html: str) -> bytes:
    """A DOCX with the document's headings, paragraphs, lists and tables."""
    root = lxml.html.document_fromstring(html)
    doc = Document()
    title = root.findtext(".//title")
    if title:
        doc.core_properties.title = title
    body = root.find("body")
    for element in body.iter("h1", "h2", "p", "li", "table"):
        if element.tag == "h1":
            doc.add_heading(_text(element), level=1)
        elif element.tag == "h2":
            doc.add_heading(_text(element), level=2)
        elif element.tag == "p" and not any(a.tag == "td" for a in element.iterancestors()):
            doc.add_paragraph(_text(element))
        elif element.tag == "li":
            doc.add_paragraph(_text(element), style="List Number")
        elif element.tag == "table":
            rows = element.findall(".//tr")
            width = max(len(r.findall("td")) + len(r.findall("th")) for r in rows)
            table = doc.add_table(rows=len(rows), cols=width)
            for row, tr in zip(table.rows, rows, strict=True):
                for cell, td in zip(row.cells, tr.xpath("td|th"), strict=False):
                    cell.text = _text(td)
    out = BytesIO()
    doc.save(out)
    return out.getvalue()
