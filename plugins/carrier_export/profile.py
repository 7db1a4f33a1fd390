"""Mapping profiles (TOML): how one carrier's software writes and reads the canonical rows.

A profile says delimiter, quoting, encoding, date and decimal format, the header name of
each field, value maps (for example care-type codes), an optional ``sep=`` first line,
whether unknown columns are rejected or ignored, whether a file is applied atomically, and
what an export does with a text its encoding cannot hold (``unencodable``: transliterate the
field, or leave the record out; either way the record and field are reported).
The profiles under ``profiles/`` are **examples**, not verified vendor formats
(interfaces.md §9): each says ``verified = false``.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ekita.core.errors import NotFound, RuleViolation
from ekita.plugins.carrier_export.records import FIELDS, REQUIRED

PACKAGE = "ekita.plugins.carrier_export"


class Profile(BaseModel):
    """One carrier format. ``format = "xml"`` is the hub XML; columns then do not apply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")
    description: str = ""
    example: bool = True  # shipped as an example, not taken from a real exchange
    verified: bool = False  # true only after a carrier exchanged real files
    verified_by: str | None = None
    format: Literal["csv", "xlsx", "xml"] = "csv"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quoting: Literal["minimal", "all"] = "minimal"
    encoding: Literal["utf-8", "utf-8-sig", "cp1252"] = "utf-8"
    #: issue 12 item 11: a field the encoding cannot hold is spelled in it (ä → ae, Đ → D)
    #: or its record is left out of the export; both are reported by record and field.
    unencodable: Literal["transliterate", "quarantine"] = "transliterate"
    date_format: str = "%Y-%m-%d"
    decimal_separator: Literal[".", ","] = "."
    sep_line: bool = False  # Excel's "sep=;" first line
    unknown_columns: Literal["reject", "ignore"] = "reject"
    atomic: bool = False  # one bad row refuses the whole file
    max_bytes: int = Field(default=50_000_000, gt=0)
    columns: dict[str, str] = Field(default_factory=lambda: {f: f for f in FIELDS})
    value_maps: dict[str, dict[str, str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        unknown = sorted(set(self.columns) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) in columns: {', '.join(unknown)}")
        if self.format != "xml":
            missing = [f for f in REQUIRED if f not in self.columns]
            if missing:
                raise ValueError(f"columns lack required field(s): {', '.join(missing)}")
            headers = list(self.columns.values())
            if len(set(headers)) != len(headers):
                raise ValueError("two fields share one header name")
        for field, mapping in self.value_maps.items():
            if field not in FIELDS:
                raise ValueError(f"value map for unknown field {field!r}")
            if len(set(mapping.values())) != len(mapping):
                raise ValueError(f"value map {field!r} is not one-to-one")
        if self.verified and not self.verified_by:
            raise ValueError("a verified profile names its verifier (verified_by)")
        return self

    def to_file(self, field: str, value: str) -> str:
        return self.value_maps.get(field, {}).get(value, value)

    def from_file(self, field: str, value: str) -> str:
        mapping = self.value_maps.get(field)
        if not mapping:
            return value
        for hub, theirs in mapping.items():
            if theirs == value:
                return hub
        return value


def parse_profile(text: str, origin: str) -> Profile:
    """A profile from TOML text; a bad one is a RuleViolation naming the setting."""
    try:
        return Profile(**tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise RuleViolation(f"profile {origin}: not TOML ({exc})", record="profile",
                            field="toml", rule="carrier-exchange.md: TOML profiles") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "profile"
        raise RuleViolation(f"profile {origin}: {field}: {err['msg']}", record="profile",
                            field=field, rule="carrier-exchange.md: profile settings") from None


@cache
def builtin_profiles() -> dict[str, Profile]:
    """The profiles shipped in the package (``profiles/*.toml``)."""
    found: dict[str, Profile] = {}
    for entry in files(PACKAGE).joinpath("profiles").iterdir():
        if entry.name.endswith(".toml"):
            profile = parse_profile(entry.read_text("utf-8"), entry.name)
            found[profile.name] = profile
    return found


def load_profile(name: str, extra: dict[str, Profile] | None = None,
                 profile_dir: str | None = None) -> Profile:
    """A profile by name: registered by a plugin, in ``profile_dir``, or built in."""
    if extra and name in extra:
        return extra[name]
    if profile_dir:
        path = Path(profile_dir) / f"{name}.toml"
        if path.is_file():
            return parse_profile(path.read_text("utf-8"), str(path))
    if name in builtin_profiles():
        return builtin_profiles()[name]
    raise NotFound(f"no carrier profile {name!r}", record="profile", field="name",
                   rule="a built-in, configured or registered profile")
