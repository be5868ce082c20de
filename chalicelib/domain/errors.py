"""Domain errors. One module in the API layer maps each kind to each dialect's shape."""
from __future__ import annotations


class DomainError(Exception):
    """Base: `code` is a stable machine name, `field` the input it concerns (if any)."""

    kind = "invalid"

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    kind = "invalid"


class Unauthorized(DomainError):
    kind = "unauthorized"


class Forbidden(DomainError):
    kind = "forbidden"


class NotFound(DomainError):
    kind = "not_found"


class Conflict(DomainError):
    kind = "conflict"


class TooLarge(DomainError):
    kind = "too_large"


class UnsupportedMediaType(DomainError):
    """A request body labelled with a Content-Type the route does not read."""

    kind = "unsupported_media_type"


class MethodNotAllowed(DomainError):
    """A known path asked with a method it does not serve; `allowed` lists those it does."""

    kind = "method_not_allowed"

    def __init__(self, message: str, allowed: str) -> None:
        super().__init__("method_not_allowed", message, None)
        self.allowed = allowed
