"""Carrier file formats and their safety (issue 5 must-haves 2 and 4, "Bad input";
interfaces.md §2.5, §9)."""

from __future__ import annotations

import csv
import io
import time
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ekita.core.errors import RuleViolation
from ekita.hub.spreadsheets import DANGEROUS_PREFIXES
from ekita.plugins.carrier_export import render
from ekita.plugins.carrier_export.formats import (
    FileRefused,
    parse_csv,
    parse_xlsx,
    parse_xml,
    render_xml,
)
from ekita.plugins.carrier_export.profile import builtin_profiles, load_profile, parse_profile
from ekita.plugins.carrier_export.records import FIELDS

ROW = {"record_type": "contract", "contract_ref": "17", "pkn": "12345601",
       "family_name": "Muster", "first_name": "Kim", "birth_date": "2022-03-04", "sex": "f",
       "street": "Hauptstraße", "house_no": "1a", "postcode": "01067", "town": "Dresden",
       "guardian1_family_name": "Muster", "guardian1_first_name": "Alex",
       "guardian2_family_name": None, "guardian2_first_name": None, "facility": "KST-B1",
       "care_type": "kindergarten", "start_date": "2024-08-01", "end_date": None,
       "daily_hours": "9.00"}


@pytest.mark.parametrize("prefix", DANGEROUS_PREFIXES)
def test_formula_prefixes_are_neutralised_numbers_and_dates_untouched(prefix):
    """OWASP CSV injection (issue 5 must-have 4): each dangerous prefix of a text cell is
    neutralised on export; dates and decimal numbers stay as they are."""
    profile = load_profile("hub-csv")
    row = {**ROW, "street": f"{prefix}cmd|' /C calc'!A0", "daily_hours": "9.50"}
    content = render([row], profile, {})[0].decode()
    cells = next(r for r in csv.reader(io.StringIO(content, newline=""))
                 if r and r[0] == "contract")
    street = cells[FIELDS.index("street")]
    assert street.startswith("'") and street[1] == prefix
    assert cells[FIELDS.index("daily_hours")] == "9.50"
    assert cells[FIELDS.index("birth_date")] == "2022-03-04"
    (_, parsed), = parse_csv(content.encode(), profile)
    assert parsed["street"] == row["street"].strip()  # apostrophe removed, cell trimmed


def test_xlsx_cells_are_formula_safe_and_round_trip():
    """Issue 5 must-haves 2 and 4: Excel export and import, no formula in a text cell."""
    from openpyxl import load_workbook

    profile = load_profile("example-xlsx")
    row = {**ROW, "street": "=1+1"}
    content = render([row], profile, {})[0]
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    values = [c.value for c in next(sheet.iter_rows(min_row=2, max_row=2))]
    assert "'=1+1" in values
    (_, parsed), = parse_xlsx(content, profile)
    assert parsed["street"] == "=1+1" and parsed["care_type"] == "kindergarten"


@pytest.mark.parametrize("doc", [
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<carrierExchange xmlns="urn:ekita:carrier-exchange:v1" version="1">&x;</carrierExchange>',
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i else "&lol;" * 10}">'.encode()
        for i in range(9)) + b']><carrierExchange>&lol8;</carrierExchange>',
    b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://example.org/x.dtd"><r/>',
], ids=["xxe", "billion-laughs", "external-dtd"])
def test_xml_with_doctype_is_refused_fast_and_small(doc):
    """Issue 5 "Bad input" / interfaces.md §2.5: DOCTYPE and entities refused before any
    expansion, in under one second and without large memory."""
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(FileRefused) as err:
        list(parse_xml(doc))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 5_000_000
    assert err.value.rule.startswith("interfaces.md §2.5")


def test_xml_round_trip_and_xsd_validation():
    """Issue 5 must-have 2: every export and import validated against the shipped XSD."""
    document = render_xml([ROW], {"carrier": "2"})
    (_, parsed), = parse_xml(document)
    assert {k: v for k, v in parsed.items()} == {k: v for k, v in ROW.items() if v}
    broken = document.replace(b"<care_type>kindergarten</care_type>", b"")
    with pytest.raises(FileRefused, match="not a valid hub XML document"):
        list(parse_xml(broken))
    with pytest.raises(RuleViolation):
        render_xml([{**ROW, "birth_date": "not a date"}], {})


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                      blacklist_characters="\x00"), max_size=30),
       st.sampled_from(["hub-csv", "example-semicolon-de", "example-utf8-bom-atomic"]))
def test_csv_round_trip_is_lossless_for_any_text(text, name):
    """Issue 5 must-have 5 (round trip): any text survives export and import unchanged up
    to surrounding blanks (quoting, delimiters, line breaks, formula prefixes)."""
    profile = load_profile(name)
    try:
        "".join(text).encode(profile.encoding)
    except UnicodeEncodeError:
        return  # not representable in the profile's encoding: refused on export
    row = {**ROW, "street": text.strip() or "x", "town": text}
    (_, parsed), = parse_csv(render([row], profile, {})[0], profile)
    # cells are trimmed on import (surrounding blanks carry no meaning in these files)
    assert parsed["street"] == row["street"].strip()
    assert parsed["town"] == (row["town"].strip() or None)


def test_profiles_are_labelled_examples_and_bad_profiles_refused():
    """interfaces.md §9: no profile presents itself as a verified vendor format; a bad
    profile names its setting."""
    assert all(not p.verified for p in builtin_profiles().values())
    assert all(p.example for n, p in builtin_profiles().items() if n.startswith("example"))
    for text, field in [('name = "x"\ndelimiter = ";;"', "delimiter"),
                        ('name = "x"\nencoding = "latin-9"', "encoding"),
                        ('name = "x"\n[columns]\nbogus = "B"', "profile"),
                        ('name = "x"\nverified = true', "profile")]:
        with pytest.raises(RuleViolation) as err:
            parse_profile(text, "t")
        assert err.value.field in (field, "profile")


def test_file_size_cap():
    """Issue 5 "Bad input": files above the configured size are refused."""
    from ekita.plugins.carrier_export.importer import _run
    from ekita.plugins.carrier_export.report import ImportReport

    small = load_profile("hub-csv").model_copy(update={"max_bytes": 10})
    with pytest.raises(FileRefused, match="cap"):
        _run(None, ImportReport(1, "s", "p", "h"), 1, b"x" * 11, small, None)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40))
def test_xml_round_trip_is_lossless_for_any_text(text):
    """Issue 5 must-have 2: any text a hub XML export carries is read back unchanged (up to
    surrounding blanks), escaping included, and the document passes the XSD."""
    row = {**ROW, "street": text or "x"}
    (_, parsed), = parse_xml(render_xml([row], {"carrier": text}))
    assert parsed.get("street") == ((text or "x").strip() or None)
