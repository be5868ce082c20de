"""Read state: marking notifications read or unread, and deleting them. The unread counter moves in
the same transaction as each item (`store.inbox`), so it stays exact under retries and races."""
from __future__ import annotations

import time

from chalicelib import ids
from chalicelib.domain.errors import NotFound
from chalicelib.domain.inbox import get, load
from chalicelib.domain.model import Notification
from chalicelib.domain.principal import Caller
from chalicelib.store import inbox as store

DELETE_ATTEMPTS = 5


def _now_ms() -> int:
    return int(time.time() * 1000)


def set_read(caller: Caller, notification_id: str, read: bool) -> Notification:
    item = load(caller, notification_id)
    if read and item.unr is not None:
        store.set_read_state([item], read=True, now_ms=_now_ms())
    elif not read and item.unr is None:
        store.set_read_state([item], read=False, now_ms=_now_ms())
    return get(caller, notification_id)


def mark_ids_read(caller: Caller, user_id: str, notification_ids: list[str]) -> int:
    """Mark the named notifications of one inbox read; returns how many were unread."""
    user = caller.resolve_user(user_id)
    sks = []
    for nid in dict.fromkeys(notification_ids):
        parsed = ids.parse_notification_id(nid)
        if parsed is None or parsed[0] != user:
            raise NotFound("notification_not_found", f"ids: no notification {nid!r} in this inbox", "ids")
        sks.append(parsed[1])
    return store.mark_read(caller.tenant, user, sks, _now_ms())


def mark_read_up_to(tenant: str, user: str, bound: str, limit: int) -> tuple[int, bool]:
    """Mark read up to `limit` unread items whose activity is at or before `bound` (a ULID).
    Returns (marked, done)."""
    return store.mark_read_up_to(tenant, user, bound, limit, _now_ms())


def delete(caller: Caller, notification_id: str) -> None:
    for _ in range(DELETE_ATTEMPTS):
        if store.delete(load(caller, notification_id)):  # read state changed meanwhile: read it again
            return
    raise NotFound("notification_not_found", "no notification with that id", "id")
