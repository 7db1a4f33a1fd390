"""Fee routes (fees.md; Lastenheft 3.10; data-protection M8, R8, R12) on both databases."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from ekita.core.models.audit import AuditEvent
from ekita.core.models.enums import CareType, Role
from tests.api import client, key
from tests.conftest import work
from tests.test_fees_world import build, family, prepare

KK = CareType.KRIPPE


def _setup(engine):
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2010, 8, 1), KK, "9")])
    api = client(engine)
    prepare()  # the contract's SAP-FI field list (the planned stub may declare fewer)
    return api, city, fam


def test_preview_run_rerun_and_corrections_as_finance(engine):
    """fees.md §11, Lastenheft 3.10.1, 3.10.9: finance previews a fee (computed value
    visible), runs the debit run (a rerun answers created=false), withdraws a single-parent
    period and books the back-charge listed on "offene Änderungen"."""
    api, _city, fam = _setup(engine)
    finance = key(engine, Role.FINANCE)
    r = api.get("/api/v1/fees/preview", params={"contract_id": fam.contracts[0],
                                                "period": "2012-09"}, headers=finance)
    assert r.status_code == 200, r.text
    assert (r.json()["amount_cents"], r.json()["group"]) == (18936, "KK")
    fact = api.post("/api/v1/fees/facts", headers=finance, json={
        "child_id": fam.children[0], "kind": "single_parent", "valid_from": "2012-09-01"})
    assert fact.status_code == 201, fact.text
    run = api.post("/api/v1/fees/debit-runs", params={"period": "2012-09"}, headers=finance)
    assert (run.json()["record_count"], run.json()["control_sum_cents"]) == (1, 17042)
    again = api.post("/api/v1/fees/debit-runs", params={"period": "2012-09"}, headers=finance)
    assert again.json()["created"] is False
    assert api.delete(f"/api/v1/fees/facts/{fact.json()['id']}",
                      headers=finance).status_code == 204
    open_changes = api.get("/api/v1/fees/open-changes", headers=finance).json()
    assert [(i["period"], i["amount_cents"], i["line_kind"]) for i in open_changes["items"]] \
        == [("2012-09", 1894, "NACHFORDERUNG")]
    booked = api.post("/api/v1/fees/corrections", headers=finance).json()
    assert (booked["record_count"], booked["control_sum_cents"]) == (1, 1894)
    lines = api.get("/api/v1/fees/receivables", params={"period": "2012-09"},
                    headers=finance).json()
    assert sorted(i["line_kind"] for i in lines["items"]) == ["NACHFORDERUNG", "SOLL"]
    assert api.get("/api/v1/fees/open-changes", headers=finance).json()["total"] == 0


def test_placement_roles_get_403_and_zvs_only_reads(engine):
    """data-protection M8, R12: facility leads and carriers never read fee data; ZVS reads
    but neither runs nor decides waivers."""
    api, city, fam = _setup(engine)
    params = {"contract_id": fam.contracts[0], "period": "2012-09"}
    lead = key(engine, Role.FACILITY_LEAD, facility_id=city.kita)
    carrier = key(engine, Role.CARRIER, carrier_id=city.municipal)
    zvs = key(engine, Role.ZVS)
    for headers in (lead, carrier):
        assert api.get("/api/v1/fees/preview", params=params, headers=headers).status_code \
            == 403
        assert api.get("/api/v1/fees/statutes", headers=headers).status_code == 403
    assert api.get("/api/v1/fees/preview", params=params, headers=zvs).status_code == 200
    assert api.post("/api/v1/fees/debit-runs", params={"period": "2012-09"},
                    headers=zvs).status_code == 403
    waiver = {"child_id": fam.children[0], "kind": "waiver", "valid_from": "2012-09-01",
              "valid_to": "2013-08-31"}
    assert api.post("/api/v1/fees/facts", json=waiver, headers=zvs).status_code == 403


def test_bad_input_is_a_clear_4xx(engine):
    """House rules: a clear error naming record, field and rule; never a traceback."""
    api, _city, fam = _setup(engine)
    finance = key(engine, Role.FINANCE)
    r = api.post("/api/v1/fees/facts", headers=finance, json={
        "child_id": fam.children[0], "kind": "waiver", "valid_from": "2012-09-01"})
    assert r.status_code == 422
    assert "valid_to" in r.text
    r = api.put("/api/v1/fees/payment-setups", headers=finance, json={
        "guardian_id": fam.guardian, "payment_method": "DIRECT_DEBIT", "iban": "DE00",
        "mandate_reference": "M1"})
    assert r.status_code == 422 and "iban" in r.text
    ok = api.put("/api/v1/fees/payment-setups", headers=finance, json={
        "guardian_id": fam.guardian, "payment_method": "DIRECT_DEBIT",
        "iban": "DE89370400440532013000", "mandate_reference": "M1"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["iban"].startswith("DE89") and "0532" not in ok.json()["iban"]
    r = api.post("/api/v1/fees/debit-runs", params={"period": "2012-13"}, headers=finance)
    assert r.status_code == 422


def test_statute_versions_through_the_api(engine):
    """fees.md §14.4 (3.10.14.1): tables are edited without programming; a wrong printed
    value is refused naming the cell."""
    api, _city, fam = _setup(engine)
    finance = key(engine, Role.FINANCE)
    current = api.get("/api/v1/fees/statutes", headers=finance).json()
    assert [s["valid_from"] for s in current] == ["2011-09-01"]
    params = dict(current[0]["params"])
    params["published"] = {"KK": {"9": ["189.36", "113.62", "170.42", "94.00"]}}
    r = api.post("/api/v1/fees/statutes", headers=finance, json={
        "name": "falsch", "valid_from": "2013-09-01", "params": params})
    assert r.status_code == 422 and "params.published.KK.9" in r.text
    params["published"] = {}
    params["full9"] = {**params["full9"], "KK": "199.36"}
    r = api.post("/api/v1/fees/statutes", headers=finance, json={
        "name": "Satzung 2013", "valid_from": "2013-09-01", "params": params})
    assert r.status_code == 422 and r.json()["error"]["field"] == "params.full9.KK"
    params["cost_basis"] = {g: b for g, b in params["cost_basis"].items() if g != "KK"}
    r = api.post("/api/v1/fees/statutes", headers=finance, json={
        "name": "Satzung 2013", "valid_from": "2013-09-01", "params": params})
    assert r.status_code == 201, r.text
    after = api.get("/api/v1/fees/preview", params={"contract_id": fam.contracts[0],
                                                    "period": "2013-09"}, headers=finance)
    assert after.json()["group"] == "KG"  # born 2010-08-01: KG from 08/2013


def test_missing_pkn_worklist(engine):
    """fees.md §10.2 (3.10.1.7): without a PKN no receivable; the contract is listed for the
    fee office and counted as quarantined by the run."""
    from sqlalchemy import delete

    from ekita.core.models import Pkn

    api, _city, fam = _setup(engine)
    with work(engine) as s:
        s.execute(delete(Pkn).where(Pkn.child_id == fam.children[0]))
    finance = key(engine, Role.FINANCE)
    listed = api.get("/api/v1/fees/worklists/missing-pkn", params={"period": "2012-09"},
                     headers=finance).json()
    assert [i["contract_id"] for i in listed["items"]] == fam.contracts
    run = api.post("/api/v1/fees/debit-runs", params={"period": "2012-09"}, headers=finance)
    assert (run.json()["record_count"], run.json()["quarantined"]) == (0, 1)


def test_statute_version_is_corrected_or_withdrawn_until_it_is_used(engine):
    """fees.md §14.4 (3.10.14.2): authorised staff correct a future version's tables or
    withdraw it (the previous version then runs on); once months under it are debited,
    it is 409 and the change goes in as a successor version (corrections settle it)."""
    api, _city, _fam = _setup(engine)
    finance, zvs = key(engine, Role.FINANCE), key(engine, Role.ZVS)
    base = api.get("/api/v1/fees/statutes", headers=finance).json()[0]
    params = {**base["params"], "published": {}, "cost_basis": {}}
    params["full9"] = {**params["full9"], "KK": "199.36"}
    new = api.post("/api/v1/fees/statutes", headers=finance, json={
        "name": "Satzung 2013", "valid_from": "2013-09-01", "params": params}).json()
    fixed = {**params, "full9": {**params["full9"], "KK": "195.00"}}
    path = f"/api/v1/fees/statutes/{new['id']}"
    assert api.patch(path, headers=zvs, json={"params": fixed}).status_code == 403
    r = api.patch(path, headers=finance, json={"name": "Satzung 2013 (berichtigt)",
                                                "params": fixed})
    assert r.status_code == 200 and r.json()["params"]["full9"]["KK"] == "195.00"
    wrong = {**fixed, "published": {"KK": {"9": ["1.00", "1.00", "1.00", "1.00"]}}}
    assert api.patch(path, headers=finance, json={"params": wrong}).status_code == 422
    assert api.delete(f"/api/v1/fees/statutes/{base['id']}",
                      headers=finance).status_code == 409  # it has a successor
    assert api.delete(path, headers=finance).status_code == 204
    versions = api.get("/api/v1/fees/statutes", headers=finance).json()
    assert [(v["valid_from"], v["valid_to"]) for v in versions] == [("2011-09-01", None)]
    assert api.post("/api/v1/fees/debit-runs", params={"period": "2012-09"},
                    headers=finance).status_code == 200
    r = api.patch(f"/api/v1/fees/statutes/{base['id']}", headers=finance,
                  json={"name": "umbenannt"})
    assert r.status_code == 409 and "debited" in r.text
    with work(engine) as s:
        actions = s.scalars(select(AuditEvent.action).where(
            AuditEvent.entity == "fee_statute", AuditEvent.entity_id == new["id"])).all()
        assert set(actions) >= {"create", "update", "delete"}
