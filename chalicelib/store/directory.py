"""The directory table: everything keyed by owner within a tenant.

- user profile and settings: `pk = tenant#u#<user>`, `sk = profile | settings`
- organization / community membership: `pk = tenant#org#<id> | tenant#com#<id>`,
  `sk = m#<user>`, with role, banned, isApiUser (copied from the profile so the
  fan-out decides eligibility from one Query) and joinedAt
- notification types registered per tenant: `pk = tenant#types`, `sk = <lower name>`

The `by_member` index inverts membership: which owners is this user in.
"""
from __future__ import annotations

from typing import Any, Iterator

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.store.base import BaseModel, lazy_meta

MEMBER_PREFIX = "m#"


class MemberIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_member"
        projection = AllProjection()

    mkey = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class DirectoryItem(BaseModel):
    Meta = lazy_meta("directory")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    # profile
    name = UnicodeAttribute(null=True)
    short_name = UnicodeAttribute(null=True)
    picture = UnicodeAttribute(null=True)
    meta = MapAttribute(null=True)
    is_api = BooleanAttribute(null=True)
    # settings
    muted = ListAttribute(of=UnicodeAttribute, null=True)
    min_pri = NumberAttribute(null=True)
    # membership
    mkey = UnicodeAttribute(null=True)
    role = UnicodeAttribute(null=True)
    banned = BooleanAttribute(null=True)
    joined = NumberAttribute(null=True)
    # type registry
    created = NumberAttribute(null=True)

    by_member = MemberIndex()


def user_pk(tenant: str, user: str) -> str:
    return f"{tenant}#u#{user}"


def owner_pk(tenant: str, owner_kind: str, owner_id: str) -> str:
    return f"{tenant}#{owner_kind}#{owner_id}"


def member_key(tenant: str, user: str) -> str:
    return f"{tenant}#{user}"


def types_pk(tenant: str) -> str:
    return f"{tenant}#types"


def get(pk: str, sk: str) -> DirectoryItem | None:
    try:
        return DirectoryItem.get(pk, sk, consistent_read=True)
    except DirectoryItem.DoesNotExist:
        return None


def batch_get(keys: list[tuple[str, str]], *, consistent: bool = True) -> dict[tuple[str, str], DirectoryItem]:
    found: dict[tuple[str, str], DirectoryItem] = {}
    unique = list(dict.fromkeys(keys))
    for item in DirectoryItem.batch_get(unique, consistent_read=consistent):
        found[(item.pk, item.sk)] = item
    return found


def members_page(pk: str, limit: int, start: dict[str, Any] | None,
                 consistent: bool = True) -> tuple[list[DirectoryItem], dict[str, Any] | None]:
    """One Query of an owner's members, in user-id order."""
    results = DirectoryItem.query(
        pk,
        DirectoryItem.sk.startswith(MEMBER_PREFIX),
        consistent_read=consistent,
        limit=limit,
        page_size=limit,
        last_evaluated_key=start,
    )
    items = list(results)
    return items, results.last_evaluated_key


# Above every member key (`m#...`) and below anything that follows it.
MEMBER_END = "m$"


def member_keys_after(pk: str, after: str | None, limit: int) -> list[str]:
    """Up to `limit` member sort keys following `after` (eventually consistent, keys only): the
    coordinator cuts chunk boundaries from these; writers read each range again consistently."""
    keys: list[str] = []
    start = None  # `after` itself may be gone (the member left): start from a key condition instead
    while len(keys) < limit:
        results = DirectoryItem.query(pk, DirectoryItem.sk.between(after or MEMBER_PREFIX, MEMBER_END),
                                      consistent_read=False, limit=limit - len(keys),
                                      page_size=min(limit - len(keys), 2000), last_evaluated_key=start,
                                      attributes_to_get=["pk", "sk"])
        page = [item.sk for item in results if item.sk != after]
        keys.extend(page)
        start = results.last_evaluated_key
        if start is None:
            break
    return keys[:limit]


def members_between(pk: str, after: str | None, upto: str | None) -> list[DirectoryItem]:
    """Every member whose key is after `after` (exclusive) and up to `upto` (inclusive; None: to the
    end), read consistently: one chunk of a broadcast."""
    lower = after or MEMBER_PREFIX
    results = DirectoryItem.query(pk, DirectoryItem.sk.between(lower, upto or MEMBER_END), consistent_read=True)
    return [item for item in results if item.sk != after and item.sk.startswith(MEMBER_PREFIX)]


def member_user(item: DirectoryItem) -> str:
    return item.sk[len(MEMBER_PREFIX):]


def memberships_of(mkey: str) -> Iterator[DirectoryItem]:
    return DirectoryItem.by_member.query(mkey)
