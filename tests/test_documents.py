"""Templates and rendering (Lastenheft 3.15.3, 3.19; data-model.md §5, §3.4).

What "the PDF is valid" means here, checked with pikepdf on every template's output:
it opens without repair; its XMP metadata declares PDF/A (``pdfaid:part`` 3 and
``pdfaid:conformance`` B); the catalogue has a ``/GTS_PDFA1`` output intent with an
embedded ICC profile; every font used on every page is embedded (``FontFile2``/``3``);
it is not encrypted and has no JavaScript. Then the whole file goes through
``page-validation`` (PyPI; a Rust PDF/A and PDF/UA rule checker whose authors report it
passes the veraPDF and Isartor corpora), against the profile the file claims. veraPDF
itself is Java and on none of the registries here (docs/documents.md).
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pikepdf
import pytest
from docx import Document
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import meta
from markupsafe import escape  # what Jinja autoescape uses
from page import validate_pdf_bytes

from ekita.core.errors import RuleViolation
from ekita.core.models.documents import DocumentTemplate, DocumentType
from ekita.core.services.documents import render, templates
from ekita.core.services.documents.samples import SAMPLES


def _template(doc_type: DocumentType, body: str | None = None) -> DocumentTemplate:
    title, statute = templates.DEFAULTS[doc_type]
    return DocumentTemplate(doc_type=doc_type, title=title, statute_ref=statute,
                            valid_from=templates.DEFAULT_VALID_FROM,
                            body=body if body is not None else templates.default_body(doc_type))


def _fonts(obj: pikepdf.Object) -> list[pikepdf.Object]:
    found = []
    for font in obj.values():
        found.extend(font.DescendantFonts if "/DescendantFonts" in font else [font])
    return found


def check_pdf_a(data: bytes, variant_part: str = "3") -> pikepdf.Pdf:
    """The checks named in the module docstring; returns the opened PDF."""
    pdf = pikepdf.open(io.BytesIO(data))
    assert not pdf.is_encrypted
    meta = pdf.open_metadata()
    assert meta.get("pdfaid:part") == variant_part
    assert meta.get("pdfaid:conformance") == "B"
    intents = pdf.Root.OutputIntents
    assert any(i.S == "/GTS_PDFA1" and "/DestOutputProfile" in i for i in intents)
    for page in pdf.pages:
        resources = page.obj.get("/Resources", {})
        fonts = _fonts(resources.get("/Font", pikepdf.Dictionary()))
        assert fonts, "a page with text uses fonts"
        for font in fonts:
            descriptor = font.FontDescriptor
            assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), \
                f"font {font.get('/BaseFont')} is not embedded"
    assert "/JavaScript" not in pdf.Root.get("/Names", {})
    report = validate_pdf_bytes(data)
    assert str(report.profile).endswith(f"PDF_A_{variant_part}B")
    assert report.is_compliant, [(f.rule_id, f.message) for f in report.failures]
    return pdf


@pytest.mark.parametrize("doc_type", list(DocumentType))
def test_every_template_renders_pdf_a_and_docx_with_sample_data(doc_type):
    """Lastenheft 3.15.3 / 3.19: every default template renders to PDF/A-3b and DOCX."""
    template = _template(doc_type)
    html = render.page_html(template.title, templates.fill(template, SAMPLES[doc_type]))
    pdf = check_pdf_a(render.render_pdf(html))
    assert len(pdf.pages) >= 1
    docx = Document(io.BytesIO(render.render_docx(html)))
    texts = [p.text for p in docx.paragraphs] + [
        c.text for t in docx.tables for row in t.rows for c in row.cells]
    assert any("Mustermann" in t for t in texts)
    assert docx.core_properties.title == template.title


def test_pdf_a_2b_variant_for_archiving():
    """Lastenheft 3.16: PDF/A-2b is available as well (PDF/A-3b is the default)."""
    template = _template(DocumentType.EXIT_CONFIRMATION)
    html = render.page_html("x", templates.fill(template, SAMPLES[template.doc_type]))
    check_pdf_a(render.render_pdf(html, "pdf/a-2b"), variant_part="2")


def test_hort_contract_carries_the_fields_of_the_hort_form():
    """data-model.md §3.4 (seed 002): school, Hort/Förderhort, term until grade 4, PKN."""
    template = _template(DocumentType.CARE_CONTRACT_HORT)
    html = templates.fill(template, SAMPLES[DocumentType.CARE_CONTRACT_HORT])
    for text in ("45. Grundschule", "Klassenstufe 4", "12345601", "Masernschutz",
                 "Vdr. 55.028/01", "zwei Monatsbeiträgen"):
        assert text in html


def test_fee_notice_variants_differ_by_payment_and_siblings():
    """data-model.md §5 (Anlage J): Abbucher vs Selbsteinzahler, single vs siblings."""
    debit = templates.fill(_template(DocumentType.FEE_NOTICE_SINGLE_DEBIT),
                           SAMPLES[DocumentType.FEE_NOTICE_SINGLE_DEBIT])
    self_pay = templates.fill(_template(DocumentType.FEE_NOTICE_SINGLE_SELF),
                              SAMPLES[DocumentType.FEE_NOTICE_SINGLE_SELF])
    siblings = templates.fill(_template(DocumentType.FEE_NOTICE_SIBLINGS_SELF),
                              SAMPLES[DocumentType.FEE_NOTICE_SIBLINGS_SELF])
    assert "abgebucht" in debit and "DE02120300000000202051" in debit
    assert "überweisen" in self_pay and "IBAN" not in self_pay
    assert "dritte Kind" in siblings and "320,25 €" in siblings
    for html in (debit, self_pay, siblings):
        assert "maschinell erstellt" in html and "Widerspruch" in html


def test_undefined_placeholder_is_refused():
    """Lastenheft 3.15.3: templates use the defined placeholders only."""
    with pytest.raises(RuleViolation) as err:
        templates.check_body(DocumentType.INVITATION, "<p>{{ iban }}</p>")
    assert err.value.field == "body" and "iban" in err.value.message


def test_sandbox_refuses_attribute_tricks():
    """Administrators edit templates: the sandbox refuses access to Python internals."""
    template = _template(DocumentType.INVITATION,
                         "<p>{{ child_name.__class__.__mro__ }}</p>")
    with pytest.raises(RuleViolation) as err:
        templates.fill(template, SAMPLES[DocumentType.INVITATION])
    assert err.value.record == "document_template"


def test_missing_field_is_named():
    """A missing value is a clear error naming the field, never a half-filled letter."""
    fields = dict(SAMPLES[DocumentType.INVITATION])
    del fields["visit_on"]
    with pytest.raises(RuleViolation) as err:
        templates.fill(_template(DocumentType.INVITATION), fields)
    assert "visit_on" in err.value.message


def test_money_is_never_a_float():
    """House rule: a float amount is refused, Decimal is formatted German style."""
    assert templates.euro(Decimal("1234.5")) == "1.234,50 €"
    with pytest.raises(RuleViolation):
        templates.euro(213.5)


def test_wrong_field_types_are_rule_violations_and_iso_dates_print_german():
    """Bad input: a clear error naming the record, never a traceback (house rule)."""
    fields = {**SAMPLES[DocumentType.FEE_NOTICE_SIBLINGS_SELF], "children": 3}
    with pytest.raises(RuleViolation) as err:
        templates.fill(_template(DocumentType.FEE_NOTICE_SIBLINGS_SELF), fields)
    assert err.value.record == "document"
    assert templates.german_date("2027-01-04") == "04.01.2027"


def test_template_syntax_error_is_a_rule_violation():
    with pytest.raises(RuleViolation) as err:
        templates.check_body(DocumentType.INVITATION, "<p>{% if %}</p>")
    assert "line 1" in err.value.message


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_template_check_never_crashes(body):
    """Parser robustness: any text is accepted or refused with a RuleViolation."""
    try:
        templates.check_body(DocumentType.INVITATION, body)
    except RuleViolation as exc:
        assert exc.rule in (templates.RULE, templates.MARKUP_RULE)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(templates.PLACEHOLDERS[DocumentType.INVITATION])),
                       st.text(max_size=20) | st.dates(), max_size=6))
def test_fill_escapes_or_names_the_missing_field(fields):
    """Filling with arbitrary values either renders (HTML-escaped) or names a missing field."""
    template = _template(DocumentType.INVITATION)
    values = {**SAMPLES[DocumentType.INVITATION], **fields}
    html = templates.fill(template, values)
    used = meta.find_undeclared_variables(templates.environment().parse(template.body))
    for key, value in fields.items():
        if isinstance(value, str) and "<" in value and key in used:
            assert escape(value) in html  # autoescaped
    assert "Einladung zur Besichtigung" in html


def test_default_templates_exist_for_every_type_and_pass_the_check():
    """Lastenheft 3.15.3: a shipped version per type, with statute and validity."""
    for doc_type in DocumentType:
        templates.check_body(doc_type, templates.default_body(doc_type))
        title, statute = templates.DEFAULTS[doc_type]
        assert title and statute
    assert date.today() >= templates.DEFAULT_VALID_FROM


def test_the_pdf_a_check_refuses_a_tampered_file():
    """The check above can fail: JavaScript added to a valid PDF/A is found (ISO 19005-3
    6.6.1 forbids it), by page-validation as well as by the structural check."""
    template = _template(DocumentType.INVITATION)
    html = render.page_html(template.title, templates.fill(template, SAMPLES[template.doc_type]))
    pdf = pikepdf.open(io.BytesIO(render.render_pdf(html)))
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript,
                                             JS=pikepdf.String("app.alert(1)"))
    tampered = io.BytesIO()
    pdf.save(tampered)
    report = validate_pdf_bytes(tampered.getvalue())
    assert not report.is_compliant
    assert any("ACTION" in f.rule_id for f in report.failures)
