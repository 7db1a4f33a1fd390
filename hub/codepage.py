"""Does a text fit an export's code page, and if not, its transliteration
(issue 12 item 11).

A carrier's CSV may be Windows-1252, an XML or Excel file cannot hold most control
characters (XML 1.0 ``Char``). One name that does not fit must not sink a whole export:
the exporter asks ``fits`` per field and either transliterates the field (``transliterate``)
or leaves the record out and reports it. Transliteration takes the explicit German and
Central-European forms first (ä → ae, ß → ss, Đ → D, Ł → L …), then the Unicode
compatibility decomposition without its accents (NFKD, é → e), and writes ``?`` for what is
left; invisible control and format characters are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

#: Characters XML 1.0 cannot carry (so neither hub XML nor an .xlsx can).
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "?"

#: The German transcription (DIN 5007-2) and letters NFKD does not decompose.
SPELLED_OUT = {
    "ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "ẞ": "SS",
    "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Ł": "L", "ł": "l", "Ø": "O", "ø": "o",
    "Æ": "Ae", "æ": "ae", "Œ": "Oe", "œ": "oe", "Þ": "Th", "þ": "th", "ı": "i", "Ħ": "H",
    "ħ": "h", "Ŋ": "Ng", "ŋ": "ng", "ſ": "s", "‘": "'", "’": "'", "‚": ",", "“": '"',
    "”": '"', "„": '"', "–": "-", "—": "-", "…": "...", "€": "EUR",
}


@cache
def _holds(encoding: str, char: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def fits(text: str, encoding: str, *, xml: bool = False) -> bool:
    """True when ``text`` can be written in ``encoding`` (and in XML 1.0, if asked)."""
    if xml and NOT_XML.search(text):
        return False
    if text.isascii():
        return True
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _fits_char(text: str, encoding: str, xml: bool) -> bool:
    return all(_holds(encoding, c) and not (xml and NOT_XML.match(c)) for c in text)


def transliterate(text: str, encoding: str, *, xml: bool = False) -> str:
    """``text`` with every character ``encoding`` (or XML) cannot hold spelled another way."""
    if fits(text, encoding, xml=xml):
        return text
    out: list[str] = []
    for char in text:
        if _fits_char(char, encoding, xml):
            out.append(char)
            continue
        spelled = SPELLED_OUT.get(char)
        if spelled is not None and _fits_char(spelled, encoding, xml):
            out.append(spelled)
            continue
        plain = "".join(c for c in unicodedata.normalize("NFKD", char)
                        if not unicodedata.combining(c))
        if plain and _fits_char(plain, encoding, xml):
            out.append(plain)
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            continue  # invisible: nothing a reader would miss
        else:
            out.append(REPLACEMENT)
    return "".join(out)
