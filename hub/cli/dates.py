"""Dates on the command line: ``YYYY-MM-DD``, a bad one answered as typer's usage error."""

from __future__ import annotations

from datetime import date, datetime

import typer


def parse_day(value: str | None) -> date:
    """The date ``value`` names; today when it is not given."""
    if value is None:
        return date.today()
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter("use YYYY-MM-DD") from exc
