"""The inbox table: one partition per recipient (`tenant#user`), one item per notification.

Keys: `sk` is the notification's ULID and never changes (it is part of the public id).
Two local secondary indexes give strongly consistent, newest-first pages in one Query:
`by_activity` on `act` (the ULID of the last activity: creation or an aggregation
bump) and the sparse `unread` on `unr` (present only while unread). Group pointers
(`sk = "g#<groupKey>"`) live in the same partition but carry neither index key, so
they never appear in a page.
"""
from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, LocalSecondaryIndex

from chalicelib.store.attributes import CompactJSONAttribute
from chalicelib.store.base import BaseModel, lazy_meta

GROUP_PREFIX = "g#"


class ActivityIndex(LocalSecondaryIndex):
    class Meta:
        index_name = "by_activity"
        projection = AllProjection()

    pk = UnicodeAttribute(hash_key=True)
    act = UnicodeAttribute(range_key=True)


class UnreadIndex(LocalSecondaryIndex):
    class Meta:
        index_name = "unread"
        projection = AllProjection()

    pk = UnicodeAttribute(hash_key=True)
    unr = UnicodeAttribute(range_key=True)


class TenantIndex(GlobalSecondaryIndex):
    """Every notification of a tenant, newest activity first, for admin listings. The hash
    key is sharded (`tenant#0`..`tenant#15` by recipient) so a large fan-out spreads its
    index writes instead of throttling on one partition."""

    class Meta:
        index_name = "by_tenant"
        projection = AllProjection()

    tsh = UnicodeAttribute(hash_key=True)
    act = UnicodeAttribute(range_key=True)


TENANT_SHARDS = 16


def tenant_shard(tenant: str, user: str) -> str:
    import zlib

    return f"{tenant}#{zlib.crc32(user.encode()) % TENANT_SHARDS}"


def tenant_shards(tenant: str) -> list[str]:
    return [f"{tenant}#{i}" for i in range(TENANT_SHARDS)]


class InboxItem(BaseModel):
    Meta = lazy_meta("inbox")
    # TTL deletions arrive here; the expiry handler takes expired items off the counters.
    Meta.stream_view_type = "OLD_IMAGE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    act = UnicodeAttribute(null=True)
    unr = UnicodeAttribute(null=True)
    typ = UnicodeAttribute(null=True)
    pri = NumberAttribute(null=True)
    created = NumberAttribute(null=True)
    read_at = NumberAttribute(null=True)
    actor = UnicodeAttribute(null=True)
    senders = ListAttribute(of=UnicodeAttribute, null=True)
    md = MapAttribute(null=True)
    loc = MapAttribute(null=True)
    org = UnicodeAttribute(null=True)
    grp = UnicodeAttribute(null=True)
    body = CompactJSONAttribute(null=True)
    ref = UnicodeAttribute(null=True)
    bid = UnicodeAttribute(null=True)
    tsh = UnicodeAttribute(null=True)  # by_tenant index key (notifications only)
    target = UnicodeAttribute(null=True)  # group pointers: the sk they point at
    expires = TTLAttribute(null=True)

    by_activity = ActivityIndex()
    unread = UnreadIndex()
    by_tenant = TenantIndex()


def inbox_key(tenant: str, user: str) -> str:
    return f"{tenant}#{user}"


def split_inbox_key(pk: str) -> tuple[str, str]:
    tenant, _, user = pk.partition("#")
    return tenant, user


def group_sk(group_key: str) -> str:
    return GROUP_PREFIX + group_key


def raw_to_item(raw: dict[str, Any]) -> InboxItem:
    return InboxItem.from_raw_data(raw)
