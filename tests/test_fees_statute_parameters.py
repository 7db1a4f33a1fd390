"""Statute parameters and cell origins (issue 13 item 7; Lastenheft 3.10.13; fees.md §3,
§4, §14.3; Anlage A = SächsKitaG §15(2); decision D10).

A version stores per care type the operating costs and the parents' share; the 9-hour fee
follows from them, rounded half-up; shares outside the corridor are refused; every fee
cell the hub shows is marked published, derived or overridden; the statute is the one of
23 June 2011. The API tests run on SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import copy
import io
import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pypdf
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from ekita.core.errors import RuleViolation
from ekita.core.models.documents import DocumentType, FiledDocument
from ekita.core.models.enums import CareType, Role
from ekita.core.schemas.fees import StatuteParams
from ekita.core.services.documents import family_file as ff
from ekita.core.services.documents import templates
from ekita.core.services.documents.letterhead import Letterhead
from ekita.core.services.fees import notices
from ekita.core.services.fees.rules import CellOrigin, FeeGroup, nine_hour_fee
from ekita.core.services.fees.statutes import (
    DEFAULT_2011,
    PUBLISHED_2011,
    Statute,
    resolve_params,
)
from tests.api import client, key
from tests.conftest import work
from tests.test_fees_cli_jobs import _cli
from tests.test_fees_notices import ISSUED, SWITCH, _city
from tests.test_fees_world import build, family, prepare

CENT = Decimal("0.01")
SHARE_RULE = "SächsKitaG §15(2)"


def _params(**changes) -> dict:
    """The default 2011 parameters as JSON-like data, with ``changes`` applied."""
    return {**copy.deepcopy(DEFAULT_2011["params"]), **changes}


def _basis(group: str, costs: str, share: str) -> dict:
    return {group: {"operating_costs": costs, "parents_share_pct": share}}


def _only(group: str, costs: str, share: str) -> StatuteParams:
    """A version that gives one care type by its cost basis only (no full9, no table)."""
    return StatuteParams.model_validate({
        "tiers": {group: ["9", "10"]}, "cost_basis": _basis(group, costs, share)})


# ------------------------------------------------------------------- 9-hour fee from costs


@given(costs=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2),
       group=st.sampled_from(list(FeeGroup)), data=st.data())
def test_nine_hour_fee_is_costs_times_share_rounded_half_up(costs, group, data):
    """Issue 13 item 7, 3.10.13, fees.md §4 D6: the 9-hour fee follows from operating costs
    × share / 100, half-up to the cent (threat: float or banker's rounding losing a cent);
    checked against an independent Decimal quantize, and what the stored version holds.
    Shares are drawn within the care type's corridor (Krippe 20–23 %, else 20–30 %)."""
    high = 23 if group is FeeGroup.KK else 30
    share = data.draw(st.decimals(min_value=20, max_value=high, places=2))
    expected = (costs * share / Decimal(100)).quantize(CENT, rounding=ROUND_HALF_UP)
    assert nine_hour_fee(costs, share) == expected
    resolved = resolve_params(_only(group.value, str(costs), str(share)))
    assert resolved.full9[group] == expected
    assert resolved.model_dump(mode="json")["full9"][group.value] == str(expected)


def test_half_cent_rounds_up():
    """Issue 13 item 7 (D6): a half cent rounds up, not to the even cent (threat: banker's
    rounding): 12.50 × 20.2 % = 2.525 → 2.53; 10.10 × 20.05 % = 2.025050 → 2.03."""
    assert nine_hour_fee(Decimal("12.50"), Decimal("20.2")) == Decimal("2.53")
    assert nine_hour_fee(Decimal("10.10"), Decimal("20.05")) == Decimal("2.03")


def test_default_2011_cost_basis_gives_the_published_nine_hour_fees():
    """Issue 13 item 7, B §11(1): 23/30/30/25 % of the operating costs give the printed
    9-hour fees exactly (decisions F19), and the whole printed table still checks (§4)."""
    params = StatuteParams.model_validate(DEFAULT_2011["params"])
    shares = {g: b.parents_share_pct for g, b in params.cost_basis.items()}
    assert shares == {FeeGroup.KK: 23, FeeGroup.KG: 30, FeeGroup.HORT: 30, FeeGroup.FOERD: 25}
    without_full9 = resolve_params(params.model_copy(update={"full9": {}}))
    assert without_full9.full9 == params.full9
    assert {g: str(v) for g, v in without_full9.full9.items()} == {
        "KK": "189.36", "KG": "132.13", "HORT": "118.34", "FOERD": "146.88"}


def test_full9_and_cost_basis_must_agree():
    """Issue 13 item 7: a version giving both a 9-hour fee and a cost basis that do not
    agree is refused naming the field and the rule (threat: two truths in one version)."""
    params = StatuteParams.model_validate(_params(full9={**DEFAULT_2011["params"]["full9"],
                                                         "KG": "132.14"}))
    with pytest.raises(RuleViolation) as err:
        resolve_params(params)
    assert err.value.field == "params.full9.KG" and "3.10.13" in err.value.rule
    assert "132.13" in str(err.value)


def test_a_care_type_with_tiers_needs_a_nine_hour_fee():
    """fees.md §3: tiers without full9 or cost basis cannot be charged; refused up front
    instead of failing in the monthly run."""
    params = StatuteParams.model_validate({"tiers": {"KK": ["9"]}})
    with pytest.raises(RuleViolation) as err:
        resolve_params(params)
    assert err.value.field == "params.full9.KK"


# ------------------------------------------------------------------------- the corridor


@pytest.mark.parametrize(("group", "share", "ok"), [
    ("KK", "20", True), ("KK", "23", True), ("KK", "19.99", False), ("KK", "23.01", False),
    ("KG", "20", True), ("KG", "30", True), ("KG", "19.99", False), ("KG", "30.01", False),
    ("HORT", "30", True), ("HORT", "30.01", False), ("FOERD", "25", True),
    ("FOERD", "30.01", False)])
def test_parents_share_corridor(group, share, ok):
    """Issue 13 item 7, Anlage A (SächsKitaG §15(2)): Krippe 20–23 %, Kindergarten and
    Hort 20–30 % of the operating costs; the edges are inside, a cent beyond is refused
    naming care type, field and rule (threat: a fee the law does not allow)."""
    params = _only(group, "500.00", share)
    if ok:
        assert resolve_params(params).full9[FeeGroup(group)] == nine_hour_fee(
            Decimal("500.00"), Decimal(share))
        return
    with pytest.raises(RuleViolation) as err:
        resolve_params(params)
    assert err.value.field == f"params.cost_basis.{group}.parents_share_pct"
    assert SHARE_RULE in err.value.rule and f"({group})" in str(err.value)


# ----------------------------------------------------------------------- cell origins


def _statute(params: StatuteParams) -> Statute:
    return Statute(1, date(2011, 9, 1), None, resolve_params(params))


def test_default_statute_cells_are_published_or_derived():
    """Issue 13 item 7, D10, fees.md §4 gaps: the 88 printed cells are "published", the 24
    cells of KK/KG 11 h and Hort/Förd. 10–11 h are "derived" (D1 from the 9-hour fee)."""
    cells = _statute(StatuteParams.model_validate(DEFAULT_2011["params"])).cells()
    origins = [c["origin"] for rows in cells.values() for row in rows.values() for c in row]
    assert origins.count(CellOrigin.PUBLISHED) == 88 and origins.count(CellOrigin.DERIVED) == 24
    assert CellOrigin.OVERRIDDEN not in origins
    for group, rows in PUBLISHED_2011.items():
        for hours, row in rows.items():
            assert [str(c["amount"]) for c in cells[group.value][hours]] == row
    assert [str(c["amount"]) for c in cells["KK"]["11"]] == [
        "231.44", "138.86", "208.30", "115.72"]
    assert {c["origin"] for c in cells["HORT"]["10"]} == {CellOrigin.DERIVED}


def test_a_version_may_override_one_derived_cell():
    """Issue 13 item 7, D10: a version sets the full fee of a derived tier (KK 11 h); it is
    charged and marked "overridden", its discounted columns follow from it by D2–D5 and stay
    "derived"; the other cells keep their origin (threat: a fee office choice refused or
    shown as computed)."""
    params = StatuteParams.model_validate(_params(overrides={"KK": {"11": "230.00"}}))
    statute = _statute(params)
    assert statute.full(FeeGroup.KK, Decimal("10.5")) == Decimal("230.00")
    cells = statute.cells()
    assert [(str(c["amount"]), c["origin"]) for c in cells["KK"]["11"]] == [
        ("230.00", CellOrigin.OVERRIDDEN), ("138.00", CellOrigin.DERIVED),
        ("207.00", CellOrigin.DERIVED), ("115.00", CellOrigin.DERIVED)]
    assert cells["KG"]["11"][0]["origin"] == CellOrigin.DERIVED
    assert cells["KK"]["9"][0]["origin"] == CellOrigin.PUBLISHED


@pytest.mark.parametrize(("overrides", "why"), [
    ({"KK": {"9": "190.00"}}, "published"), ({"KK": {"12": "250.00"}}, "no 12 h tier")])
def test_an_override_of_a_published_or_missing_cell_is_refused(overrides, why):
    """D10: only a cell that would otherwise be derived can be overridden; a printed cell is
    corrected in the printed table (threat: the table and the charged fee disagreeing)."""
    params = StatuteParams.model_validate(_params(overrides=overrides))
    with pytest.raises(RuleViolation) as err:
        resolve_params(params)
    group, cells = next(iter(overrides.items()))
    assert err.value.field == f"params.overrides.{group}.{next(iter(cells))}"
    assert why in str(err.value) and "D10" in err.value.rule


def test_the_nine_hour_cell_is_not_overridden():
    """D10: without a printed table the 9-hour cell is still fixed by full9 / cost basis."""
    params = StatuteParams.model_validate(_params(published={},
                                                  overrides={"KG": {"9": "130.00"}}))
    with pytest.raises(RuleViolation) as err:
        resolve_params(params)
    assert err.value.field == "params.overrides.KG.9"


# ------------------------------------------------------------------------------ the API


def _api(engine, hours: str):
    with work(engine) as s:
        city = build(s)
        fam = family(s, city.kita, [(date(2011, 6, 1), CareType.KRIPPE, hours)])
    prepare()
    return client(engine), key(engine, Role.FINANCE), fam


def test_api_shows_cell_origins_and_accepts_an_override(engine):
    """Issue 13 item 7 through the API: the statute answer marks every cell; a successor
    version overriding KK 11 h is accepted (201) and shown as overridden; the preview of an
    11-hour Krippe contract marks its full fee derived before and overridden after; the
    9-hour cell is published."""
    api, finance, fam = _api(engine, "11")
    base = api.get("/api/v1/fees/statutes", headers=finance).json()[0]
    assert base["name"] == "Elternbeitragssatzung vom 23. Juni 2011"
    assert base["params"]["cost_basis"]["KK"] == {"operating_costs": "823.30",
                                                  "parents_share_pct": "23"}
    assert base["cells"]["KK"]["9"][0] == {"amount": "189.36", "origin": "published"}
    assert base["cells"]["KK"]["11"][0] == {"amount": "231.44", "origin": "derived"}
    before = api.get("/api/v1/fees/preview", params={"contract_id": fam.contracts[0],
                                                     "period": "2013-08"}, headers=finance)
    assert before.status_code == 200, before.text
    assert (before.json()["full_cents"], before.json()["full_origin"],
            before.json()["fee_origin"]) == (23144, "derived", "derived")
    params = {**base["params"], "overrides": {"KK": {"11": "230.00"}}}
    r = api.post("/api/v1/fees/statutes", headers=finance, json={
        "name": "Bekanntmachung 2013", "valid_from": "2013-09-01", "params": params})
    assert r.status_code == 201, r.text
    assert [c["origin"] for c in r.json()["cells"]["KK"]["11"]] == [
        "overridden", "derived", "derived", "derived"]
    after = api.get("/api/v1/fees/preview", params={"contract_id": fam.contracts[0],
                                                    "period": "2013-09"}, headers=finance)
    assert (after.json()["full_cents"], after.json()["amount_cents"],
            after.json()["full_origin"], after.json()["fee_origin"]) == (
        23000, 23000, "overridden", "overridden")


def test_api_preview_of_a_printed_tier_is_published(engine):
    """Issue 13 item 7: a 9-hour Krippe fee comes from the printed table."""
    api, finance, fam = _api(engine, "9")
    r = api.get("/api/v1/fees/preview", params={"contract_id": fam.contracts[0],
                                                "period": "2012-09"}, headers=finance)
    assert (r.json()["amount_cents"], r.json()["full_origin"], r.json()["fee_origin"]) == (
        18936, "published", "published")


def test_api_refuses_a_share_outside_the_corridor(engine):
    """Issue 13 item 7, SächsKitaG §15(2): 422 naming care type, field and rule; nothing
    is stored (threat: a Krippe fee above 23 % of the operating costs)."""
    api, finance, _fam = _api(engine, "9")
    params = _params(full9={}, cost_basis={**DEFAULT_2011["params"]["cost_basis"],
                                           **_basis("KK", "823.30", "23.01")}, published={})
    r = api.post("/api/v1/fees/statutes", headers=finance, json={
        "name": "zu hoch", "valid_from": "2013-09-01", "params": params})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["field"] == "params.cost_basis.KK.parents_share_pct"
    assert SHARE_RULE in error["rule"] and "Krippe" in error["message"]
    assert len(api.get("/api/v1/fees/statutes", headers=finance).json()) == 1


def test_cli_prints_the_cells_with_their_origin(engine):
    """Issue 13 item 7 (D10) at the command line: `billing statutes cells ID` shows every
    cell with its origin; an unknown version is one line naming it, exit 1."""
    with work(engine) as s:
        build(s)
    api, finance = client(engine), key(engine, Role.FINANCE)
    statute_id = api.get("/api/v1/fees/statutes", headers=finance).json()[0]["id"]
    shown = _cli(engine, "statutes", "cells", str(statute_id))
    assert shown.returncode == 0, shown.stderr
    cells = json.loads(shown.stdout)
    assert cells["KG"]["4.5"][3] == {"amount": "33.04", "origin": "published"}
    assert cells["FOERD"]["11"][0] == {"amount": "179.52", "origin": "derived"}
    missing = _cli(engine, "statutes", "cells", str(statute_id + 99))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "statute_id" in missing.stderr


# --------------------------------------------------------------------- the statute's date


def test_default_fee_notice_templates_cite_23_june_2011():
    """Issue 13 item 7: the statute is "Vom 23. Juni 2011" (Anlage B); 28 June 2011 is the
    signature date and must not be cited (threat: a notice citing the wrong statute)."""
    for doc_type in (DocumentType.FEE_NOTICE_SINGLE_DEBIT, DocumentType.FEE_NOTICE_SINGLE_SELF,
                     DocumentType.FEE_NOTICE_SIBLINGS_DEBIT,
                     DocumentType.FEE_NOTICE_SIBLINGS_SELF):
        body = templates.default_body(doc_type)
        assert "vom 23. Juni 2011" in body and "28. Juni" not in body
    assert "23. Juni 2011" in DEFAULT_2011["name"]


def test_filed_notice_text_cites_23_june_2011(engine):
    """Issue 13 item 7, 3.10.14.2: the printed notice (PDF text) names the statute of
    23 June 2011 and not the signature date."""
    with work(engine) as s:
        _city(s)
        planned = notices.plan(s, SWITCH)
        notices.issue(s, planned[0], SWITCH, issued_on=ISSUED, letterhead=Letterhead())
    with work(engine) as s:
        doc = s.scalars(select(FiledDocument)).one()
        _meta, pdf = ff.content(s, doc.id)
        text = " ".join("".join(p.extract_text() for p in
                                pypdf.PdfReader(io.BytesIO(pdf)).pages).split())
        assert "vom 23. Juni 2011" in text and "28. Juni 2011" not in text
