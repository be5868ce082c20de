"""Users, organizations, communities and the role rules the seeds define."""
from __future__ import annotations

import time
from typing import Any

from chalicelib.domain.errors import Forbidden, InvalidInput, NotFound
from chalicelib.domain.model import Membership, Priority, Profile, UserSettings
from chalicelib.domain.principal import Caller
from chalicelib.store import directory as store
from chalicelib.store.base import with_backoff

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

def _profile_from(item: store.DirectoryItem, user: str) -> Profile:
    return Profile(id=user, name=item.name, short_name=item.short_name, profile_picture_url=item.picture,
                   metadata=item.meta.as_dict() if item.meta is not None else {}, is_api_user=bool(item.is_api))


def get_profile(tenant: str, user: str) -> Profile | None:
    item = store.get(store.user_pk(tenant, user), "profile")
    return _profile_from(item, user) if item else None


def get_profiles(tenant: str, users: list[str]) -> dict[str, Profile]:
    keys = [(store.user_pk(tenant, u), "profile") for u in dict.fromkeys(users)]
    found = store.batch_get(keys) if keys else {}
    out = {}
    for user in users:
        item = found.get((store.user_pk(tenant, user), "profile"))
        if item is not None:
            out[user] = _profile_from(item, user)
    return out


def put_profile(tenant: str, profile: Profile) -> tuple[Profile, bool]:
    """Create or replace a profile; returns it and whether it was created."""
    pk = store.user_pk(tenant, profile.id)
    existing = store.get(pk, "profile")
    item = store.DirectoryItem(pk, "profile", name=profile.name, short_name=profile.short_name,
                               picture=profile.profile_picture_url, meta=profile.metadata or None,
                               is_api=profile.is_api_user)
    with_backoff(item.save)
    if existing is None or bool(existing.is_api) != profile.is_api_user:
        _copy_api_flag(tenant, profile.id, profile.is_api_user)
    return profile, existing is None


def _copy_api_flag(tenant: str, user: str, is_api: bool) -> None:
    """Memberships carry isApiUser so the fan-out decides eligibility from one Query."""
    for membership in store.memberships_of(store.member_key(tenant, user)):
        if bool(membership.is_api) != is_api:
            membership.update(actions=[store.DirectoryItem.is_api.set(is_api)])


# ---- memberships ------------------------------------------------------------------------------

def _membership_from(item: store.DirectoryItem) -> Membership:
    _, kind, owner_id = item.pk.split("#", 2)
    return Membership(owner_kind=kind, owner_id=owner_id, user=store.member_user(item),
                      role=item.role or "", banned=bool(item.banned), is_api_user=bool(item.is_api),
                      joined_at=int(item.joined or 0))


def get_membership(tenant: str, owner_kind: str, owner_id: str, user: str) -> Membership | None:
    item = store.get(store.owner_pk(tenant, owner_kind, owner_id), store.MEMBER_PREFIX + user)
    return _membership_from(item) if item else None


def put_membership(tenant: str, owner_kind: str, owner_id: str, user: str, role: str,
                   banned: bool = False) -> tuple[Membership, bool]:
    role = canonical_role(owner_kind, role)
    if owner_kind == ORG and banned:
        raise InvalidInput("invalid_banned", "only community members can be banned", "banned")
    pk = store.owner_pk(tenant, owner_kind, owner_id)
    existing = store.get(pk, store.MEMBER_PREFIX + user)
    profile = get_profile(tenant, user)
    joined = int(existing.joined) if existing is not None and existing.joined else int(time.time() * 1000)
    item = store.DirectoryItem(pk, store.MEMBER_PREFIX + user, mkey=store.member_key(tenant, user), role=role,
                               banned=banned, is_api=bool(profile and profile.is_api_user), joined=joined)
    with_backoff(item.save)
    return _membership_from(item), existing is None


def delete_membership(tenant: str, owner_kind: str, owner_id: str, user: str) -> bool:
    item = store.get(store.owner_pk(tenant, owner_kind, owner_id), store.MEMBER_PREFIX + user)
    if item is None:
        return False
    item.delete()
    return True


def list_members(tenant: str, owner_kind: str, owner_id: str, limit: int,
                 start: dict[str, Any] | None) -> tuple[list[Membership], dict[str, Any] | None]:
    items, last = store.members_page(store.owner_pk(tenant, owner_kind, owner_id), limit, start)
    return [_membership_from(i) for i in items], last


def memberships_of(tenant: str, user: str) -> list[Membership]:
    return [_membership_from(i) for i in store.memberships_of(store.member_key(tenant, user))]


def organizations_of(tenant: str, user: str) -> list[str]:
    return [m.owner_id for m in memberships_of(tenant, user) if m.owner_kind == ORG]


def members_sharing_org(tenant: str, user: str, candidates: list[str]) -> set[str]:
    """The candidates who are in at least one of `user`'s organizations."""
    orgs = organizations_of(tenant, user)
    if not orgs:
        return set()
    keys = [(store.owner_pk(tenant, ORG, org), store.MEMBER_PREFIX + c) for org in orgs for c in candidates]
    found: set[str] = set()
    for start in range(0, len(keys), 100):
        for (_, sk) in store.batch_get(keys[start:start + 100]):
            found.add(sk[len(store.MEMBER_PREFIX):])
    return found


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
    item = store.get(store.user_pk(tenant, user), "settings")
    return _settings_from(item)


def _settings_from(item: store.DirectoryItem | None) -> UserSettings:
    if item is None:
        return UserSettings()
    return UserSettings(muted_types=list(item.muted or []), min_priority=Priority(int(item.min_pri or 1)))


def get_settings_many(tenant: str, users: list[str], *, consistent: bool = True) -> dict[str, UserSettings]:
    """Settings of many users. The fan-out reads them eventually consistent (half the read cost: a
    setting changed in the last second may apply to this broadcast or not)."""
    out: dict[str, UserSettings] = {}
    unique = list(dict.fromkeys(users))
    for start in range(0, len(unique), 100):
        chunk = unique[start:start + 100]
        found = store.batch_get([(store.user_pk(tenant, u), "settings") for u in chunk], consistent=consistent)
        for u in chunk:
            out[u] = _settings_from(found.get((store.user_pk(tenant, u), "settings")))
    return out


def put_settings(tenant: str, user: str, settings: UserSettings) -> UserSettings:
    item = store.DirectoryItem(store.user_pk(tenant, user), "settings",
                               muted=list(dict.fromkeys(settings.muted_types)) or None,
                               min_pri=int(settings.min_priority))
    with_backoff(item.save)
    return settings


# ---- notification types -----------------------------------------------------------------------

_registered: set[tuple[str, str]] = set()


def register_type(tenant: str, type_name: str) -> None:
    """Registered on first use (per tenant, case-insensitively); later uses cost nothing."""
    key = (tenant, type_name.casefold())
    if key in _registered:
        return
    item = store.DirectoryItem(store.types_pk(tenant), type_name.casefold(), name=type_name,
                               created=int(time.time() * 1000))
    try:
        item.save(condition=store.DirectoryItem.pk.does_not_exist())
    except Exception as exc:  # noqa: BLE001
        if "ConditionalCheckFailed" not in str(getattr(exc, "cause_response_code", "")) + str(exc):
            raise
    _registered.add(key)


def list_types(tenant: str) -> list[dict[str, Any]]:
    items = store.DirectoryItem.query(store.types_pk(tenant), consistent_read=True)
    return [{"name": i.name, "registeredAt": int(i.created or 0)} for i in items]


def require_profile(tenant: str, user: str, field: str) -> Profile:
    profile = get_profile(tenant, user)
    if profile is None:
        raise NotFound("user_not_found", f"{field}: no user with id {user!r}", field)
    return profile
