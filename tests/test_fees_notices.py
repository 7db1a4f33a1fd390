"""Collective fee notices at a fee switch (Lastenheft 3.10.14.2; fees.md §14 item 4).

Each test runs on SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pypdf
import pytest
from sqlalchemy import func, select

from ekita.core import crypto
from ekita.core.errors import Conflict, RuleViolation
from ekita.core.models import Facility
from ekita.core.models.documents import DocumentType, FiledDocument
from ekita.core.models.enums import CareType, Role
from ekita.core.models.fees import FeeStatute
from ekita.core.schemas.fees import PaymentSetupIn, StatuteChange, StatuteIn
from ekita.core.services.documents import family_file as ff
from ekita.core.services.documents import templates
from ekita.core.services.documents.letterhead import Letterhead
from ekita.core.services.fees import cases, notices, statutes
from ekita.core.services.fees.statutes import DEFAULT_2011, create_statute
from tests.api import client, key
from tests.conftest import work
from tests.delivery_kit import url_of
from tests.test_fees_world import build, family, fees

KK, KG, HEIL = CareType.KRIPPE, CareType.KINDERGARTEN, CareType.HEILPAEDAGOGISCH
SWITCH = date(2013, 9, 1)
ISSUED = date(2013, 8, 5)
IBAN = "DE89 3704 0044 0532 0130 00"


def _city(s):
    """Siblings paying by direct debit, a self-payer, a family at an independent carrier,
    a heilpädagogisch placed child, and the statute that switches on 1 Sep 2013."""
    city = build(s)
    for doc_type in (DocumentType.FEE_NOTICE_SIBLINGS_DEBIT, DocumentType.FEE_NOTICE_SINGLE_SELF):
        title, _statute = templates.DEFAULTS[doc_type]
        templates.create_template(s, templates.TemplateInput(
            doc_type, title, SWITCH, "Satzung 2013", templates.default_body(doc_type),
            valid_to=date(2025, 12, 31)))
    siblings = family(s, city.kita, [(date(2010, 8, 1), KK, "9"), (date(2008, 5, 10), KG, "6")])
    cases.set_payment(s, PaymentSetupIn(guardian_id=siblings.guardian,
                                        payment_method="DIRECT_DEBIT", iban=IBAN,
                                        mandate_reference="M-1", holder="Elter Beitrag"))
    single = family(s, city.kita, [(date(2008, 2, 1), KG, "9")])
    independent = family(s, city.free_kita, [(date(2008, 2, 1), KG, "9")])
    excluded = family(s, city.kita, [(date(2008, 2, 1), HEIL, "9")])
    data = StatuteIn.model_validate({**DEFAULT_2011, "name": "Satzung 2013",
                                     "valid_from": SWITCH})
    data.params.full9["KG"] = data.params.full9["KG"] + 20
    data.params.published = {}
    data.params.cost_basis = {}  # the new 9-hour fee is given directly
    create_statute(s, data)
    return siblings, single, independent, excluded


def _text(s, doc: FiledDocument) -> str:
    _doc, pdf = ff.content(s, doc.id)
    return "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_switch_plans_one_notice_per_payer_with_the_new_amounts(engine):
    """3.10.14.2: collective notices for every child in care at the switch; the variant
    by siblings and payment method; amounts from the new statute; only the fees the city
    sets (3.10.2), no notice for an excluded child (B §10(7))."""
    with work(engine) as s:
        siblings, single, _independent, _excluded = _city(s)
        planned = notices.plan(s, SWITCH)
        assert [(n.guardian_id, n.doc_type) for n in planned] == [
            (siblings.guardian, DocumentType.FEE_NOTICE_SIBLINGS_DEBIT),
            (single.guardian, DocumentType.FEE_NOTICE_SINGLE_SELF)]
        expected = fees(s, SWITCH, siblings.contracts + single.contracts)
        assert [c.amount_cents for n in planned for c in n.children] == expected
        assert fees(s, date(2013, 8, 1), single.contracts) != fees(s, SWITCH, single.contracts)


def test_notices_are_filed_once_with_the_masked_iban(engine):
    """3.10.14.2 / 3.16: each notice lands in the payer's family file; the letter shows the
    IBAN masked (data-protection R8); a rerun after an interruption files nothing twice."""
    with work(engine) as s:
        _city(s)
        planned = notices.plan(s, SWITCH)
        created = [notices.issue(s, n, SWITCH, issued_on=ISSUED,
                                 letterhead=Letterhead())[1] for n in planned]
        assert created == [True, True]
    with work(engine) as s:
        again = [notices.issue(s, n, SWITCH, issued_on=ISSUED,
                               letterhead=Letterhead())[1]
                 for n in notices.plan(s, SWITCH)]
        assert again == [False, False]
        docs = s.scalars(select(FiledDocument).order_by(FiledDocument.id)).all()
        assert s.scalar(select(func.count()).select_from(FiledDocument)) == 2
        assert [d.doc_class for d in docs] == ["fee_notice_siblings_debit",
                                               "fee_notice_single_self"]
        text = "".join(_text(s, docs[0]).split())
        assert "DE89**************3000" in text and "370400440532013000" not in text
        assert "Commerzbank" in text and "01.09.2013" in text


def test_switch_is_on_the_first_of_a_month(engine):
    """3.10.14.2: "stichtagsbezogene (zum 1. eines Monats) Umstellung"."""
    with work(engine) as s:
        _city(s)
        with pytest.raises(RuleViolation) as err:
            notices.plan(s, date(2013, 9, 2))
        assert err.value.field == "effective"


@pytest.mark.slow
def test_billing_notices_cli_dry_run_run_and_rerun(engine):
    """3.10.14.2 from the command line: `billing notices --effective`; a dry run renders
    nothing, a rerun files nothing twice, a date that is not a 1st is one clear line."""
    key = crypto.generate_key()
    crypto.configure(key)
    with work(engine) as s:
        _city(s)
    env = {"EKITA_DATA_KEY": key}
    dry = json.loads(_cli(engine, env, "--effective", "2013-09-01", "--dry-run").stdout)
    assert (dry["notices"], dry["filed"]) == (2, 0)
    assert dry["by_type"] == {"fee_notice_siblings_debit": 1, "fee_notice_single_self": 1}
    run = _cli(engine, env, "--effective", "2013-09-01", "--issued-on", "2013-08-05",
               "--chunk", "1")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["filed"] == 2
    again = json.loads(_cli(engine, env, "--effective", "2013-09-01").stdout)
    assert (again["filed"], again["already_filed"]) == (0, 2)
    bad = _cli(engine, env, "--effective", "2013-09-02")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "1st" in bad.stderr


def _cli(engine, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "EKITA_DATABASE_URL": url_of(engine), **env}
    full.pop("EKITA_CONFIG", None)
    return subprocess.run([str(Path(sys.executable).parent / "ekita-hub"), "billing",
                           "notices", *args], capture_output=True, text=True, env=full,
                          timeout=120)


def test_notices_through_the_api(engine):
    """3.10.14.2 over HTTP: the fee office sees the plan and (re-)issues one payer's notice;
    ZVS reads the plan but issues nothing; facility leads get 403 (data-protection M8)."""
    with work(engine) as s:
        siblings, single, *_ = _city(s)
        facility = s.scalar(select(Facility.id).limit(1))
    api = client(engine)
    finance, zvs = key(engine, Role.FINANCE), key(engine, Role.ZVS)
    lead = key(engine, Role.FACILITY_LEAD, facility_id=facility)
    assert api.get("/api/v1/fees/notices", params={"effective": "2013-09-01"},
                   headers=lead).status_code == 403
    plan = api.get("/api/v1/fees/notices", params={"effective": "2013-09-01"},
                   headers=finance).json()
    assert plan["total"] == 2
    assert [i["guardian_id"] for i in plan["items"]] == [siblings.guardian, single.guardian]
    assert plan["by_type"] == {"fee_notice_siblings_debit": 1, "fee_notice_single_self": 1}
    assert api.get("/api/v1/fees/notices", params={"effective": "2013-09-01"},
                   headers=zvs).status_code == 200
    path = f"/api/v1/fees/notices/{single.guardian}"
    assert api.post(path, params={"effective": "2013-09-01"}, headers=zvs).status_code == 403
    first = api.post(path, params={"effective": "2013-09-01"}, headers=finance)
    assert first.status_code == 201 and first.json()["created"] is True
    again = api.post(path, params={"effective": "2013-09-01"}, headers=finance)
    assert again.status_code == 200 and again.json()["document_id"] == first.json()[
        "document_id"]
    assert api.post("/api/v1/fees/notices/999999", params={"effective": "2013-09-01"},
                    headers=finance).status_code == 404
    bad = api.get("/api/v1/fees/notices", params={"effective": "2013-09-02"}, headers=finance)
    assert bad.status_code == 422 and "1st" in bad.text


def test_statute_with_filed_notices_is_not_corrected_in_place(engine):
    """fees.md §14.4: once the switch's notices are filed, a correction of the statute
    version would make them wrong: 409, a successor version is the way."""
    with work(engine) as s:
        _city(s)
        statute = s.scalar(select(FeeStatute).where(FeeStatute.valid_from == SWITCH))
        notice = notices.plan(s, SWITCH)[0]
        notices.issue(s, notice, SWITCH, issued_on=ISSUED, letterhead=Letterhead())
        with pytest.raises(Conflict) as err:
            statutes.update_statute(s, statute.id, StatuteChange(name="neu"))
        assert "notices" in err.value.message


def test_one_payers_plan_is_the_same_notice_as_in_the_city_plan(engine):
    """3.10.14.2: a re-issue for one payer assesses only that payer's households and gives
    the notice the whole switch would (siblings, amounts, variant)."""
    with work(engine) as s:
        siblings, single, *_ = _city(s)
        whole = {n.guardian_id: n for n in notices.plan(s, SWITCH)}
        for guardian in (siblings.guardian, single.guardian):
            assert notices.plan(s, SWITCH, payer=guardian) == [whole[guardian]]
        assert notices.plan(s, SWITCH, payer=999_999) == []
