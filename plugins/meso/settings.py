"""``[adapters.meso.settings]``: where the registry is and how the hub authenticates."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from ekita.hub.registrations import AdapterSettings


class MesoSettings(AdapterSettings):
    url: str | None = None  # the SOAP endpoint; None: the adapter checks nothing
    auth: Literal["none", "basic", "wsse"] = "none"  # HTTP basic or WS-Security UsernameToken
    username: str | None = None
    password: SecretStr | None = None
    intake_timeout_s: float = Field(default=2.0, gt=0, le=10)  # short: intake never waits long
    operation_timeout_s: float = Field(default=10.0, gt=0, le=120)  # batch and health checks
