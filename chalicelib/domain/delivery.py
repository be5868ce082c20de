"""Writing notifications into inboxes exactly once, with the unread counter in step.

Each recipient costs one conditional Put (the item must not exist: its key is
deterministic, so a retried or duplicated write is refused rather than repeated)
and one counter ADD, in one transaction. Up to 50 recipients share a transaction
(100 actions, DynamoDB's limit; `DYNAMODB_TRANSACTION_LIMIT` lowers it). When some items already exist the transaction is
cancelled with a reason per action; those recipients are recorded as already
delivered and the rest are written again. An existing item is never overwritten,
so a retry never resets what a member already read.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Iterable

from chalicelib.settings import get_settings
from chalicelib.store import inbox as inbox_store
from chalicelib.store.inbox import InboxItem

log = logging.getLogger(__name__)

def ttl_datetime(epoch_seconds: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc) if epoch_seconds else None


def write_copies(item: InboxItem, tenant: str, users: Iterable[str]) -> dict[str, bool]:
    """Write one notification's copy into each user's inbox unless it is there (a broadcast chunk,
    a send to many: `item` is serialized once and readdressed). Returns inbox pk -> True (written
    now) / False (was there)."""
    return _write_serialized(inbox_store.copies(item, tenant, users))


def _write_serialized(raw_items: list[dict[str, Any]]) -> dict[str, bool]:
    """Transactions touch disjoint recipients, so they run concurrently (FANOUT_PARALLELISM)."""
    settings = get_settings()
    per_transaction = inbox_store.copies_per_transaction()
    batches = [raw_items[start:start + per_transaction] for start in range(0, len(raw_items), per_transaction)]
    outcome: dict[str, bool] = {}
    workers = min(settings.fanout_parallelism, len(batches))
    if workers <= 1:
        for batch in batches:
            outcome.update(_write_batch(batch))
        return outcome
    # Workers carry the caller's thread name (e.g. the stream poller's) for logs and fault tests.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=threading.current_thread().name) as pool:
        for result in pool.map(_write_batch, batches):
            outcome.update(result)
    return outcome


def _write_batch(items: list[dict[str, Any]]) -> dict[str, bool]:
    # `_commit` looked up at each call: the fault drill and the tests replace it on this module.
    return inbox_store.put_new_counted_once(items, commit=lambda batch: _commit(batch))


def _commit(raw_items: list[dict[str, Any]]) -> None:
    """One transaction of puts and counter updates (a seam the fault drill wraps from outside)."""
    inbox_store.put_new_counted(raw_items)
