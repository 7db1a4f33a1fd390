"""Typed records that plugins return from registration hooks (as conda's hooks do)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ekita.core.models.exchange import JobRun


class AdapterSettings(BaseModel):
    """Base of every adapter's own settings; secrets are ``pydantic.SecretStr`` fields."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one outbox message, as the adapter's ``deliver`` sees it."""

    message_id: int
    adapter: str
    operation: str
    business_key: str
    idempotency_key: str  # pass it to the peer so a repeated attempt takes effect once
    payload: dict[str, Any] | None
    payload_ref: str | None
    attempt: int  # 1 for the first attempt
    timeout_s: float  # the adapter's per-attempt timeout; honour it
    settings: AdapterSettings
    retryable_status: frozenset[int] = frozenset()  # HTTP answers to treat as transient


@dataclass(frozen=True)
class DeliveryReceipt:
    """What the adapter reports after a successful delivery (for the transfer log)."""

    recipient: str  # e.g. the peer's URL or system name
    record_count: int | None = None  # default: the message's record count
    reference: str | None = None  # the peer's id for the delivery, if any


Deliver = Callable[[Delivery], DeliveryReceipt | None]


@dataclass(frozen=True)
class AdapterRegistration:
    """What an adapter is, how it is configured, what it may see and how it delivers.

    ``personal_fields`` is the adapter's allow-list of personal-data fields
    (data-protection M4, M6): ``ekita.core.outbox.enqueue`` refuses any payload carrying
    other ones. ``deliver`` is the adapter's delivery hook, called by the worker for each
    outbox message addressed to the adapter; it raises ``TransientError`` or
    ``PermanentError`` (``ekita.hub.delivery.errors``) on failure.
    """

    name: str
    version: str
    summary: str
    config_model: type[AdapterSettings] = AdapterSettings
    capabilities: frozenset[str] = frozenset()
    personal_fields: frozenset[str] = frozenset()
    deliver: Deliver | None = field(default=None, compare=False)
    plugin: str = field(default="", compare=False)


@dataclass(frozen=True)
class JobContext:
    """What a job receives: one open transaction, its run record and the tick it serves."""

    session: Session
    run: JobRun  # set records_in, quarantined and control_sum_cents for reconciliation
    scheduled_for: datetime
    settings: Any  # ekita.hub.config.Settings
    hooks: Any = None  # the plugin manager's hook relay, to call other plugins' hooks


@dataclass(frozen=True)
class JobRegistration:
    """A job the scheduler can run; its schedule comes from the configuration.

    ``run`` does its work in ``ctx.session``; messages it enqueues with
    ``job_run=ctx.run`` commit together with the run's figures, or not at all.
    """

    name: str
    summary: str
    run: Callable[[JobContext], None]
    default_schedule: str | None = None  # cron in Europe/Berlin; None: only when configured
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


@dataclass(frozen=True)
class CarrierProfileRegistration:
    """A carrier exchange format from a plugin (``register_carrier_profiles`` hook).

    ``toml``: the profile's TOML text; or ``profile``: a ready
    ``ekita.plugins.carrier_export.profile.Profile``. The name must match the profile's.
    """

    name: str
    toml: str | None = None
    profile: Any = None
    summary: str = ""
    plugin: str = field(default="", compare=False)
