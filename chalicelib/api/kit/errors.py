"""How a dialect names its errors. A dialect raises DialectError with its own code as data; for every other
error (the domain's, the kit's parsers', a refused token) its ErrorCodes table says which of its codes that is,
by the error's reason, code or kind: never by reading the message."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from chalicelib.domain.errors import DomainError


class DialectError(DomainError):
    """A failure a dialect raises in its own terms: `dialect_code` is the code its error body carries
    (Cord's "invalid_user_id", Spark's 1053), `kind` picks the HTTP status as for any domain error."""

    def __init__(self, dialect_code: Any, message: str, kind: str = "invalid", field: str | None = None) -> None:
        super().__init__(f"dialect_{dialect_code}", message, field)
        self.dialect_code = dialect_code
        self.kind = kind


@dataclass(frozen=True)
class ErrorCodes:
    """A dialect's code for an error it did not raise itself."""

    by_kind: Mapping[str, Any]  # the domain error's kind (invalid, unauthorized, ...) -> code
    default: Any  # a kind missing from by_kind
    internal: Any  # an unexpected failure (500)
    by_code: Mapping[str, Any] = field(default_factory=dict)  # a domain error's code the dialect keeps apart
    by_reason: Mapping[str, Any] = field(default_factory=dict)  # a refused token's reason (missing, expired)

    def code(self, exc: DomainError, status: int) -> Any:
        if isinstance(exc, DialectError):
            return exc.dialect_code
        if status >= 500:
            return self.internal
        reason = getattr(exc, "reason", None)
        if reason in self.by_reason:
            return self.by_reason[reason]
        if exc.code in self.by_code:
            return self.by_code[exc.code]
        return self.by_kind.get(exc.kind, self.default)
