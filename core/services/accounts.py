"""API keys: created by an administrator, shown once, stored as a SHA-256 hash.

Keys carry 256 bits of randomness, so a fast hash is enough (no password
stretching needed); lookup is by a public prefix, comparison in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ekita.core.access import Permission, Principal
from ekita.core.errors import RuleViolation
from ekita.core.models import ApiKey, Carrier, Facility
from ekita.core.models.enums import Role
from ekita.core.services.base import load, require

TOKEN_PREFIX = "ekita"
# Roles bound to one tenant, and the field that names it.
BOUND = {Role.FACILITY_LEAD: "facility_id", Role.CARRIER: "carrier_id"}


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str  # shown once, never stored


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    session: Session,
    *,
    name: str,
    role: Role,
    facility_id: int | None = None,
    carrier_id: int | None = None,
) -> IssuedKey:
    require(session, Permission.USERS_MANAGE)
    given = {"facility_id": facility_id, "carrier_id": carrier_id}
    for bound_role, field in BOUND.items():
        option = field.removesuffix("_id")
        if role == bound_role and given[field] is None:
            raise RuleViolation(f"role {role} needs --{option}", record="api_key", field=field,
                                rule=f"a {role} key belongs to one {option}")
        if role != bound_role and given[field] is not None:
            raise RuleViolation(f"role {role} takes no {option}", record="api_key", field=field,
                                rule=f"only {bound_role} keys are bound to one {option}")
    if facility_id is not None:
        load(session, Facility, facility_id, field="facility_id")
    if carrier_id is not None:
        load(session, Carrier, carrier_id, field="carrier_id")
    prefix = secrets.token_hex(6)
    secret = secrets.token_hex(32)  # hex: no "_" to confuse the token format
    key = ApiKey(
        name=name,
        role=role,
        facility_id=facility_id,
        carrier_id=carrier_id,
        prefix=prefix,
        secret_hash=_hash(secret),
    )
    session.add(key)
    session.flush()
    return IssuedKey(key=key, token=f"{TOKEN_PREFIX}_{prefix}_{secret}")


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal behind a bearer token, or None for an unknown or revoked key."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    key = session.scalars(select(ApiKey).where(ApiKey.prefix == parts[1])).first()
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, _hash(parts[2])):
        return None
    return Principal(
        name=f"key:{key.name}",
        role=key.role,
        facility_id=key.facility_id,
        carrier_id=key.carrier_id,
        source="api",
    )
