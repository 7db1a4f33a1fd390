"""API keys for administrators: list, show, create, revoke, rotate (issue 12 item 13).

Every route needs ``users:manage`` (role admin); the secret is in the answer of a
create or a rotate only, once, and never in a list.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from ekita.core.models import ApiKey
from ekita.core.schemas.accounts import ApiKeyIn, ApiKeyOut, IssuedKeyOut, RevokeIn, RotateIn
from ekita.core.schemas.common import Page
from ekita.core.services import accounts as svc
from ekita.hub.api.deps import DB, Pages, PathId, WriteDB

router = APIRouter(prefix="/users/keys", tags=["users"])


def issued_out(issued: svc.IssuedKey) -> IssuedKeyOut:
    return IssuedKeyOut(key=ApiKeyOut.model_validate(issued.key), token=issued.token)


@router.get("", response_model=Page[ApiKeyOut])
def list_keys(session: DB, pages: Pages) -> dict:
    items, total = svc.list_api_keys(session, limit=pages.limit, offset=pages.offset)
    return {"items": items, "total": total, "limit": pages.limit, "offset": pages.offset}


@router.get("/{key_id}", response_model=ApiKeyOut)
def get_key(session: DB, key_id: PathId) -> ApiKey:
    return svc.get_api_key(session, key_id)


@router.post("", response_model=IssuedKeyOut, status_code=201)
def create_key(session: WriteDB, body: ApiKeyIn) -> IssuedKeyOut:
    expires_at = svc.end_of_day(body.expires_on) if body.expires_on is not None else None
    issued = svc.create_api_key(session, name=body.name, role=body.role,
                                facility_id=body.facility_id, carrier_id=body.carrier_id,
                                expires_at=expires_at)
    session.commit()
    return issued_out(issued)


@router.post("/{key_id}/revoke", response_model=ApiKeyOut)
def revoke_key(session: WriteDB, key_id: PathId, body: RevokeIn | None = None) -> ApiKey:
    key = svc.revoke_api_key(session, key_id, reason=body.reason if body else None)
    session.commit()
    return key


@router.post("/{key_id}/rotate", response_model=IssuedKeyOut, status_code=201)
def rotate_key(session: WriteDB, key_id: PathId, body: RotateIn | None = None) -> IssuedKeyOut:
    grace = timedelta(minutes=body.grace_minutes if body else 0)
    issued = svc.rotate_api_key(session, key_id, grace=grace)
    session.commit()
    return issued_out(issued)
