"""API keys: created by an administrator, shown once, stored as a SHA-256 hash.

Keys carry 256 bits of randomness, so a fast hash is enough (no password
stretching needed); lookup is by a public prefix, comparison in constant time.

Lifecycle (issue 12 item 13): a key authenticates iff it exists, is not revoked
and has not expired. Revocation is final and idempotent; rotation issues a
successor with the same name, role and scope and revokes the predecessor, at once
or after a short grace period; the last use is kept to the minute, written apart
from the request so that reads stay reads.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ekita.core.access import Permission, Principal
from ekita.core.db.base import as_utc, utcnow
from ekita.core.errors import Conflict, RuleViolation
from ekita.core.models import ApiKey, Carrier, Facility
from ekita.core.models.enums import Role
from ekita.core.services.base import load, page, require
from ekita.core.tracking import BERLIN

TOKEN_PREFIX = "ekita"
# Roles bound to one tenant, and the field that names it.
BOUND = {Role.FACILITY_LEAD: "facility_id", Role.CARRIER: "carrier_id"}
# The last use is rewritten at most this often per key: one write a minute, not one a request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Rotation may leave the old key alive this long, so its holders can switch (decision K2).
MAX_GRACE = timedelta(days=7)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str  # shown once, never stored


@dataclass(frozen=True)
class Authenticated:
    """Who a token belongs to, and what the request needs to keep its last use current."""

    principal: Principal
    key_id: int
    last_used_at: datetime | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def end_of_day(day: date) -> datetime:
    """The moment a key "valid until ``day``" stops working: next midnight in Dresden."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=BERLIN)


def status(key: ApiKey, now: datetime | None = None) -> str:
    """``revoked``, ``expired`` or ``active``: what the holder of the key gets."""
    return key.status_at(now or utcnow())


def _check_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise RuleViolation("the expiry needs a time zone", record="api_key",
                            field="expires_at", rule="times are timezone-aware")
    if expires_at <= utcnow():
        raise RuleViolation(f"expiry {expires_at.isoformat()} is not in the future",
                            record="api_key", field="expires_at",
                            rule="a new key expires in the future")
    return expires_at.astimezone(UTC)  # SQLite keeps the wall time and drops the offset


def _issue(session: Session, *, name: str, role: Role, facility_id: int | None,
           carrier_id: int | None, expires_at: datetime | None,
           rotated_from: int | None = None) -> IssuedKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_hex(32)  # hex: no "_" to confuse the token format
    key = ApiKey(name=name, role=role, facility_id=facility_id, carrier_id=carrier_id,
                 prefix=prefix, secret_hash=_hash(secret), expires_at=expires_at,
                 rotated_from=rotated_from)
    session.add(key)
    session.flush()
    return IssuedKey(key=key, token=f"{TOKEN_PREFIX}_{prefix}_{secret}")


def create_api_key(
    session: Session,
    *,
    name: str,
    role: Role,
    facility_id: int | None = None,
    carrier_id: int | None = None,
    expires_at: datetime | None = None,
) -> IssuedKey:
    """A new key; without ``expires_at`` it works until revoked (decision K1)."""
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
    return _issue(session, name=name, role=role, facility_id=facility_id,
                  carrier_id=carrier_id, expires_at=_check_expiry(expires_at))


def list_api_keys(session: Session, *, limit: int = 50, offset: int = 0
                  ) -> tuple[list[ApiKey], int]:
    """Every key, newest first; callers show metadata only (never the hash)."""
    require(session, Permission.USERS_MANAGE)
    return page(session, select(ApiKey).order_by(ApiKey.id.desc()), limit, offset)


def get_api_key(session: Session, key_id: int) -> ApiKey:
    require(session, Permission.USERS_MANAGE)
    return load(session, ApiKey, key_id)


def revoke_api_key(session: Session, key_id: int, *, reason: str | None = None) -> ApiKey:
    """Revoke for good. Revoking a revoked key changes nothing (idempotent, no new log row)."""
    who = require(session, Permission.USERS_MANAGE)
    key = load(session, ApiKey, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        key.revoked_by = who.name
        key.revoke_reason = reason
        session.flush()
    return key


def rotate_api_key(session: Session, key_id: int, *, grace: timedelta = timedelta(0)
                   ) -> IssuedKey:
    """A successor with the same name, role, scope and expiry; the old key ends now or
    after ``grace``.

    With a grace period the old key is not revoked but expires then (never later than it
    already would), so both keys work while its holders switch. Only an active key without
    a successor is rotated: anything else would hand out a second, or a revived, live key.
    """
    who = require(session, Permission.USERS_MANAGE)
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise RuleViolation(f"grace period {grace} is out of range", record="api_key",
                            field="grace_minutes", rule=f"between 0 and {MAX_GRACE}")
    old = load(session, ApiKey, key_id)
    now = utcnow()
    if status(old, now) != "active":
        raise Conflict(f"api key {key_id} is {status(old, now)}", record="api_key",
                       field="revoked_at" if old.revoked_at else "expires_at",
                       rule="only an active key can be rotated; create a new one instead")
    successor = session.scalar(select(ApiKey.id).where(ApiKey.rotated_from == key_id))
    if successor is not None:
        raise Conflict(f"api key {key_id} was already rotated to key {successor}",
                       record="api_key", field="rotated_from", rule="a key is rotated once")
    expires_at = as_utc(old.expires_at) if old.expires_at is not None else None
    issued = _issue(session, name=old.name, role=old.role, facility_id=old.facility_id,
                    carrier_id=old.carrier_id, expires_at=expires_at, rotated_from=old.id)
    if grace:
        end = now + grace
        if expires_at is None or expires_at > end:
            old.expires_at = end
    else:
        old.revoked_at = now
        old.revoked_by = who.name
        old.revoke_reason = f"rotated to key {issued.key.id}"
    session.flush()
    return issued


def identify(session: Session, token: str, now: datetime | None = None) -> Authenticated | None:
    """The key behind a bearer token, or None for an unknown, forged, revoked or expired one.

    A read only: the caller records the use with ``record_use`` in its own transaction.
    """
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    key = session.scalars(select(ApiKey).where(ApiKey.prefix == parts[1])).first()
    if key is None or status(key, now) != "active":
        return None
    if not hmac.compare_digest(key.secret_hash, _hash(parts[2])):
        return None
    principal = Principal(name=f"key:{key.name}", role=key.role, facility_id=key.facility_id,
                          carrier_id=key.carrier_id, source="api")
    last = as_utc(key.last_used_at) if key.last_used_at is not None else None
    return Authenticated(principal=principal, key_id=key.id, last_used_at=last)


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal behind a bearer token, or None for an unknown, revoked or expired key."""
    found = identify(session, token)
    return found.principal if found is not None else None


def use_is_stale(last_used_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether the last use is older than the resolution, so worth one write."""
    now = now or utcnow()
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION


def record_use(session: Session, key_id: int, now: datetime | None = None) -> bool:
    """Set the key's last use to ``now`` unless it was set within the last minute.

    A compare-and-set ``UPDATE`` outside the ORM: concurrent requests write at most once,
    ``updated_at`` stays the time of the last real change, and no change-log row is made.
    True if this call wrote.
    """
    now = now or utcnow()
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id,
               or_(ApiKey.last_used_at.is_(None),
                   ApiKey.last_used_at <= now - LAST_USED_RESOLUTION))
        .values(last_used_at=now, updated_at=ApiKey.updated_at)
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)
