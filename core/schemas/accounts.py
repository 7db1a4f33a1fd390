"""Schemas of API keys (issue 12 item 13): metadata out, never the secret or its hash.

Times are stored in UTC and shown in Europe/Berlin, the hub's local time.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, PlainSerializer

from ekita.core.db.base import as_utc
from ekita.core.models.enums import Role
from ekita.core.schemas.common import In, Name, Out, Ref, text
from ekita.core.tracking import BERLIN


def berlin(moment: datetime | None) -> str | None:
    """ISO 8601 in Dresden's time, with its offset: what an administrator reads."""
    return None if moment is None else as_utc(moment).astimezone(BERLIN).isoformat()


BerlinTime = Annotated[datetime, PlainSerializer(berlin, return_type=str)]
Reason = text(200)
KeyStatus = Literal["active", "revoked", "expired"]
GRACE_MINUTES_MAX = 7 * 24 * 60


class ApiKeyIn(In):
    name: Name
    role: Role
    facility_id: Ref | None = None
    carrier_id: Ref | None = None
    expires_on: date | None = Field(
        None, description="last day the key works (through 24:00 Europe/Berlin); none: "
                          "until revoked")


class RevokeIn(In):
    reason: Reason | None = None


class RotateIn(In):
    grace_minutes: int = Field(
        0, ge=0, le=GRACE_MINUTES_MAX,
        description="how long the old key keeps working; 0: revoked at once")


class ApiKeyOut(Out):
    id: int
    name: str
    role: Role
    facility_id: int | None
    carrier_id: int | None
    prefix: str = Field(description="the public part of the token after `ekita_`")
    status: KeyStatus
    created_at: BerlinTime
    expires_at: BerlinTime | None
    revoked_at: BerlinTime | None
    revoked_by: str | None
    revoke_reason: str | None
    last_used_at: BerlinTime | None
    rotated_from: int | None


class IssuedKeyOut(Out):
    key: ApiKeyOut
    token: str = Field(description="the bearer key; shown this once, only its hash is kept")
