"""Keeping counters exact when DynamoDB's TTL deletes a notification.

TTL deletions bypass the transactions that move counters, so each one arrives on the inbox
stream and is settled here: a conditional tombstone and the counter update in one transaction
(`store.counters.settle_expired`), so a redelivered record changes nothing the second time.
"""
from __future__ import annotations

from chalicelib.store import counters


def settle_expired(inbox_pk: str, sk: str, was_unread: bool) -> bool:
    """Take one TTL-deleted notification off its inbox's counters. False if already done."""
    return counters.settle_expired(inbox_pk, sk, was_unread)
