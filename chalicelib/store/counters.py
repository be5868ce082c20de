"""The counters table: one item per recipient holding the exact unread count.

It is only ever changed inside the same transaction that changes an inbox item's
read state, so it stays exact under retries and duplicate delivery.
"""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.store.base import BaseModel, lazy_meta


class Counter(BaseModel):
    Meta = lazy_meta("counters")

    pk = UnicodeAttribute(hash_key=True)
    unread = NumberAttribute(default=0)
    total = NumberAttribute(default=0)  # notifications in the inbox (for page counts)
    version = NumberAttribute(default=0)  # bumped by every change to the inbox (ETags)
    expires = TTLAttribute(null=True)  # only on expiry tombstones (`<inbox pk>#expired#<sk>`)


def tombstone_key(inbox_pk: str, sk: str) -> str:
    """Marks that an expired notification was already taken off its inbox's counters."""
    return f"{inbox_pk}#expired#{sk}"


def unread_count(pk: str) -> int:
    try:
        item = Counter.get(pk, consistent_read=True, attributes_to_get=["unread"])
    except Counter.DoesNotExist:
        return 0
    return max(0, int(item.unread or 0))


def version(pk: str) -> int:
    """How many changes the inbox has seen: an ETag that needs no Query to check."""
    try:
        item = Counter.get(pk, consistent_read=True, attributes_to_get=["version"])
    except Counter.DoesNotExist:
        return 0
    return int(item.version or 0)


def counts(pk: str) -> tuple[int, int]:
    """(unread, total) for one inbox, in one read."""
    try:
        item = Counter.get(pk, consistent_read=True)
    except Counter.DoesNotExist:
        return 0, 0
    return max(0, int(item.unread or 0)), max(0, int(item.total or 0))
