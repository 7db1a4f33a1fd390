"""Template versions: validity period, statute reference, defined placeholders (3.15.3).

Administrators edit templates without programming, so a template is Jinja2 HTML run in
a sandbox (``SandboxedEnvironment``: no attribute tricks, no file access) and may use only
the placeholders defined for its document type. The version used for a document is the
one valid on the document's reference date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ekita.core.access import Permission
from ekita.core.errors import Conflict, NotFound, RuleViolation
from ekita.core.models.documents import DocumentTemplate, DocumentType, FiledDocument
from ekita.core.services.base import load, require
from ekita.core.services.documents.markup import MarkupError, check_markup

RULE = "Lastenheft 3.15.3: templates use the defined placeholders only"
MARKUP_RULE = "docs/documents.md: templates use the HTML subset both renderers understand"

#: Letterhead fields of every notice and letter (Anlage J: Bez1–3, Strasse, PLZ/Ort, Kto,
#: Unser Zeichen, clerk's name, room, phone and e-mail).
COMMON = frozenset({
    "recipient_name", "recipient_name2", "recipient_street", "recipient_town", "salutation",
    "pkn", "our_ref", "clerk", "clerk_room", "clerk_phone", "clerk_email", "issued_on",
    "statute_ref",
})
_FEE = frozenset({"period", "child_name", "care_hours", "cost_centre_name", "amount"})
_SIBLINGS = frozenset({"period", "children", "amount_total"})
_DEBIT = frozenset({"iban", "bank"})
_CONTRACT = frozenset({
    "psb1_salutation", "psb1_name", "psb1_address", "psb2_salutation", "psb2_name",
    "psb2_address", "child_family_name", "child_first_name", "child_birth_date",
    "child_address", "care_start", "term_to", "facility_name", "facility_address",
    "care_hours",
})
#: Hort contract §§ 1–12 (form Vdr. 55.028/01, seed 002): term until grade 4 (6 with
#: Förderschwerpunkt Lernen) unless fixed, the assigned school, Hort or Förderhort, the
#: conditions of § 2.
_HORT = frozenset({
    "term_until_grade", "school_name", "hort_kind", "measles_protection",
    "first_admission_saxony", "operating_licence_pending",
})

PLACEHOLDERS: dict[DocumentType, frozenset[str]] = {
    DocumentType.CARE_CONTRACT_KITA: COMMON | _CONTRACT,
    DocumentType.CARE_CONTRACT_HORT: COMMON | _CONTRACT | _HORT,
    DocumentType.FEE_NOTICE_SINGLE_DEBIT: COMMON | _FEE | _DEBIT,
    DocumentType.FEE_NOTICE_SINGLE_SELF: COMMON | _FEE,
    DocumentType.FEE_NOTICE_SIBLINGS_DEBIT: COMMON | _SIBLINGS | _DEBIT,
    DocumentType.FEE_NOTICE_SIBLINGS_SELF: COMMON | _SIBLINGS,
    DocumentType.EXIT_CONFIRMATION: COMMON | {"child_name", "facility_name", "exit_date",
                                              "reason"},
    DocumentType.APPLICATION_RECEIPT: COMMON | {"application_no", "received_on",
                                                "child_names", "desired_start"},
    DocumentType.PLACEMENT_STARTS: COMMON | {"child_name", "desired_start", "facilities"},
    DocumentType.INVITATION: COMMON | {"child_name", "facility_name", "facility_address",
                                       "visit_on", "visit_time"},
}

#: Placeholders a document may leave empty (a second guardian, a fixed contract end …).
OPTIONAL = frozenset({"recipient_name2", "psb2_salutation", "psb2_name", "psb2_address",
                      "term_to", "term_until_grade", "operating_licence_pending"})

#: Default versions shipped with the hub (package data ``ekita.core.documents``).
DEFAULTS: dict[DocumentType, tuple[str, str]] = {
    DocumentType.CARE_CONTRACT_KITA: ("Betreuungsvertrag Kindertageseinrichtung",
                                      "SächsKitaG; Elternbeitragssatzung der LH Dresden"),
    DocumentType.CARE_CONTRACT_HORT: ("Betreuungsvertrag Hort (Vdr. 55.028/01, Version 5.0)",
                                      "SächsKitaG § 7; § 45 SGB VIII; § 20 IfSG"),
    DocumentType.FEE_NOTICE_SINGLE_DEBIT: ("Elternbeitragsbescheid (Abbucher)",
                                           "§ 15 SächsKitaG; Elternbeitragssatzung"),
    DocumentType.FEE_NOTICE_SINGLE_SELF: ("Elternbeitragsbescheid (Selbsteinzahler)",
                                          "§ 15 SächsKitaG; Elternbeitragssatzung"),
    DocumentType.FEE_NOTICE_SIBLINGS_DEBIT: ("Elternbeitragsbescheid Geschwister (Abbucher)",
                                             "§ 15 SächsKitaG; Elternbeitragssatzung"),
    DocumentType.FEE_NOTICE_SIBLINGS_SELF: (
        "Elternbeitragsbescheid Geschwister (Selbsteinzahler)",
        "§ 15 SächsKitaG; Elternbeitragssatzung"),
    DocumentType.EXIT_CONFIRMATION: ("Austrittsbestätigung", "Betreuungsvertrag § 10"),
    DocumentType.APPLICATION_RECEIPT: ("Eingangsbestätigung", "§ 4 SächsKitaG"),
    DocumentType.PLACEMENT_STARTS: ("Mitteilung: Vermittlung beginnt", "§ 4 SächsKitaG"),
    DocumentType.INVITATION: ("Einladung zur Besichtigung", "§ 4 SächsKitaG"),
}
DEFAULT_VALID_FROM = date(2026, 1, 1)


def euro(value: Any) -> str:
    """Format an amount in euros, German style; money is never a float."""
    if isinstance(value, float) or not isinstance(value, Decimal | int | str):
        raise RuleViolation(f"amount {value!r} is not a decimal", record="document",
                            field="amount", rule="money is never a float")
    amount = Decimal(value).quantize(Decimal("0.01"))
    whole, cents = f"{amount:,.2f}".split(".")
    return f"{whole.replace(',', '.')},{cents} €"


def german_date(value: Any) -> str:
    """dd.mm.yyyy for dates and ISO date strings (JSON input); anything else as given."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%d.%m.%Y") if isinstance(value, date) else str(value)


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined,
                               trim_blocks=True, lstrip_blocks=True)
    env.filters["euro"] = euro
    env.filters["de"] = german_date
    return env


def check_body(doc_type: DocumentType, body: str) -> None:
    """Refuse syntax errors and placeholders not defined for the type (3.15.3)."""
    try:
        parsed = environment().parse(body)
    except TemplateSyntaxError as exc:
        raise RuleViolation(f"template syntax error on line {exc.lineno}: {exc.message}",
                            record="document_template", field="body", rule=RULE) from None
    unknown = sorted(meta.find_undeclared_variables(parsed) - PLACEHOLDERS[doc_type])
    if unknown:
        raise RuleViolation(
            f"placeholder(s) {', '.join(unknown)} not defined for {doc_type.value}",
            record="document_template", field="body", rule=RULE)
    try:
        check_markup(body)
    except MarkupError as exc:
        raise RuleViolation(str(exc), record="document_template", field="body",
                            rule=MARKUP_RULE) from None


@lru_cache(maxsize=256)
def _compiled(body: str) -> Any:
    return environment().from_string(body)


def fill(template: DocumentTemplate, fields: dict[str, Any]) -> str:
    """The template's HTML body with the fields filled in; a missing field is named."""
    unknown = sorted(set(fields) - PLACEHOLDERS[template.doc_type])
    if unknown:
        raise RuleViolation(f"field(s) {', '.join(unknown)} not defined for "
                            f"{template.doc_type.value}", record="document",
                            field=unknown[0], rule=RULE)
    optional = OPTIONAL & PLACEHOLDERS[template.doc_type]
    values = {**dict.fromkeys(optional), "statute_ref": template.statute_ref, **fields}
    try:
        return _compiled(template.body).render(values)
    except UndefinedError as exc:
        raise RuleViolation(f"missing field: {exc.message}", record="document", field="fields",
                            rule=RULE) from None
    except SecurityError as exc:
        raise RuleViolation(f"template refused by the sandbox: {exc}",
                            record="document_template", field="body", rule=RULE) from None
    except RuleViolation:
        raise
    except (TemplateError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise RuleViolation(f"a field does not fit the template: {type(exc).__name__}",
                            record="document", field="fields", rule=RULE) from None


def default_body(doc_type: DocumentType) -> str:
    return (resources.files("ekita.core.documents").joinpath("templates")
            .joinpath(f"{doc_type.value}.html").read_text("utf-8"))


@dataclass(frozen=True)
class TemplateInput:
    doc_type: DocumentType
    title: str
    valid_from: date
    statute_ref: str
    body: str
    valid_to: date | None = None


def _overlapping(session: Session, data: TemplateInput, exclude: int | None
                 ) -> list[DocumentTemplate]:
    stmt = select(DocumentTemplate).where(
        DocumentTemplate.doc_type == data.doc_type,
        or_(DocumentTemplate.valid_to.is_(None), DocumentTemplate.valid_to >= data.valid_from))
    if data.valid_to is not None:
        stmt = stmt.where(DocumentTemplate.valid_from <= data.valid_to)
    return [t for t in session.scalars(stmt) if t.id != exclude]


def create_template(session: Session, data: TemplateInput) -> DocumentTemplate:
    """A new version. An open-ended earlier version is closed the day before it starts."""
    require(session, Permission.TEMPLATES_MANAGE)
    check_body(data.doc_type, data.body)
    if data.valid_to is not None and data.valid_to < data.valid_from:
        raise RuleViolation("valid_to is before valid_from", record="document_template",
                            field="valid_to", rule="Lastenheft 3.15.3: a validity period")
    for other in _overlapping(session, data, None):
        if other.valid_to is None and other.valid_from < data.valid_from:
            other.valid_to = data.valid_from - timedelta(days=1)
            continue
        raise Conflict(f"overlaps version {other.id} valid from {other.valid_from}",
                       record="document_template", field="valid_from",
                       rule="Lastenheft 3.15.3: one version per type and date")
    template = DocumentTemplate(doc_type=data.doc_type, title=data.title,
                                valid_from=data.valid_from, valid_to=data.valid_to,
                                statute_ref=data.statute_ref, body=data.body)
    session.add(template)
    session.flush()
    return template


def update_template(session: Session, template_id: int, changes: dict[str, Any]
                    ) -> DocumentTemplate:
    """Edit a version no document was made from yet; a used version is kept as it was."""
    require(session, Permission.TEMPLATES_MANAGE)
    template = load(session, DocumentTemplate, template_id)
    empty = sorted(k for k, v in changes.items() if v is None and k != "valid_to")
    if empty:
        raise RuleViolation(f"{empty[0]} cannot be empty", record="document_template",
                            field=empty[0], rule="Lastenheft 3.15.3")
    used = session.scalar(select(FiledDocument.id).where(FiledDocument.template_id == template.id)
                          .limit(1))
    if used is not None and set(changes) & {"body", "statute_ref", "title"}:
        raise Conflict(f"version {template.id} was used for filed documents; create a new one",
                       record="document_template", field="body",
                       rule="data-protection D5: documents stay reproducible")
    body = changes.get("body", template.body)
    check_body(template.doc_type, body)
    data = TemplateInput(template.doc_type, changes.get("title", template.title),
                         changes.get("valid_from", template.valid_from),
                         changes.get("statute_ref", template.statute_ref), body,
                         changes.get("valid_to", template.valid_to))
    if data.valid_to is not None and data.valid_to < data.valid_from:
        raise RuleViolation("valid_to is before valid_from", record="document_template",
                            field="valid_to", rule="Lastenheft 3.15.3: a validity period")
    clash = _overlapping(session, data, template.id)
    if clash:
        raise Conflict(f"overlaps version {clash[0].id}", record="document_template",
                       field="valid_from", rule="Lastenheft 3.15.3: one version per type and date")
    for key, value in changes.items():
        setattr(template, key, value)
    session.flush()
    return template


def template_for(session: Session, doc_type: DocumentType, on: date) -> DocumentTemplate:
    """The version valid on the reference date (3.15.3)."""
    found = session.scalars(select(DocumentTemplate).where(
        DocumentTemplate.doc_type == doc_type, DocumentTemplate.valid_from <= on,
        or_(DocumentTemplate.valid_to.is_(None), DocumentTemplate.valid_to >= on))
        .order_by(DocumentTemplate.valid_from.desc())).first()
    if found is None:
        raise NotFound(f"no {doc_type.value} template valid on {on}", record="document_template",
                       field="valid_from", rule="Lastenheft 3.15.3: a version valid on the date")
    return found


def list_templates(session: Session, doc_type: DocumentType | None = None
                   ) -> list[DocumentTemplate]:
    require(session, Permission.TEMPLATES_MANAGE)
    stmt = select(DocumentTemplate).order_by(DocumentTemplate.doc_type,
                                             DocumentTemplate.valid_from)
    if doc_type is not None:
        stmt = stmt.where(DocumentTemplate.doc_type == doc_type)
    return list(session.scalars(stmt))


def install_defaults(session: Session) -> list[DocumentTemplate]:
    """Create the shipped version of every type that has none yet."""
    require(session, Permission.TEMPLATES_MANAGE)
    have = set(session.scalars(select(DocumentTemplate.doc_type)))
    return [create_template(session, TemplateInput(doc_type, title, DEFAULT_VALID_FROM, statute,
                                                   default_body(doc_type)))
            for doc_type, (title, statute) in DEFAULTS.items() if doc_type not in have]
