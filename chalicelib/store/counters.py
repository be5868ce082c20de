"""The counters table: one item per recipient holding the exact unread count.

It is only ever changed inside the same transaction that changes an inbox item's
read state, so it stays exact under retries and duplicate delivery.
"""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.store.base import BaseModel, lazy_meta


class Counter(BaseModel):
    Meta = lazy_meta("counters")

    pk = UnicodeAttribute(hash_key=True)
    unread = NumberAttribute(default=0)


def unread_count(pk: str) -> int:
    try:
        item = Counter.get(pk, consistent_read=True, attributes_to_get=["unread"])
    except Counter.DoesNotExist:
        return 0
    return max(0, int(item.unread or 0))


def add_action(pk: str, delta: int):
    """The update action that moves a recipient's unread count by `delta`."""
    return Counter(pk), [Counter.unread.add(delta)]
