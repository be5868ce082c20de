"""Keeping counters exact when DynamoDB's TTL deletes a notification.

TTL deletions bypass the transactions that move counters, so each one arrives on the inbox
stream and is settled here: a conditional tombstone and the counter update in one transaction,
so a redelivered record changes nothing the second time.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.store.base import connection, failed_conditions, with_backoff
from chalicelib.store.counters import Counter, tombstone_key

TOMBSTONE_TTL = timedelta(days=2)  # longer than a stream record lives (24 h)


def settle_expired(inbox_pk: str, sk: str, was_unread: bool) -> bool:
    """Take one TTL-deleted notification off its inbox's counters. False if already done."""
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
