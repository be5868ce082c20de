"""Page-number pagination ("page 3 of 9") over newest-first inbox indexes.

The inbox is keyed for cursors, but some dialects (Spark's `_page`, api3's `page`) ask
for a page by number. A page is found by walking the index in key order with a
keys-only projection (little data per skipped item, `store.inbox.iterate`), then reading
just the page's items in one BatchGet. Several sources (the 16 shards of the tenant index)
are merged by their common range key, the ULID of the last activity, so the merged order
equals one index's order. Skipping costs reads proportional to the offset, which the caller
bounds by the total it already knows (a counter or a COUNT query).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterator

from chalicelib.domain import inbox
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.model import Notification
from chalicelib.domain.principal import Caller
from chalicelib.store import counters
from chalicelib.store import inbox as store
from chalicelib.store.inbox import InboxItem


@dataclass
class NumberedPage:
    items: list[Notification]
    total: int
    page: int
    page_size: int

    @property
    def page_count(self) -> int:
        return math.ceil(self.total / self.page_size) if self.page_size else 0


def hydrate_many(tenant: str, items: list[InboxItem]) -> list[Notification]:
    """`inbox.hydrate` for items of several inboxes, keeping their order."""
    by_user: dict[str, list[InboxItem]] = {}
    for item in items:
        by_user.setdefault(store.split_inbox_key(item.pk)[1], []).append(item)
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
    total = counters.read(store.inbox_key(caller.tenant, user)).total
    if not allow_beyond_last:
        check_page(page, page_size, total)
    if (page - 1) * page_size >= total:
        return NumberedPage([], total, page, page_size)
    keys = slice_page(store.iterate([store.inbox_source(caller.tenant, user)], needed=page * page_size),
                      page, page_size)
    return NumberedPage(inbox.hydrate(caller.tenant, user, store.load(keys)), total, page, page_size)
