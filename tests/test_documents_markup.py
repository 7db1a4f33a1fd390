"""The template HTML subset and its typesetting (Lastenheft 3.15.3, 3.16; docs/documents.md).

Field values are quoted as Typst strings, so whatever a name or address contains is
printed as written and never read as Typst; this is checked on the PDF's own text
(extracted with pypdf), not only on the generated source.
"""

from __future__ import annotations

import io
import re
import string as ascii_chars
from concurrent.futures import ThreadPoolExecutor
from html import escape, unescape

import pypdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ekita.core.errors import RuleViolation
from ekita.core.models.documents import DocumentType
from ekita.core.services.documents import markup, render, templates


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _squeeze(text: str) -> str:
    return "".join(text.split())


# Letters, digits, German and typographic characters, and every character that means
# something in Typst markup or code.
_FIELD_CHARS = (ascii_chars.ascii_letters + ascii_chars.digits + "äöüÄÖÜßéèçñ€§°–„“"
                + "#*_`$<>@=-+/\\[]{}()~'\".,;:!? ")


@settings(max_examples=60)
@given(st.text(alphabet=_FIELD_CHARS, min_size=1, max_size=60).filter(str.strip))
def test_field_values_print_as_written_and_never_run_as_typst(value):
    """Lastenheft 3.15.3: placeholders are filled with data, never with code."""
    html = render.page_html("Test", f"<p>Name: {escape(value)}</p>")
    pdf = render.render_pdf(html)
    assert _squeeze(f"Name: {value}") in _squeeze(_text(pdf))


def test_letterhead_layout_keeps_every_text_in_reading_order():
    """Anlage J letterhead: sender line, address, reference table, then the letter."""
    fields = {"recipient_name": "Frau Erika Mustermann", "pkn": "12345601"}
    body = ('<header><p class="sender">Stadt · Amt</p>'
            f'<p class="address">{fields["recipient_name"]}<br>Straße 1</p>'
            f'<table class="ref"><tr><td>Ihre PKN</td><td>{fields["pkn"]}</td></tr></table>'
            "</header><h1>Bescheid</h1><p>Text <strong>fett</strong> und <em>schräg</em>.</p>"
            '<table class="lines"><tr><th>A</th><th class="num">B</th></tr>'
            '<tr><td colspan="2">über zwei Spalten</td></tr></table><ol><li>eins</li></ol>')
    text = _squeeze(_text(render.render_pdf(render.page_html("t", body))))
    order = ["Stadt·Amt", "FrauErikaMustermann", "Straße1", "IhrePKN12345601", "Bescheid",
             "Textfettundschräg.", "AB", "überzweiSpalten", "eins"]
    positions = [text.index(_squeeze(part)) for part in order]
    assert positions == sorted(positions)


def test_line_breaks_and_spaces_follow_html():
    """A <br> is a line break; runs of spaces and newlines are one space, as in HTML."""
    source = markup.to_typst(render.page_html("t", "<p>  a \n  b<br>\n c  </p>"))
    assert '#block[#"a b"#linebreak()#"c"]' in source


@pytest.mark.parametrize(("body", "named"), [
    ("<p>ok</p><script>alert(1)</script>", "<script>"),
    ('<p><img src="x.png"></p>', "<img>"),
    ('<p style="color: red">x</p>', "'style'"),
    ('<p class="huge">x</p>', "'huge'"),
    ('<table class="sender"><tr><td>x</td></tr></table>', "'sender'"),
])
def test_template_outside_the_subset_is_refused_with_its_name(body, named):
    """docs/documents.md: both renderers understand the same subset; others are refused."""
    with pytest.raises(RuleViolation) as err:
        templates.check_body(DocumentType.INVITATION, body)
    assert err.value.field == "body" and named in err.value.message


def test_every_default_template_uses_the_subset_only():
    """The shipped templates pass the same check administrators' versions do."""
    for doc_type in DocumentType:
        markup.check_markup(templates.default_body(doc_type))


def test_character_no_font_can_print_is_a_clear_error():
    """PDF/A forbids unprintable glyphs: the error names the rule, nothing is returned."""
    html = render.page_html("t", "<p>名字</p>")
    with pytest.raises(RuleViolation) as err:
        render.render_pdf(html)
    assert err.value.record == "document" and "PDF/A" in err.value.rule


def test_control_characters_are_dropped_not_printed():
    """Control characters in imported data are invisible in HTML and dropped here."""
    pdf = render.render_pdf(render.page_html("t", "<p>Ma\x01x\x85 Muster</p>"))
    assert "Max Muster" in _text(pdf)


_WORD = st.text(alphabet=ascii_chars.ascii_letters + "äöüß#*[]\\\"", min_size=1, max_size=8)
_INLINE = st.lists(st.tuples(st.sampled_from(["", "strong", "em", "span", "br"]), _WORD),
                   min_size=1, max_size=4)


def _inline_html(runs: list[tuple[str, str]]) -> str:
    return " ".join(f"<{t}>{escape(w)}</{t}>" if t not in ("", "br") else
                    (f"{escape(w)}<br>" if t == "br" else escape(w)) for t, w in runs)


_BLOCK = st.one_of(
    st.builds(lambda tag, runs: f"<{tag}>{_inline_html(runs)}</{tag}>",
              st.sampled_from(["p", "h1", "h2"]), _INLINE),
    st.builds(lambda cls, runs: f'<p class="{cls}">{_inline_html(runs)}</p>',
              st.sampled_from(["sender", "address", "small", "sign"]), _INLINE),
    st.builds(lambda items: "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>",
              st.lists(_WORD, min_size=1, max_size=3)),
    st.builds(lambda cls, rows: f'<table class="{cls}">' + "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        + "</table>", st.sampled_from(["ref", "lines"]),
        st.lists(st.lists(_WORD, min_size=2, max_size=2), min_size=1, max_size=3)),
)


@settings(max_examples=40)
@given(st.lists(_BLOCK, min_size=1, max_size=6).map(
    lambda blocks: "<header>" + blocks[0] + "</header>" + "<div>" + "".join(blocks[1:])
    + "</div>"))
def test_any_template_of_the_subset_typesets_with_all_its_text(body):
    """docs/documents.md: every combination of the subset's tags typesets as PDF/A and
    keeps all of its words, in order (no markup is dropped, none is read as Typst)."""
    markup.check_markup(body)
    pdf = render.render_pdf(render.page_html("t", body))
    words = re.findall(r">([^<]+)<", body)
    text = _squeeze(_text(pdf))
    position = 0
    for word in (unescape(w) for w in words if w.strip()):
        found = text.find(_squeeze(word), position)
        assert found >= 0, (word, text)
        position = found


def test_rendering_from_many_threads_at_once():
    """The API renders from a thread pool: concurrent renders all succeed (a shared Typst
    compiler refused a second caller with "Already borrowed")."""
    html = render.page_html("t", "<p>" + "Hallo Welt " * 200 + "</p>")
    with ThreadPoolExecutor(8) as pool:
        pdfs = list(pool.map(lambda _: render.render_pdf(html), range(64)))
    assert all(pdf.startswith(b"%PDF-") for pdf in pdfs)
