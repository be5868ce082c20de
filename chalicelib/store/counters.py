"""The counters table: one item per recipient holding the exact unread count.

Key patterns (`pk`, no sort key):
- an inbox's counters: the inbox's own key, `<tenant>#<user>` (`store.inbox.inbox_key`): unread, total,
  version (bumped by every change to the inbox: ETags).
- an expiry tombstone: `<inbox pk>\\x1fexpired\\x1f<notification sk>`, with a TTL: marks that an expired
  notification was already taken off its inbox's counters.
No index, no stream; TTL `expires` (tombstones only).

It is only ever changed inside the same transaction that changes an inbox item's
read state, so it stays exact under retries and duplicate delivery.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.store.base import BaseModel, connection, failed_conditions, get_or_none, lazy_meta, with_backoff

TOMBSTONE_TTL = timedelta(days=2)  # longer than a stream record lives (24 h)


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
    item = get_or_none(Counter, pk)
    if item is None:
        return InboxCounts(0, 0, 0)
    return InboxCounts(max(0, int(item.unread or 0)), max(0, int(item.total or 0)), int(item.version or 0))


def settle_expired(inbox_pk: str, sk: str, was_unread: bool) -> bool:
    """Take one TTL-deleted notification off its inbox's counters: a conditional tombstone and the
    counter update in one transaction, so a redelivered record changes nothing. False if already done."""
    actions = [Counter.total.add(-1), Counter.version.add(1)] + ([Counter.unread.add(-1)] if was_unread else [])
    marker = Counter(tombstone_key(inbox_pk, sk), expires=datetime.now(timezone.utc) + TOMBSTONE_TTL)

    def commit() -> None:
        with TransactWrite(connection=connection()) as tx:
            tx.save(marker, condition=Counter.pk.does_not_exist())
            tx.update(Counter(inbox_pk), actions=actions)

    try:
        with_backoff(commit)
    except TransactWriteError as exc:
        if 0 in failed_conditions(exc):  # the tombstone exists: settled already
            return False
        raise
    return True


BATCH_GET_KEYS = 100  # BatchGetItem's limit


def unread_counts(pks: list[str]) -> dict[str, int]:
    """Inbox key -> its unread count, for many inboxes: one consistent BatchGetItem per 100 (the realtime
    push reads the counts of every connected recipient of a stream batch at once)."""
    table = Counter.Meta.table_name
    client = connection().client
    out: dict[str, int] = {pk: 0 for pk in pks}
    for start in range(0, len(pks), BATCH_GET_KEYS):
        keys = [{Counter.pk.attr_name: {"S": pk}} for pk in pks[start:start + BATCH_GET_KEYS]]
        request = {table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = with_backoff(lambda: client.batch_get_item(RequestItems=request))
            for raw in response.get("Responses", {}).get(table, []):
                out[raw[Counter.pk.attr_name]["S"]] = max(0, int(raw.get(Counter.unread.attr_name, {}).get("N", "0")))
            request = response.get("UnprocessedKeys") or {}
    return out
