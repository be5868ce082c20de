"""The directory table: everything keyed by owner within a tenant, one item class per kind.

Key patterns (`pk`, `sk`):
- `ProfileItem`: `<tenant>#u#<user>`, `profile`: name, short name, picture, metadata, API-user flag.
- `SettingsItem`: `<tenant>#u#<user>`, `settings`: muted types, minimum priority.
- `MemberItem`: `<tenant>#org#<id>` | `<tenant>#com#<id>`, `m#<user>`: role, banned, the API-user flag
  (copied from the profile so the fan-out decides eligibility from one Query), join time, and
  `mkey` = `<tenant>#<user>`, the `by_member` index's hash key.
- `TypeItem`: `<tenant>#types`, `<lower-cased type name>`: a notification type registered on first use.

Index `by_member` (GSI, all attributes): hash `mkey`, range `pk`: the owners a user is a member of.

The kind of an item follows from its key (no stored discriminator: items were written without one),
so every read here knows the class it reads. Python names are readable; the stored names stay the
short ones items were written with (`attr_name`).
"""
from __future__ import annotations

import time
from typing import Any, Iterator

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib import cursors
from chalicelib.store.base import BaseModel, get_or_none, lazy_meta, save_if_absent

MEMBER_PREFIX = "m#"
# Above every member key (`m#...`) and below anything that follows it.
MEMBER_END = "m$"
PROFILE_SK = "profile"
SETTINGS_SK = "settings"


class MemberIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_member"
        projection = AllProjection()

    mkey = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class DirectoryItem(BaseModel):
    """The table: its keys and index (what bootstrap and the stack build). Items are read and
    written through the kind classes below."""

    Meta = lazy_meta("directory")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)

    by_member = MemberIndex()


class ProfileItem(DirectoryItem):
    name = UnicodeAttribute(null=True)
    short_name = UnicodeAttribute(null=True)
    picture_url = UnicodeAttribute(null=True, attr_name="picture")
    metadata = MapAttribute(null=True, attr_name="meta")
    is_api_user = BooleanAttribute(null=True, attr_name="is_api")


class SettingsItem(DirectoryItem):
    muted_types = ListAttribute(of=UnicodeAttribute, null=True, attr_name="muted")
    min_priority = NumberAttribute(null=True, attr_name="min_pri")


class MemberItem(DirectoryItem):
    member_key = UnicodeAttribute(null=True, attr_name="mkey")
    role = UnicodeAttribute(null=True)
    banned = BooleanAttribute(null=True)
    is_api_user = BooleanAttribute(null=True, attr_name="is_api")
    joined_at = NumberAttribute(null=True, attr_name="joined")

    by_member = MemberIndex()  # declared again so its queries load MemberItems

    @property
    def user(self) -> str:
        return self.sk[len(MEMBER_PREFIX):]

    @property
    def owner(self) -> tuple[str, str]:
        """(owner kind, owner id) from the key."""
        _, kind, owner_id = self.pk.split("#", 2)
        return kind, owner_id


class TypeItem(DirectoryItem):
    name = UnicodeAttribute(null=True)
    registered_at = NumberAttribute(null=True, attr_name="created")


# ---- keys ---------------------------------------------------------------------------------------

def user_pk(tenant: str, user: str) -> str:
    return f"{tenant}#u#{user}"


def owner_pk(tenant: str, owner_kind: str, owner_id: str) -> str:
    return f"{tenant}#{owner_kind}#{owner_id}"


def member_sk(user: str) -> str:
    return MEMBER_PREFIX + user


def member_key(tenant: str, user: str) -> str:
    return f"{tenant}#{user}"


def types_pk(tenant: str) -> str:
    return f"{tenant}#types"


# ---- profiles and settings ----------------------------------------------------------------------

def get_profile(tenant: str, user: str) -> ProfileItem | None:
    return get_or_none(ProfileItem, user_pk(tenant, user), PROFILE_SK)


def _batch_get(model: type[DirectoryItem], keys: list[tuple[str, str]], consistent: bool) -> dict[tuple[str, str], Any]:
    found: dict[tuple[str, str], Any] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 100):
        for item in model.batch_get(unique[start:start + 100], consistent_read=consistent):
            found[(item.pk, item.sk)] = item
    return found


def get_profiles(tenant: str, users: list[str]) -> dict[str, ProfileItem]:
    """user -> profile, for those of `users` who have one."""
    found = _batch_get(ProfileItem, [(user_pk(tenant, u), PROFILE_SK) for u in users], True)
    return {u: found[(user_pk(tenant, u), PROFILE_SK)] for u in users if (user_pk(tenant, u), PROFILE_SK) in found}


def put_profile(tenant: str, user: str, *, name: str | None, short_name: str | None, picture_url: str | None,
                metadata: dict[str, Any] | None, is_api_user: bool) -> None:
    item = ProfileItem(user_pk(tenant, user), PROFILE_SK, name=name, short_name=short_name, picture_url=picture_url,
                       metadata=metadata or None, is_api_user=is_api_user)
    item.save()


def get_settings_many(tenant: str, users: list[str], *, consistent: bool = True) -> dict[str, SettingsItem]:
    """user -> stored settings, for those of `users` who have any."""
    found = _batch_get(SettingsItem, [(user_pk(tenant, u), SETTINGS_SK) for u in users], consistent)
    return {u: found[(user_pk(tenant, u), SETTINGS_SK)] for u in users
            if (user_pk(tenant, u), SETTINGS_SK) in found}


def get_settings(tenant: str, user: str) -> SettingsItem | None:
    return get_or_none(SettingsItem, user_pk(tenant, user), SETTINGS_SK)


def put_settings(tenant: str, user: str, muted_types: list[str], min_priority: int) -> None:
    item = SettingsItem(user_pk(tenant, user), SETTINGS_SK, muted_types=muted_types or None,
                        min_priority=min_priority)
    item.save()


# ---- memberships --------------------------------------------------------------------------------

def get_member(tenant: str, owner_kind: str, owner_id: str, user: str) -> MemberItem | None:
    return get_or_none(MemberItem, owner_pk(tenant, owner_kind, owner_id), member_sk(user))


def put_member(tenant: str, owner_kind: str, owner_id: str, user: str, *, role: str, banned: bool,
               is_api_user: bool, joined_at: int) -> MemberItem:
    item = MemberItem(owner_pk(tenant, owner_kind, owner_id), member_sk(user), member_key=member_key(tenant, user),
                      role=role, banned=banned, is_api_user=is_api_user, joined_at=joined_at)
    item.save()
    return item


def members_present(tenant: str, owner_kind: str, owners: list[str], users: list[str]) -> set[str]:
    """The users (of `users`) who are members of at least one of `owners`."""
    keys = [(owner_pk(tenant, owner_kind, o), member_sk(u)) for o in owners for u in users]
    return {sk[len(MEMBER_PREFIX):] for (_, sk) in _batch_get(MemberItem, keys, True)}


def memberships_of(tenant: str, user: str) -> Iterator[MemberItem]:
    return MemberItem.by_member.query(member_key(tenant, user))


def set_member_api_flag(item: MemberItem, is_api_user: bool) -> None:
    item.update(actions=[MemberItem.is_api_user.set(is_api_user)])


def members_page(tenant: str, owner_kind: str, owner_id: str, limit: int,
                 cursor: str | None) -> tuple[list[MemberItem], str | None]:
    """One Query of an owner's members, in user-id order, and the cursor of the next page (None at
    the end). Raises cursors.InvalidCursor for a cursor this listing did not hand out."""
    pk = owner_pk(tenant, owner_kind, owner_id)
    start = None
    if cursor:
        value = cursors.decode(cursor)
        if not isinstance(value, dict) or not isinstance(value.get("sk"), str):
            raise cursors.InvalidCursor("not a members cursor")
        start = {"pk": {"S": pk}, "sk": {"S": value["sk"]}}
    results = MemberItem.query(pk, MemberItem.sk.startswith(MEMBER_PREFIX), consistent_read=True, limit=limit,
                               page_size=limit, last_evaluated_key=start)
    items = list(results)
    last = results.last_evaluated_key
    return items, cursors.encode({"sk": last["sk"]["S"]}) if last else None


def member_keys_after(pk: str, after: str | None, limit: int) -> list[str]:
    """Up to `limit` member sort keys following `after` (eventually consistent, keys only): the
    coordinator cuts chunk boundaries from these; writers read each range again consistently."""
    keys: list[str] = []
    start = None  # `after` itself may be gone (the member left): start from a key condition instead
    while len(keys) < limit:
        results = MemberItem.query(pk, MemberItem.sk.between(after or MEMBER_PREFIX, MEMBER_END),
                                   consistent_read=False, limit=limit - len(keys),
                                   page_size=min(limit - len(keys), 2000), last_evaluated_key=start,
                                   attributes_to_get=["pk", "sk"])
        page = [item.sk for item in results if item.sk != after]
        keys.extend(page)
        start = results.last_evaluated_key
        if start is None:
            break
    return keys[:limit]


def members_between(pk: str, after: str | None, upto: str | None) -> list[MemberItem]:
    """Every member whose key is after `after` (exclusive) and up to `upto` (inclusive; None: to the
    end), read consistently: one chunk of a broadcast."""
    lower = after or MEMBER_PREFIX
    results = MemberItem.query(pk, MemberItem.sk.between(lower, upto or MEMBER_END), consistent_read=True)
    return [item for item in results if item.sk != after and item.sk.startswith(MEMBER_PREFIX)]


# ---- notification types -------------------------------------------------------------------------

def put_type_once(tenant: str, type_name: str) -> bool:
    """Register a type unless it is (case-insensitively); False when it was."""
    item = TypeItem(types_pk(tenant), type_name.casefold(), name=type_name, registered_at=int(time.time() * 1000))
    return save_if_absent(item)


def list_types(tenant: str) -> list[TypeItem]:
    return list(TypeItem.query(types_pk(tenant), consistent_read=True))
