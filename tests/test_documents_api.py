"""API and CLI of templates and the family file (Lastenheft 3.7.4, 3.15.3, 3.17; R10)."""

from __future__ import annotations

from datetime import date

from typer.testing import CliRunner

from ekita.core.models.documents import DocumentType
from ekita.core.models.enums import Role
from ekita.core.services.documents.samples import SAMPLES
from tests.api import client, key
from tests.test_documents_file import world_with_templates

API = "/api/v1"
NOTICE = DocumentType.FEE_NOTICE_SINGLE_SELF


def _generate_body(child: int) -> dict:
    fields = {k: (str(v) if not isinstance(v, date) else v.isoformat())
              for k, v in SAMPLES[NOTICE].items()}
    fields["amount"] = "213.50"
    return {"doc_type": NOTICE.value, "reference_date": "2027-01-04",
            "business_key": f"fee:2027-01:{child}", "fields": fields, "child_id": child,
            "pkn": "12345601", "cost_centre": "KST-M1"}


def test_templates_are_managed_by_administrators_only(engine):
    """Lastenheft 3.15.3: administrators manage versions through the API; others 403."""
    world, _, _ = world_with_templates(engine)
    api = client(engine)
    admin = key(engine, Role.ADMIN)
    bad = api.post(f"{API}/document-templates", headers=admin, json={
        "doc_type": "invitation", "title": "Einladung", "valid_from": "2027-03-01",
        "statute_ref": "§ 4 SächsKitaG", "body": "<p>{{ iban }}</p>"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "body" and "iban" in bad.json()["error"]["message"]
    made = api.post(f"{API}/document-templates", headers=admin, json={
        "doc_type": "invitation", "title": "Einladung 2027", "valid_from": "2027-03-01",
        "statute_ref": "§ 4 SächsKitaG", "body": "<h1>Einladung</h1><p>{{ child_name }}</p>"})
    assert made.status_code == 201
    versions = api.get(f"{API}/document-templates", headers=admin,
                       params={"doc_type": "invitation"}).json()
    assert [v["valid_to"] for v in versions] == ["2027-02-28", None]
    pdf = api.post(f"{API}/document-templates/preview", headers=admin, json={
        "doc_type": "invitation", "reference_date": "2027-03-02"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    docx = api.post(f"{API}/document-templates/preview", headers=admin, json={
        "doc_type": "invitation", "reference_date": "2027-01-02", "format": "docx"})
    assert docx.content.startswith(b"PK")
    for role, extra in ((Role.FACILITY_LEAD, {"facility_id": world.facility_m}),
                        (Role.CARRIER, {"carrier_id": world.independent}),
                        (Role.ZVS, {})):
        answer = api.get(f"{API}/document-templates", headers=key(engine, role, **extra))
        assert answer.status_code == 403


def test_family_file_over_the_api_and_403_for_tenants(engine):
    """R10: fee office files, ZVS reads, facility leads and carriers get 403 (3.7.4)."""
    world, child, family_id = world_with_templates(engine)
    api = client(engine)
    finance = key(engine, Role.FINANCE)
    made = api.post(f"{API}/families/{family_id}/documents/generate", headers=finance,
                    json=_generate_body(child))
    assert made.status_code == 201, made.text
    again = api.post(f"{API}/families/{family_id}/documents/generate", headers=finance,
                     json=_generate_body(child))
    assert again.status_code == 200 and again.json()["id"] == made.json()["id"]
    proof = b"%PDF-1.4 Meldebescheinigung"
    upload = api.post(f"{API}/families/{family_id}/documents", headers={
        **finance, "Content-Type": "application/pdf"}, content=proof, params={
        "doc_class": "Nachweis Hauptwohnsitz", "business_key": "upload:1",
        "received_on": "2027-01-03", "file_name": "meldung.pdf", "child_id": child})
    assert upload.status_code == 201, upload.text
    assert upload.json()["direction"] == "incoming"
    assert upload.json()["machine_generated"] is False
    zvs = key(engine, Role.ZVS)
    listed = api.get(f"{API}/families/{family_id}/documents", headers=zvs)
    assert [d["doc_class"] for d in listed.json()] == [NOTICE.value, "Nachweis Hauptwohnsitz"]
    content = api.get(f"{API}/documents/{upload.json()['id']}/content", headers=zvs)
    assert content.content == proof and content.headers["etag"] == upload.json()["sha256"]
    refused = api.post(f"{API}/families/{family_id}/documents", headers={
        **zvs, "Content-Type": "application/pdf"}, content=proof, params={
        "doc_class": "x", "business_key": "upload:2", "received_on": "2027-01-03",
        "file_name": "x.pdf"})
    assert refused.status_code == 403
    wrong_type = api.post(f"{API}/families/{family_id}/documents", headers={
        **finance, "Content-Type": "text/html"}, content=b"<html/>", params={
        "doc_class": "x", "business_key": "upload:3", "received_on": "2027-01-03",
        "file_name": "x.html"})
    assert wrong_type.status_code == 422
    for role, extra in ((Role.FACILITY_LEAD, {"facility_id": world.facility_m}),
                        (Role.CARRIER, {"carrier_id": world.municipal})):
        headers = key(engine, role, **extra)
        for path in (f"/families/{family_id}/documents", f"/families/{family_id}/file",
                     f"/documents/{made.json()['id']}/content"):
            assert api.get(f"{API}{path}", headers=headers).status_code == 403
    in_care = api.post(f"{API}/families/{family_id}/file/archive", headers=finance,
                       json={"on": "2027-01-04"})
    assert in_care.status_code == 422 and "3.17" in in_care.json()["error"]["rule"]


def test_cli_installs_lists_and_previews_templates(engine, tmp_path, monkeypatch):
    """3.15.3: administrators manage templates with the CLI, without programming."""
    from ekita.hub.cli.main import app

    monkeypatch.setenv("EKITA_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    first = runner.invoke(app, ["documents", "templates", "install-defaults"])
    assert first.exit_code == 0 and f"{len(DocumentType)} template" in first.output
    body = tmp_path / "body.html"
    body.write_text("<h1>Einladung</h1><p>{{ child_name }} am {{ visit_on|de }}</p>")
    added = runner.invoke(app, ["documents", "templates", "add", "--type", "invitation",
                                "--title", "Einladung 2028", "--valid-from", "2028-01-01",
                                "--statute", "§ 4 SächsKitaG", "--body", str(body)])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["documents", "templates", "list", "--type", "invitation"])
    assert "2027-12-31" in listed.output and "2028-01-01" in listed.output
    target = tmp_path / "preview.pdf"
    shown = runner.invoke(app, ["documents", "templates", "preview", "invitation", str(target),
                                "--date", "2028-02-01"])
    assert shown.exit_code == 0 and target.read_bytes().startswith(b"%PDF-")
    body.write_text("<p>{{ iban }}</p>")
    refused = runner.invoke(app, ["documents", "templates", "add", "--type", "invitation",
                                  "--title", "x", "--valid-from", "2029-01-01",
                                  "--statute", "x", "--body", str(body)])
    assert refused.exit_code != 0
