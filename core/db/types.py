"""Columns encrypted at rest (data-protection M9; issue 12 item 3).

A field classified bank or health is declared ``EncryptedText``: the value is encrypted
(``ekita.core.crypto``, Fernet) whenever it is bound into a statement and decrypted when a
row is read, so no service can forget it and the database files, their WAL and any dump
hold only ciphertext. Fernet tokens are randomised, so such a column cannot be searched,
compared or sorted in SQL: the comparator refuses everything but ``IS [NOT] NULL``.

The change log stores before/after values as JSON next to the row; ``seal`` encrypts
those values for encrypted columns before the audit row is written, ``unseal`` turns them
back for a reader who is allowed to see them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from ekita.core import crypto

_NULL_TESTS = frozenset({operators.is_, operators.is_not})


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token; Python code sees the clear value."""

    impl = Text
    cache_ok = True

    class comparator_factory(Text.Comparator[str]):  # SQLAlchemy's hook name
        """Only NULL tests: an equality or LIKE on a randomised token can never match."""

        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if op not in _NULL_TESTS:
                raise TypeError(f"{self.expr} is encrypted at rest and cannot be used in "
                                f"{getattr(op, '__name__', op)!s}; filter on another column")
            return super().operate(op, *other, **kwargs)

        def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
            return self.operate(op, other, **kwargs)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else crypto.encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else crypto.decrypt(value, record="settings",
                                                         field="data_key")

    def process_literal_param(self, value: str | None, dialect: Dialect) -> str:
        raise TypeError("encrypted values are never rendered into SQL text")


@cache
def encrypted_keys(cls: type) -> frozenset[str]:
    """The mapped attribute names of ``cls`` whose column is ``EncryptedText``."""
    return frozenset(attr.key for attr in sa_inspect(cls).column_attrs
                     if any(isinstance(c.type, EncryptedText) for c in attr.columns))


def encrypted_columns(table: Any) -> frozenset[str]:
    """The column names of a Core ``Table`` that are ``EncryptedText``."""
    return frozenset(c.name for c in table.columns if isinstance(c.type, EncryptedText))


def seal(cls: type, changes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """A change-log entry with the values of encrypted columns as ciphertext."""
    keys = encrypted_keys(cls) & changes.keys()
    if not keys:
        return changes
    return {k: ([None if v is None else crypto.encrypt(v) for v in pair] if k in keys else pair)
            for k, pair in changes.items()}


def unseal(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Record values replayed from the change log, with encrypted columns in clear."""
    keys = encrypted_keys(cls) & values.keys()
    if not keys:
        return values
    name = getattr(cls, "__tablename__", cls.__name__)
    return {k: (crypto.decrypt(v, record=name, field=k) if k in keys and v is not None else v)
            for k, v in values.items()}
