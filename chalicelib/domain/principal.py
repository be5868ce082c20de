"""Who is calling: a tenant, and either one of its users or its own backend."""
from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain.errors import Forbidden, NotFound


@dataclass(frozen=True)
class Caller:
    tenant: str
    user: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    application: str | None = None

    @property
    def is_server(self) -> bool:
        return self.user is None

    def has_role(self, *names: str) -> bool:
        wanted = {n.casefold() for n in names}
        return any(r.casefold() in wanted for r in self.roles)

    @property
    def principal(self) -> str:
        return "server" if self.user is None else f"user:{self.user}"

    def resolve_user(self, user_id: str) -> str:
        """`me` means the caller; a user may only name themself (404 hides others)."""
        if user_id == "me":
            if self.user is None:
                raise NotFound("user_not_found", "'me' needs a user token; a server token must name the user", "userId")
            return self.user
        if self.user is not None and user_id != self.user:
            raise Forbidden("forbidden", "a user token may only access its own inbox", "userId")
        if self.user is None:  # a server names the user: the id must be one we could have stored
            from chalicelib.domain.rules import check_user_id

            check_user_id(user_id, "userId")
        return user_id

    def require_server(self, what: str) -> None:
        if not self.is_server:
            raise Forbidden("forbidden", f"{what} needs the tenant's server token")
