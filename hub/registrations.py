"""Typed records that plugins return from registration hooks (as conda's hooks do)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict


class AdapterSettings(BaseModel):
    """Base of every adapter's own settings; secrets are ``pydantic.SecretStr`` fields."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class AdapterRegistration:
    """What an adapter is, how it is configured and what it may see.

    ``personal_fields`` is the adapter's allow-list of personal-data fields
    (data-protection M4, M6); the delivery engine (issue 4) will hand it nothing else.
    """

    name: str
    version: str
    summary: str
    config_model: type[AdapterSettings] = AdapterSettings
    capabilities: frozenset[str] = frozenset()
    personal_fields: frozenset[str] = frozenset()
    plugin: str = field(default="", compare=False)


@dataclass(frozen=True)
class HealthResult:
    name: str
    ok: bool
    detail: str = ""


def planned(name: str, summary: str, personal_fields: Iterable[str] = ()
            ) -> Callable[[], list[AdapterRegistration]]:
    """A ``register_adapters`` implementation for an adapter not built yet: it claims the
    name and configuration section, and exchanges nothing."""
    registration = AdapterRegistration(name=name, version="0.0.0", summary=f"{summary} (planned)",
                                       personal_fields=frozenset(personal_fields))

    def register_adapters() -> list[AdapterRegistration]:
        return [registration]

    return register_adapters
