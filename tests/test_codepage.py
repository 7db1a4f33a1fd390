"""Fitting text to an export's code page (issue 12 item 11).

Threat: one name a carrier's Windows-1252 (or XML 1.0) cannot hold sank the whole export.
``transliterate`` must always yield text the target holds, keep what it can hold, and
spell German and Central-European letters the way a clerk would.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ekita.hub.codepage import fits, transliterate

ENCODINGS = ["cp1252", "utf-8", "ascii", "latin-1"]


@given(st.text(max_size=30), st.sampled_from(ENCODINGS), st.booleans())
def test_transliteration_always_fits_and_keeps_what_fits(text, encoding, xml):
    """Issue 12 item 11: the result always fits the target; text that fits is unchanged."""
    out = transliterate(text, encoding, xml=xml)
    assert fits(out, encoding, xml=xml)
    if fits(text, encoding, xml=xml):
        assert out == text


@pytest.mark.parametrize(("text", "encoding", "expected"), [
    ("Đorđe", "cp1252", "Dorde"), ("Łukasz Żółć", "cp1252", "Lukasz Zólc"),
    ("Müller-Weiß", "ascii", "Mueller-Weiss"), ("Müller-Weiß", "cp1252", "Müller-Weiß"),
    ("Ana 😀", "cp1252", "Ana ?"), ("Nguyễn", "cp1252", "Nguyen"),
    ("ＡＢＣ＝", "cp1252", "ABC="), ("Ørsted", "ascii", "Orsted"),
])
def test_transliteration_spells_names_as_a_clerk_would(text, encoding, expected):
    """Issue 12 item 11: explicit German and Central-European forms first (DIN 5007-2
    ä → ae, ß → ss; Đ → D, Ł → L), then NFKD without accents, ``?`` for the rest."""
    assert transliterate(text, encoding) == expected


def test_xml_targets_refuse_control_characters():
    """Issue 12 item 11: XML and .xlsx cannot hold C0 controls; they are dropped."""
    assert not fits("Anna\x01", "utf-8", xml=True) and fits("Anna\x01", "utf-8")
    assert transliterate("An\x01na\x1b", "utf-8", xml=True) == "Anna"
    assert fits("Tab\tand\nnewline", "utf-8", xml=True)
