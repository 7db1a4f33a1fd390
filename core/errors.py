"""Domain errors. Each names the record, the field and the rule, for a clear message."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    status = 400

    def __init__(
        self,
        message: str,
        *,
        record: str | None = None,
        field: str | None = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.record = record
        self.field = field
        self.rule = rule

    def as_dict(self) -> dict[str, str | None]:
        return {
            "message": self.message,
            "record": self.record,
            "field": self.field,
            "rule": self.rule,
        }


class RuleViolation(DomainError):
    """Input breaks a rule of the spec; nothing was changed."""

    status = 422


class NotFound(DomainError):
    """The record does not exist, or is outside the caller's scope (same answer on purpose)."""

    status = 404


class Conflict(DomainError):
    status = 409


class Forbidden(DomainError):
    status = 403
