"""Page-number pagination ("page 3 of 9") over newest-first inbox indexes.

The inbox is keyed for cursors, but some dialects (Spark's `_page`, api3's `page`) ask
for a page by number. A page is found by walking the index in key order with a
keys-only projection (little data per skipped item), then reading just the page's
items in one BatchGet. Several sources (the 16 shards of the tenant index) are merged
by their common range key, the ULID of the last activity, so the merged order equals
one index's order. Skipping costs reads proportional to the offset, which the caller
bounds by the total it already knows (a counter or a COUNT query).
"""
from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Iterator

from pynamodb.expressions.condition import Condition

from chalicelib.domain import inbox
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.model import Notification
from chalicelib.domain.principal import Caller
from chalicelib.store import counters
from chalicelib.store.inbox import InboxItem, inbox_key, split_inbox_key

KEY_ATTRIBUTES = ["pk", "sk", "act"]
SCAN_PAGE = 500  # keys per Query page while skipping


@dataclass
class Source:
    """One ordered index partition: the `by_activity` LSI of one inbox or one shard of
    the `by_tenant` GSI. Both are ordered by `act`."""

    index: object  # InboxItem.by_activity | InboxItem.by_tenant
    hash_key: str
    consistent: bool


@dataclass
class NumberedPage:
    items: list[Notification]
    total: int
    page: int
    page_size: int

    @property
    def page_count(self) -> int:
        return math.ceil(self.total / self.page_size) if self.page_size else 0


def not_expired() -> Condition:
    now = datetime.now(timezone.utc)
    return InboxItem.expires.does_not_exist() | (InboxItem.expires > now)


def inbox_source(tenant: str, user: str) -> Source:
    return Source(InboxItem.by_activity, inbox_key(tenant, user), True)


def iterate_keys(sources: list[Source], *, range_condition: Condition | None = None,
                 filter_condition: Condition | None = None, ascending: bool = False,
                 full_items: bool = False, needed: int | None = None) -> Iterator[InboxItem]:
    """Items of every source merged in `act` order: keys only, or whole items. `needed` (how
    many items the caller will take at most) keeps each source's Query pages no larger."""
    page_size = min(SCAN_PAGE, max(1, needed)) if needed else SCAN_PAGE
    streams = []
    for source in sources:
        wanted = None if full_items else KEY_ATTRIBUTES + (["tsh"] if source.index is InboxItem.by_tenant else [])
        streams.append(source.index.query(  # type: ignore[attr-defined]
            source.hash_key, range_condition, filter_condition=filter_condition,
            consistent_read=source.consistent, scan_index_forward=ascending, page_size=page_size,
            attributes_to_get=wanted))
    if len(streams) == 1:
        return iter(streams[0])
    return heapq.merge(*streams, key=lambda item: item.act or "", reverse=not ascending)


def count(sources: list[Source], *, range_condition: Condition | None = None,
          filter_condition: Condition | None = None) -> int:
    return sum(source.index.count(source.hash_key, range_condition,  # type: ignore[attr-defined]
                                  filter_condition=filter_condition, consistent_read=source.consistent)
               for source in sources)


def load(keys: Iterable[InboxItem]) -> list[InboxItem]:
    """Full items for `keys`, in the order given (items deleted meanwhile are dropped)."""
    wanted = [(k.pk, k.sk) for k in keys]
    if not wanted:
        return []
    found: dict[tuple[str, str], InboxItem] = {}
    for start in range(0, len(wanted), 100):
        for item in InboxItem.batch_get(wanted[start:start + 100], consistent_read=True):
            found[(item.pk, item.sk)] = item
    return [found[k] for k in wanted if k in found]


def hydrate_many(tenant: str, items: list[InboxItem]) -> list[Notification]:
    """`inbox.hydrate` for items of several inboxes, keeping their order."""
    by_user: dict[str, list[InboxItem]] = {}
    for item in items:
        by_user.setdefault(split_inbox_key(item.pk)[1], []).append(item)
    views: dict[tuple[str, str], Notification] = {}
    for user, group in by_user.items():
        for item, view in zip(group, inbox.hydrate(tenant, user, group)):
            views[(item.pk, item.sk)] = view
    return [views[(i.pk, i.sk)] for i in items]


def check_page(page: int, page_size: int, total: int, *, field: str = "page") -> None:
    last = max(1, math.ceil(total / page_size)) if page_size else 1
    if page < 1 or page > last:
        raise InvalidInput("page_out_of_range", f"{field} must be between 1 and {last} (the page count)", field)


def slice_page(ordered: Iterator[InboxItem], page: int, page_size: int) -> list[InboxItem]:
    offset = (page - 1) * page_size
    return list(itertools.islice(ordered, offset, offset + page_size))


def inbox_page(caller: Caller, user_id: str, page: int, page_size: int, *,
               allow_beyond_last: bool = True) -> NumberedPage:
    """Page `page` (1-based) of an inbox, newest activity first. The total is the inbox's
    exact counter (one read); a page past the last is empty unless refused."""
    user = caller.resolve_user(user_id)
    if page < 1:
        raise InvalidInput("page_out_of_range", "page must be at least 1", "page")
    if page_size < 1:
        raise InvalidInput("invalid_limit", "page size must be at least 1", "limit")
    _, total = counters.counts(inbox_key(caller.tenant, user))
    if not allow_beyond_last:
        check_page(page, page_size, total)
    if (page - 1) * page_size >= total:
        return NumberedPage([], total, page, page_size)
    keys = slice_page(iterate_keys([inbox_source(caller.tenant, user)], filter_condition=not_expired(),
                                   needed=page * page_size), page, page_size)
    return NumberedPage(inbox.hydrate(caller.tenant, user, load(keys)), total, page, page_size)


def inbox_counts(caller: Caller, user_id: str) -> tuple[int, int]:
    """(unread, total) of an inbox: its exact counter, one read."""
    return counters.counts(inbox_key(caller.tenant, caller.resolve_user(user_id)))
