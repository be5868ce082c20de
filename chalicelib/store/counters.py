"""The counters table: one item per recipient holding the exact unread count.

It is only ever changed inside the same transaction that changes an inbox item's
read state, so it stays exact under retries and duplicate delivery.
"""
from __future__ import annotations

from dataclasses import dataclass

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.store.base import BaseModel, lazy_meta


class Counter(BaseModel):
    Meta = lazy_meta("counters")

    pk = UnicodeAttribute(hash_key=True)
    unread = NumberAttribute(default=0)
    total = NumberAttribute(default=0)  # notifications in the inbox (for page counts)
    version = NumberAttribute(default=0)  # bumped by every change to the inbox (ETags)
    expires = TTLAttribute(null=True)  # only on expiry tombstones (`<inbox pk>\x1fexpired\x1f<sk>`)


def tombstone_key(inbox_pk: str, sk: str) -> str:
    """Marks that an expired notification was already taken off its inbox's counters."""
    # U+001F, which no user id may hold: `alice#expired#<sk>` could otherwise be a user's counter key.
    return f"{inbox_pk}\x1fexpired\x1f{sk}"


@dataclass(frozen=True)
class InboxCounts:
    unread: int
    total: int
    version: int  # how many changes the inbox has seen: an ETag that needs no Query to check


def read(pk: str) -> InboxCounts:
    """Every counter of one inbox, in one consistent GetItem."""
    try:
        item = Counter.get(pk, consistent_read=True)
    except Counter.DoesNotExist:
        return InboxCounts(0, 0, 0)
    return InboxCounts(max(0, int(item.unread or 0)), max(0, int(item.total or 0)), int(item.version or 0))


def unread_count(pk: str) -> int:
    return read(pk).unread


def version(pk: str) -> int:
    return read(pk).version


def counts(pk: str) -> tuple[int, int]:
    """(unread, total) for one inbox, in one read."""
    c = read(pk)
    return c.unread, c.total
