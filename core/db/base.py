"""Declarative base shared by every table of the hub."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, Enum, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def enum_type(enum_cls: type[enum.Enum]) -> Enum:
    """Store an enum by its value as a checked VARCHAR (portable across SQLite and PostgreSQL)."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=max(len(str(m.value)) for m in enum_cls),
        values_callable=lambda cls: [str(m.value) for m in cls],
        name=enum_cls.__name__.lower(),
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


class Tracked:
    """Mixin for records whose every change is audited and historised (3.14.1, 3.14.3).

    ``__sensitive__`` maps field names to a sensitivity class; the audit view masks
    those values for roles that lack the right to that class
    (``ekita.core.access.may_reveal``).
    """

    __sensitive__: ClassVar[dict[str, str]] = {}
    __audit_ignore__: ClassVar[frozenset[str]] = frozenset({"updated_at"})

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
