"""Helpers every service uses: loading in scope, permission checks, paging."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ekita.core.access import Permission, Principal
from ekita.core.db.base import Base
from ekita.core.errors import Forbidden, NotFound
from ekita.core.tracking import principal_of

M = TypeVar("M", bound=Base)


def require(session: Session, permission: Permission) -> Principal:
    principal = principal_of(session)
    if not principal.can(permission):
        raise Forbidden(f"role '{principal.role}' may not {permission.value}", rule=permission)
    return principal


def load(session: Session, cls: type[M], ident: Any, *, field: str = "id") -> M:
    """Load by primary key through the scoped query layer; out of scope reads as absent."""
    obj = session.get(cls, ident)
    if obj is None:
        record = cls.__tablename__
        raise NotFound(
            f"{record} {ident} not found", record=record, field=field, rule="exists in your scope"
        )
    return obj


def apply(obj: Base, data: dict[str, Any]) -> None:
    for key, value in data.items():
        setattr(obj, key, value)


def page(session: Session, stmt: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = list(session.scalars(stmt.limit(limit).offset(offset)).unique())
    return items, int(total or 0)
