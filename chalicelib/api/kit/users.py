"""Who the tenant's directory knows, for the surfaces that refuse unknown users (Cord, ThreatConnect)."""
from __future__ import annotations

from chalicelib.domain import directory
from chalicelib.domain.principal import Caller


def known_users(caller: Caller, users: list[str]) -> set[str]:
    """The users the tenant's directory knows: those with a profile, or with any membership
    (an organization or community member added without a profile)."""
    known = set(directory.get_profiles(caller.tenant, users))
    return known | {u for u in users if u not in known and directory.memberships_of(caller.tenant, u)}
