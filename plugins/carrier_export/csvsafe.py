"""Formula-injection neutralisation for CSV and spreadsheet cells (OWASP "CSV Injection").

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return can be
run as a formula by spreadsheet programs; it gets a leading apostrophe. Numbers and dates
are not text: callers pass them through untouched (a negative daily-hours value or an ISO
date is never prefixed).
"""

from __future__ import annotations

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """The cell as a spreadsheet shows it literally."""
    if text and text.startswith(DANGEROUS_PREFIXES):
        return "'" + text
    return text
