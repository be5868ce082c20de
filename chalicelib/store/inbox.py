"""The inbox table: one partition per recipient (`tenant#user`), one item per notification.

Keys: `sk` is the notification's ULID and never changes (it is part of the public id).
Two local secondary indexes give strongly consistent, newest-first pages in one Query:
`by_activity` on `act` (the ULID of the last activity: creation or an aggregation
bump) and the sparse `unread` on `unr` (present only while unread). Group pointers
(`sk = "g#<groupKey>"`) live in the same partition but carry neither index key, so
they never appear in a page.
"""
from __future__ import annotations

from typing import Any, Iterable

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, LocalSecondaryIndex

from chalicelib.store.attributes import CompactJSONAttribute
from chalicelib.store.base import BaseModel, connection, lazy_meta
from chalicelib.store.counters import Counter

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
    # TTL deletions arrive here (the expiry handler takes expired items off the counters), and every
    # change feeds the realtime push (chalicelib.domain.realtime), which needs both images.
    Meta.stream_view_type = "NEW_AND_OLD_IMAGES"

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


def copies(item: InboxItem, tenant: str, users: Iterable[str]) -> list[dict[str, Any]]:
    """`item` serialized once, then addressed to each user's inbox: the copies of one notification
    differ only in their key and tenant-index shard. (Building and serializing a model per
    recipient was a third of the fan-out's CPU.)"""
    raw = item.serialize()
    pk, shard = InboxItem.pk.attr_name, InboxItem.tsh.attr_name
    return [dict(raw, **{pk: {"S": inbox_key(tenant, user)}, shard: {"S": tenant_shard(tenant, user)}})
            for user in users]


def raw_key(raw: dict[str, Any]) -> str:
    """The inbox key of a serialized item."""
    return raw[InboxItem.pk.attr_name]["S"]


def put_new_counted(raw_items: list[dict[str, Any]]) -> None:
    """One TransactWriteItems: each serialized item put unless its key exists, and its inbox's
    counters ADDed (unread, total, version). Item i's put is action 2i and its counter action
    2i + 1, so a cancellation's reasons name the items that already existed (`failed_conditions`).
    Raises TransactWriteError as PynamoDB's own transactions do."""
    inbox, counters = InboxItem.Meta.table_name, Counter.Meta.table_name
    pk, sk = InboxItem.pk.attr_name, InboxItem.sk.attr_name
    absent = {"ConditionExpression": "attribute_not_exists(#sk)", "ExpressionAttributeNames": {"#sk": sk}}
    add = {"UpdateExpression": "ADD #u :one, #t :one, #v :one",
           "ExpressionAttributeNames": {"#u": Counter.unread.attr_name, "#t": Counter.total.attr_name,
                                        "#v": Counter.version.attr_name},
           "ExpressionAttributeValues": {":one": {"N": "1"}}}
    actions: list[dict[str, Any]] = []
    for raw in raw_items:
        actions.append({"Put": {"TableName": inbox, "Item": raw, **absent}})
        actions.append({"Update": {"TableName": counters, "Key": {Counter.pk.attr_name: raw[pk]}, **add}})
    try:
        connection().dispatch("TransactWriteItems", {"TransactItems": actions})
    except (BotoCoreError, ClientError) as exc:
        raise TransactWriteError("Failed to write transaction items", exc) from exc
