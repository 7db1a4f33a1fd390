"""``ekita-hub documents``: templates for administrators (3.15.3) and the family file (3.17).

Template bodies are edited as files (``export`` → edit → ``add``/``update``), so no
programming is needed; a body with an undefined placeholder is refused with its name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ekita.core.access import Principal
from ekita.core.db.session import make_engine, unit_of_work
from ekita.core.errors import RuleViolation
from ekita.core.models.documents import DocumentTemplate, DocumentType
from ekita.core.services.base import load
from ekita.core.services.documents import family_file as ff
from ekita.core.services.documents import templates as tpl
from ekita.core.services.documents.generate import render_document
from ekita.core.services.documents.samples import SAMPLES
from ekita.hub.cli.dates import parse_day
from ekita.hub.config import load_settings
from ekita.hub.inputs import cap_for, read_text_capped

app = typer.Typer(help="Document templates and family files.", no_args_is_help=True)
templates_app = typer.Typer(help="Template versions (validity, statute, placeholders).",
                            no_args_is_help=True)
app.add_typer(templates_app, name="templates")
out = Console()
ADMIN = Principal.system("cli", "documents")




def _text(path: Path) -> str:
    """A file given to a command, read under ``input_caps.cli_text`` (issue 12 item 6)."""
    return read_text_capped(path, cap=cap_for("cli_text", load_settings()))


def _session():
    settings = load_settings()
    return unit_of_work(make_engine(settings.database_url), ADMIN), settings


@templates_app.command("list")
def list_templates(doc_type: Annotated[DocumentType | None, typer.Option("--type")] = None
                   ) -> None:
    """Every version with its validity and statute reference."""
    work, _ = _session()
    table = Table("id", "type", "valid from", "valid to", "statute", "title")
    with work as session:
        for t in tpl.list_templates(session, doc_type):
            table.add_row(str(t.id), t.doc_type.value, str(t.valid_from), str(t.valid_to or ""),
                          t.statute_ref, t.title)
    out.print(table)


@templates_app.command("install-defaults")
def install_defaults() -> None:
    """Create the shipped version of every type that has none yet."""
    work, _ = _session()
    with work as session:
        created = tpl.install_defaults(session)
    out.print(f"{len(created)} template version(s) created")


@templates_app.command("placeholders")
def placeholders(doc_type: DocumentType) -> None:
    """The fields a template of this type may use."""
    for name in sorted(tpl.PLACEHOLDERS[doc_type]):
        out.print(f"{name}{' (optional)' if name in tpl.OPTIONAL else ''}")


@templates_app.command("export")
def export(template_id: int, target: Annotated[Path, typer.Argument(dir_okay=False)]) -> None:
    """Write a version's body to a file for editing."""
    work, _ = _session()
    with work as session:
        tpl.list_templates(session)  # permission check: templates:manage
        body = load(session, DocumentTemplate, template_id).body
    target.write_text(body, "utf-8")
    out.print(f"template {template_id} written to {target}")


@templates_app.command("add")
def add(doc_type: Annotated[DocumentType, typer.Option("--type")],
        title: Annotated[str, typer.Option()],
        valid_from: Annotated[str, typer.Option(help="YYYY-MM-DD")],
        statute: Annotated[str, typer.Option(help="statute reference, e.g. the fee statute")],
        body: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
        valid_to: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None) -> None:
    """A new version; an open-ended earlier one ends the day before."""
    work, _ = _session()
    with work as session:
        created = tpl.create_template(session, tpl.TemplateInput(
            doc_type, title, parse_day(valid_from), statute, _text(body),
            parse_day(valid_to) if valid_to else None))
        out.print(f"template {created.id} ({doc_type.value}) valid from {created.valid_from}")


@templates_app.command("update")
def update(template_id: int,
           body: Annotated[Path | None, typer.Option(exists=True, dir_okay=False)] = None,
           valid_to: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
           statute: Annotated[str | None, typer.Option()] = None,
           title: Annotated[str | None, typer.Option()] = None) -> None:
    """Change a version no document was made from yet (validity may always be closed)."""
    changes: dict[str, object] = {}
    if body is not None:
        changes["body"] = _text(body)
    if valid_to is not None:
        changes["valid_to"] = parse_day(valid_to)
    if statute is not None:
        changes["statute_ref"] = statute
    if title is not None:
        changes["title"] = title
    work, _ = _session()
    with work as session:
        tpl.update_template(session, template_id, changes)
    out.print(f"template {template_id} updated")


@templates_app.command("preview")
def preview(doc_type: DocumentType, target: Annotated[Path, typer.Argument(dir_okay=False)],
            on: Annotated[str, typer.Option("--date", help="reference date YYYY-MM-DD")],
            fields: Annotated[Path | None, typer.Option(help="JSON with the field values; "
                                                        "default: sample values")] = None,
            fmt: Annotated[str, typer.Option("--format", help="pdf or docx")] = "pdf") -> None:
    """Render the version valid on the date to a file (nothing is filed)."""
    if fmt not in ("pdf", "docx"):
        raise typer.BadParameter("pdf or docx")
    try:
        values = json.loads(_text(fields)) if fields else SAMPLES[doc_type]
    except json.JSONDecodeError as exc:
        raise RuleViolation(f"not JSON: {exc.msg} at line {exc.lineno}", record=str(fields),
                            field="fields", rule="a JSON object of field values") from None
    work, _ = _session()
    with work as session:
        rendered = render_document(session, doc_type, values, parse_day(on), fmt)  # type: ignore[arg-type]
    target.write_bytes(rendered.data)
    out.print(f"{target}: {len(rendered.data)} bytes, template {rendered.template.id}")


@app.command("list")
def list_documents(family_id: int) -> None:
    """The documents in a family's file."""
    work, _ = _session()
    table = Table("id", "class", "direction", "date", "title", "sha256")
    with work as session:
        for d in ff.documents(session, family_id):
            table.add_row(str(d.id), d.doc_class, d.direction.value, str(d.reference_date),
                          d.title, d.sha256[:12])
    out.print(table)


@app.command("archive")
def archive(family_id: int, on: Annotated[str, typer.Option("--date")]) -> None:
    """Archive a family file (3.17): no child in care, no open process."""
    work, settings = _session()
    with work as session:
        ff.archive(session, family_id, parse_day(on),
                   target=ff.store_for(settings.document_store, "city"))
    out.print(f"family file of family {family_id} archived")


@app.command("reactivate")
def reactivate(family_id: int) -> None:
    """Reactivate an archived family file (3.17)."""
    work, settings = _session()
    with work as session:
        ff.reactivate(session, family_id, target=ff.store_for(settings.document_store, "city"))
    out.print(f"family file of family {family_id} reactivated")
