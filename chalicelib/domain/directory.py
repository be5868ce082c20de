"""Users, organizations, communities and the role rules the seeds define."""
from __future__ import annotations

import time
from typing import Any

from chalicelib.cursors import InvalidCursor
from chalicelib.domain.errors import Forbidden, InvalidInput, NotFound
from chalicelib.domain.model import Membership, Priority, Profile, UserSettings
from chalicelib.domain.principal import Caller
from chalicelib.store import directory as store

ORG = "org"
COMMUNITY = "com"

ORG_ROLES = ("Read Only User", "Standard User", "Sharing User", "Organization Administrator")
COMMUNITY_ROLES = ("Subscriber", "Commenter", "Contributor", "Editor", "Director")
COMMUNITY_SENDERS = {"commenter", "contributor", "editor", "director"}
ORG_SENDERS = {"organization administrator"}


def canonical_role(owner_kind: str, role: str) -> str:
    names = ORG_ROLES if owner_kind == ORG else COMMUNITY_ROLES
    for name in names:
        if name.casefold() == (role or "").strip().casefold():
            return name
    raise InvalidInput("invalid_role", f"role must be one of: {', '.join(names)} (case-insensitive)", "role")


# ---- profiles ---------------------------------------------------------------------------------

def _profile_from(item: store.ProfileItem, user: str) -> Profile:
    return Profile(id=user, name=item.name, short_name=item.short_name, profile_picture_url=item.picture_url,
                   metadata=item.metadata.as_dict() if item.metadata is not None else {},
                   is_api_user=bool(item.is_api_user))


def get_profile(tenant: str, user: str) -> Profile | None:
    item = store.get_profile(tenant, user)
    return _profile_from(item, user) if item else None


def get_profiles(tenant: str, users: list[str]) -> dict[str, Profile]:
    found = store.get_profiles(tenant, users) if users else {}
    return {user: _profile_from(item, user) for user, item in found.items()}


def put_profile(tenant: str, profile: Profile) -> tuple[Profile, bool]:
    """Create or replace a profile; returns it and whether it was created."""
    existing = store.get_profile(tenant, profile.id)
    store.put_profile(tenant, profile.id, name=profile.name, short_name=profile.short_name,
                      picture_url=profile.profile_picture_url, metadata=profile.metadata,
                      is_api_user=profile.is_api_user)
    if existing is None or bool(existing.is_api_user) != profile.is_api_user:
        _copy_api_flag(tenant, profile.id, profile.is_api_user)
    return profile, existing is None


def _copy_api_flag(tenant: str, user: str, is_api: bool) -> None:
    """Memberships carry isApiUser so the fan-out decides eligibility from one Query."""
    for membership in store.memberships_of(tenant, user):
        if bool(membership.is_api_user) != is_api:
            store.set_member_api_flag(membership, is_api)


# ---- memberships ------------------------------------------------------------------------------

def _membership_from(item: store.MemberItem) -> Membership:
    kind, owner_id = item.owner
    return Membership(owner_kind=kind, owner_id=owner_id, user=item.user,
                      role=item.role or "", banned=bool(item.banned), is_api_user=bool(item.is_api_user),
                      joined_at=int(item.joined_at or 0))


def get_membership(tenant: str, owner_kind: str, owner_id: str, user: str) -> Membership | None:
    item = store.get_member(tenant, owner_kind, owner_id, user)
    return _membership_from(item) if item else None


def put_membership(tenant: str, owner_kind: str, owner_id: str, user: str, role: str,
                   banned: bool = False) -> tuple[Membership, bool]:
    role = canonical_role(owner_kind, role)
    if owner_kind == ORG and banned:
        raise InvalidInput("invalid_banned", "only community members can be banned", "banned")
    existing = store.get_member(tenant, owner_kind, owner_id, user)
    profile = get_profile(tenant, user)
    joined = int(existing.joined_at) if existing is not None and existing.joined_at else int(time.time() * 1000)
    item = store.put_member(tenant, owner_kind, owner_id, user, role=role, banned=banned,
                            is_api_user=bool(profile and profile.is_api_user), joined_at=joined)
    return _membership_from(item), existing is None


def delete_membership(tenant: str, owner_kind: str, owner_id: str, user: str) -> bool:
    item = store.get_member(tenant, owner_kind, owner_id, user)
    if item is None:
        return False
    item.delete()
    return True


def list_members(tenant: str, owner_kind: str, owner_id: str, limit: int,
                 cursor: str | None) -> tuple[list[Membership], str | None]:
    """One page of an owner's members in user-id order, and the next page's cursor (None: the last)."""
    try:
        items, next_cursor = store.members_page(tenant, owner_kind, owner_id, limit, cursor)
    except InvalidCursor:
        raise InvalidInput("invalid_cursor", "cursor is not one this listing returned", "cursor") from None
    return [_membership_from(i) for i in items], next_cursor


def memberships_of(tenant: str, user: str) -> list[Membership]:
    return [_membership_from(i) for i in store.memberships_of(tenant, user)]


def organizations_of(tenant: str, user: str) -> list[str]:
    return [m.owner_id for m in memberships_of(tenant, user) if m.owner_kind == ORG]


def members_sharing_org(tenant: str, user: str, candidates: list[str]) -> set[str]:
    """The candidates who are in at least one of `user`'s organizations."""
    orgs = organizations_of(tenant, user)
    if not orgs:
        return set()
    return store.members_present(tenant, ORG, orgs, candidates)


def authorize_audience(caller: Caller, owner_kind: str, owner_id: str) -> None:
    """The seed's rule: Organization Administrator for an organization; Commenter or above
    for a community or source. A tenant server may send anywhere in its tenant."""
    if caller.is_server:
        return
    membership = get_membership(caller.tenant, owner_kind, owner_id, caller.user or "")
    if owner_kind == ORG:
        if membership is None or membership.role.casefold() not in ORG_SENDERS:
            raise Forbidden("forbidden",
                            "sending to an organization requires the Organization Administrator role in it",
                            "organization")
        return
    if membership is None or membership.banned or membership.role.casefold() not in COMMUNITY_SENDERS:
        raise Forbidden("forbidden", "sending to a community or source requires the Commenter, Contributor, "
                                     "Editor or Director role there", "community")


# ---- settings ---------------------------------------------------------------------------------

def get_settings(tenant: str, user: str) -> UserSettings:
    return _settings_from(store.get_settings(tenant, user))


def _settings_from(item: store.SettingsItem | None) -> UserSettings:
    if item is None:
        return UserSettings()
    return UserSettings(muted_types=list(item.muted_types or []), min_priority=Priority(int(item.min_priority or 1)))


def get_settings_many(tenant: str, users: list[str], *, consistent: bool = True) -> dict[str, UserSettings]:
    """Settings of many users. The fan-out reads them eventually consistent (half the read cost: a
    setting changed in the last second may apply to this broadcast or not)."""
    found = store.get_settings_many(tenant, users, consistent=consistent)
    return {u: _settings_from(found.get(u)) for u in dict.fromkeys(users)}


def put_settings(tenant: str, user: str, settings: UserSettings) -> UserSettings:
    store.put_settings(tenant, user, list(dict.fromkeys(settings.muted_types)), int(settings.min_priority))
    return settings


# ---- notification types -----------------------------------------------------------------------

_registered: set[tuple[str, str]] = set()


def register_type(tenant: str, type_name: str) -> None:
    """Registered on first use (per tenant, case-insensitively); later uses cost nothing."""
    key = (tenant, type_name.casefold())
    if key in _registered:
        return
    store.put_type_once(tenant, type_name)
    _registered.add(key)


def list_types(tenant: str) -> list[dict[str, Any]]:
    return [{"name": i.name, "registeredAt": int(i.registered_at or 0)} for i in store.list_types(tenant)]


def require_profile(tenant: str, user: str, field: str) -> Profile:
    profile = get_profile(tenant, user)
    if profile is None:
        raise NotFound("user_not_found", f"{field}: no user with id {user!r}", field)
    return profile
