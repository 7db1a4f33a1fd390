"""Configuration: environment variables (``EKITA_*``) over one TOML file (``ekita.toml``).

The file's path comes from ``EKITA_CONFIG`` (default: ``./ekita.toml`` when it
exists). Each adapter has a section ``[adapters.<name>]`` with its own
``settings`` (checked against the adapter's pydantic model), a ``retry`` policy
and named ``schedules`` (cron expressions in Europe/Berlin).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url

from ekita.core.db.session import DEFAULT_URL
from ekita.core.services.documents.letterhead import Letterhead
from ekita.core.services.placement.rules import PlacementRules
from ekita.hub.registrations import AdapterRegistration, AdapterSettings


class ConfigError(Exception):
    """A configuration value is wrong; the message names the key and the problem."""


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_initial_s: float = Field(default=30.0, gt=0)
    backoff_max_s: float = Field(default=3600.0, gt=0)
    jitter_s: float = Field(default=10.0, ge=0)
    timeout_s: float = Field(default=30.0, gt=0, le=600)  # per attempt
    # HTTP answers worth retrying; other 4xx are permanent (``ekita.hub.delivery.http``).
    retryable_status: list[int] = Field(default_factory=lambda: [408, 425, 429, 500, 502,
                                                                 503, 504])


def _check_cron(value: dict[str, str]) -> dict[str, str]:
    for name, expr in value.items():
        if not croniter.is_valid(expr):
            raise ValueError(f"schedule {name!r}: {expr!r} is not a cron expression")
    return value


class SchedulerSettings(BaseModel):
    """How the single active scheduler behaves (schedules.md; issue 4 item 6)."""

    model_config = ConfigDict(extra="forbid")

    catch_up: bool = True  # after downtime, run a missed job once (never once per tick)
    misfire_grace_s: float = Field(default=300.0, ge=0)  # later than this counts as missed
    lease_s: float = Field(default=60.0, gt=0)  # the active scheduler renews its lease
    poll_s: float = Field(default=5.0, gt=0)


class WorkerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(default=50, ge=1, le=1000)
    poll_s: float = Field(default=1.0, gt=0)  # sleep when nothing is due
    lease_margin_s: float = Field(default=30.0, ge=0)  # added to a claim's lease


class InputCaps(BaseModel):
    """Size caps, in bytes, of the files the hub takes in (issue 12 item 6): a larger file
    is refused before it is read whole, so no input can exhaust the hub's memory."""

    model_config = ConfigDict(extra="forbid")

    # SAP arrears: one ~190-byte item per payer; 16 MiB is some 85,000 payers, about twice
    # all the city's fee payers (only those behind are listed), streamed in flat memory.
    sap_arrears: int = Field(default=16 * 1024 * 1024, gt=0)
    # Carrier CSV/XML/XLSX; a profile's own ``max_bytes`` may lower it further.
    carrier_file: int = Field(default=50_000_000, gt=0)
    # An XLSX unpacks to at most this much (zip bombs), whatever its packed size.
    xlsx_unpacked: int = Field(default=200_000_000, gt=0)
    # Uploaded documents of the family file (PDF, images).
    document: int = Field(default=20 * 1024 * 1024, gt=0)
    # XML answers of peers (DMS xdomea, SAP) and JSON/text files given to the CLI.
    peer_xml: int = Field(default=2 * 1024 * 1024, gt=0)
    cli_text: int = Field(default=1024 * 1024, gt=0)


class AdapterSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    schedules: dict[str, str] = Field(default_factory=dict)

    _cron = field_validator("schedules")(classmethod(lambda cls, v: _check_cron(v)))


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def config_path() -> Path | None:
    explicit = os.environ.get("EKITA_CONFIG")
    if explicit:
        return Path(explicit)
    default = Path("ekita.toml")
    return default if default.exists() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EKITA_", extra="forbid")

    database_url: str = DEFAULT_URL  # the application role: serve, worker, scheduler
    # The owner role that migrates (``db upgrade``); None: database_url (one role, SQLite).
    database_owner_url: str | None = None
    timezone: str = "Europe/Berlin"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    # HTTP and SOAP client libraries (httpx, urllib3, zeep): below WARNING they log query
    # strings and whole SOAP bodies, i.e. names and addresses (issue 12 item 8).
    transport_log_level: str = Field(default="WARNING", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    # None: load every built-in and installed plugin; otherwise only the names listed.
    load_plugins: Annotated[list[str] | None, NoDecode] = None
    disabled_plugins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    adapters: dict[str, AdapterSection] = Field(default_factory=dict)
    placement: PlacementRules = Field(default_factory=PlacementRules)
    # Jobs not owned by one adapter (for example ``placement.tick``): name -> cron.
    schedules: dict[str, str] = Field(default_factory=dict)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    # Where each tenant's family files live (Lastenheft 3.16): "internal" (the hub's own
    # store, the default) or "domea" (also filed in the city's DMS). Keys: "city" or
    # "carrier:<id>"; a tenant not listed uses the internal store.
    document_store: dict[str, Literal["internal", "domea"]] = Field(default_factory=dict)
    # The fee office's reference and contact printed on generated letters (Anlage J).
    letterhead: Letterhead = Field(default_factory=Letterhead)
    # Fernet key for bank data at rest (core.crypto, data-protection R8); env EKITA_DATA_KEY.
    data_key: SecretStr | None = None
    # Size caps of inbound files (issue 12 item 6); ``[input_caps]`` in the TOML file.
    input_caps: InputCaps = Field(default_factory=InputCaps)

    _cron = field_validator("schedules")(classmethod(lambda cls, v: _check_cron(v)))

    _split_lists = field_validator("load_plugins", "disabled_plugins", mode="before")(
        classmethod(lambda cls, v: _split(v))
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def masked(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["database_url"] = make_url(self.database_url).render_as_string(hide_password=True)
        if self.database_owner_url:
            data["database_owner_url"] = make_url(self.database_owner_url).render_as_string(
                hide_password=True)
        return data

    @property
    def owner_url(self) -> str:
        """Where migrations run: the owner role, or the one role of a simple set-up."""
        return self.database_owner_url or self.database_url


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(root)"


def describe(error: ValidationError, prefix: tuple[Any, ...] = ()) -> str:
    """One line naming each bad key and its problem."""
    return "; ".join(f"{_where(prefix + tuple(e['loc']))}: {e['msg']}" for e in error.errors())


def load_settings(**overrides: Any) -> Settings:
    path = config_path()
    if path is not None and not path.exists():
        raise ConfigError(f"EKITA_CONFIG: file {path} does not exist")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        origin = f" (in {path} or EKITA_* variables)" if path else " (EKITA_* variables)"
        raise ConfigError(describe(exc) + origin) from None
    except ValueError as exc:  # a TOML syntax error
        raise ConfigError(f"{path}: {exc}") from None


def adapter_settings(
    settings: Settings, registrations: dict[str, AdapterRegistration]
) -> dict[str, AdapterSettings]:
    """Validate every adapter section against its adapter's model; unknown sections fail."""
    unknown = sorted(set(settings.adapters) - set(registrations))
    if unknown:
        raise ConfigError(
            f"adapters.{unknown[0]}: no adapter of that name is loaded "
            f"(loaded: {', '.join(sorted(registrations)) or 'none'})"
        )
    result = {}
    for name, reg in registrations.items():
        section = settings.adapters.get(name, AdapterSection())
        try:
            result[name] = reg.config_model(**section.settings)
        except ValidationError as exc:
            raise ConfigError(describe(exc, ("adapters", name, "settings"))) from None
    return result
