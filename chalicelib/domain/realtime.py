"""Realtime push: inbox stream records in, one message per change on each of the user's open sockets.

Fed by the inbox table's stream (NEW_AND_OLD_IMAGES): on AWS by the `push` function's event source
mapping, under `notifications dev` by the local stream poller, in tests directly. Per batch:

1. each record becomes a change of one inbox (created, updated, deleted, reset); group pointers and
   writes that changed nothing are dropped;
2. the sockets of every user concerned are read at once (one BatchGetItem per 100 users); users with
   none cost nothing more;
3. a user with more than `coalesce_threshold` changes in the batch (a mark-all-read, a burst) gets one
   `inbox.reset` instead; everyone else one message per change, each with the unread count read after
   the change (one BatchGetItem per 100 users) and, for a created or aggregated item, its native view:
   the views of the whole batch are hydrated together, a tenant at a time, so the profiles they name are
   read at once (one BatchGetItem per 100 profiles), not once per connected recipient;
4. the messages are posted with bounded concurrency; a socket that is gone is dropped from the table;
   any other failure reports that user's records as failed (partial batch response), so the stream
   retries from there while every other user's pushes stand.

Messages reach only sockets registered under the record's own inbox key (tenant + user): the
connections table is keyed exactly as the inbox is, so no other user or tenant can be addressed.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from chalicelib import ids, sockets
from chalicelib.domain.inbox import hydrate_many
from chalicelib.domain.model import Notification
from chalicelib.logs import log_batch
from chalicelib.settings import get_realtime_settings
from chalicelib.store import connections, counters
from chalicelib.store.inbox import GROUP_PREFIX, InboxItem, is_expired, split_inbox_key

log = logging.getLogger(__name__)

CREATED, UPDATED, DELETED, RESET = "notification.created", "notification.updated", "notification.deleted", \
    "inbox.reset"
TTL_PRINCIPAL = "dynamodb.amazonaws.com"


@dataclass
class Change:
    """One change of one inbox, from one stream record."""

    kind: str
    sequence: str
    sk: str | None = None
    read: bool | None = None
    image: dict[str, Any] | None = None  # created, or an aggregation bump: the item after the change

    @property
    def item(self) -> InboxItem | None:
        """The item, deserialized only for users with a socket (most recipients of a broadcast have none)."""
        return InboxItem.from_raw_data(self.image) if self.image is not None else None


@dataclass
class UserBatch:
    tenant: str
    user: str
    changes: list[Change] = field(default_factory=list)


def change_of(record: dict[str, Any]) -> Change | None:
    """The change a stream record means to the inbox's owner, or None for nothing they can see."""
    data = record.get("dynamodb") or {}
    keys = data.get("Keys") or {}
    sk = (keys.get("sk") or {}).get("S")
    sequence = data.get("SequenceNumber", "")
    if not sk or sk.startswith(GROUP_PREFIX):
        return None  # group pointers are bookkeeping
    event = record.get("eventName")
    new, old = data.get("NewImage") or {}, data.get("OldImage") or {}
    if event == "INSERT" and "act" in new:
        return Change(CREATED, sequence, sk, read="unr" not in new, image=new)
    if event == "MODIFY" and "act" in new:
        if old == new:
            return None  # a write that changed nothing (moto emits these)
        if old.get("act") != new.get("act"):  # aggregated: a new sender, back to unread and to the top
            return Change(UPDATED, sequence, sk, read="unr" not in new, image=new)
        if ("unr" in old) != ("unr" in new):
            return Change(UPDATED, sequence, sk, read="unr" not in new)
        return None
    if event == "REMOVE" and "act" in old:
        identity = record.get("userIdentity") or {}
        if identity.get("type") == "Service" and identity.get("principalId") == TTL_PRINCIPAL:
            return Change(RESET, sequence)  # expiry: counters are settled by the expiry function
        return Change(DELETED, sequence, sk)
    return None


def group_by_user(records: list[dict[str, Any]]) -> dict[str, UserBatch]:
    """Inbox key -> that inbox's changes, in stream order."""
    out: dict[str, UserBatch] = {}
    for record in records:
        change = change_of(record)
        if change is None:
            continue
        pk = record["dynamodb"]["Keys"]["pk"]["S"]
        tenant, user = split_inbox_key(pk)
        out.setdefault(pk, UserBatch(tenant, user)).changes.append(change)
    return out


Shape = Callable[[Notification], dict[str, Any]]


def coalesced(batch: UserBatch, threshold: int) -> bool:
    """Whether this user gets one `inbox.reset` for the batch instead of one message per change."""
    return len(batch.changes) > threshold or any(c.kind == RESET for c in batch.changes)


def visible_items(batch: UserBatch) -> list[tuple[str, InboxItem]]:
    """(sk, item) of the changes that carry a view (created, aggregated) and have not expired."""
    return [(c.sk or "", item) for c in batch.changes if (item := c.item) is not None and not is_expired(item)]


def views_of(batches: list[UserBatch], shape: Shape) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(tenant, user) -> sk -> native view, for every visible item of these batches: hydrated a tenant at a
    time, so the bodies and profiles of the whole stream batch are read together, not once per user."""
    by_tenant: dict[str, list[tuple[UserBatch, list[tuple[str, InboxItem]]]]] = {}
    for batch in batches:
        if items := visible_items(batch):
            by_tenant.setdefault(batch.tenant, []).append((batch, items))
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for tenant, entries in by_tenant.items():
        hydrated = hydrate_many(tenant, [(b.user, [item for _, item in items]) for b, items in entries])
        for (batch, items), notifications in zip(entries, hydrated):
            out[(batch.tenant, batch.user)] = {sk: shape(n) for (sk, _), n in zip(items, notifications)}
    return out


def messages_for(batch: UserBatch, unread: int, threshold: int,
                 views: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages one user's sockets get for this batch; `views` is sk -> native view (`views_of`)."""
    if coalesced(batch, threshold):
        return [{"event": RESET, "unreadCount": unread}]
    out: list[dict[str, Any]] = []
    for change in batch.changes:
        nid = ids.notification_id(batch.user, change.sk or "")
        if change.kind == CREATED:
            if change.sk in views:
                out.append({"event": CREATED, "notification": views[change.sk], "unreadCount": unread})
        elif change.kind == UPDATED:
            message = {"event": UPDATED, "id": nid, "read": change.read, "unreadCount": unread}
            if change.sk in views:
                message["notification"] = views[change.sk]
            out.append(message)
        elif change.kind == DELETED:
            out.append({"event": DELETED, "id": nid, "unreadCount": unread})
    return out


@dataclass
class PushOutcome:
    """What one batch did: for the logs, the tests and the benchmarks."""

    users: int = 0
    connected_users: int = 0
    posted: int = 0
    gone: int = 0
    failed_users: int = 0
    failures: list[str] = field(default_factory=list)  # sequence numbers to report

    def response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": s} for s in self.failures]}


def push_records(records: list[dict[str, Any]], shape: Shape, encode: Callable[[dict[str, Any]], bytes]) -> PushOutcome:
    """Push one stream batch (see the module docstring). Raises only if the tables cannot be read,
    in which case the whole batch is retried."""
    settings = get_realtime_settings()
    outcome = PushOutcome()
    batches = group_by_user(records)
    outcome.users = len(batches)
    if not batches:
        return outcome
    sockets_of = connections.connections_of([(b.tenant, b.user) for b in batches.values()])
    connected = {pk: b for pk, b in batches.items() if (b.tenant, b.user) in sockets_of}
    outcome.connected_users = len(connected)
    if not connected:
        return outcome
    counts = counters.unread_counts(list(connected))
    views = views_of([b for b in connected.values() if not coalesced(b, settings.coalesce_threshold)], shape)
    posts: list[tuple[str, str, bytes]] = []  # (inbox key, connection id, data)
    for pk, batch in connected.items():
        for message in messages_for(batch, counts.get(pk, 0), settings.coalesce_threshold,
                                    views.get((batch.tenant, batch.user), {})):
            data = encode(message)
            posts.extend((pk, cid, data) for cid in sockets_of[(batch.tenant, batch.user)])
    gone: dict[str, set[str]] = {}
    failed: set[str] = set()
    poster = sockets.poster()

    def post(entry: tuple[str, str, bytes]) -> None:
        pk, cid, data = entry
        try:
            poster.post(cid, data)
        except sockets.ConnectionGone:
            gone.setdefault(pk, set()).add(cid)
        except Exception:  # noqa: BLE001 - reported as this user's failure; other users' pushes stand
            log.exception("push to a connection failed")
            failed.add(pk)

    workers = min(settings.push_concurrency, len(posts))
    if workers <= 1:
        for entry in posts:
            post(entry)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push") as pool:
            list(pool.map(post, posts))
    outcome.posted = len(posts) - sum(len(v) for v in gone.values())
    for pk, cids in gone.items():
        batch = connected[pk]
        outcome.gone += len(cids)
        connections.drop_connections(batch.tenant, batch.user, cids)
    outcome.failed_users = len(failed)
    outcome.failures = [c.sequence for pk in failed for c in connected[pk].changes]
    return outcome


def timed_push(records: list[dict[str, Any]], shape: Shape, encode: Callable[[dict[str, Any]], bytes]) -> dict[str, Any]:
    """push_records as a stream handler: partial batch failures out; an error reading the tables fails
    the whole batch (retried by the event source). Ends with one log line for the batch, as every
    stream and queue handler does."""
    started = time.perf_counter()
    try:
        outcome = push_records(records, shape, encode)
    except Exception:  # noqa: BLE001 - the event source retries the batch
        log.exception("push batch failed")
        response = {"batchItemFailures": [{"itemIdentifier": r.get("dynamodb", {}).get("SequenceNumber")}
                                          for r in records]}
    else:
        log.debug("push: %d users (%d connected), %d posted, %d gone, %d failed", outcome.users,
                  outcome.connected_users, outcome.posted, outcome.gone, outcome.failed_users)
        response = outcome.response()
    failed = len(response["batchItemFailures"])
    log_batch("push", records=len(records), failed=failed, outcome="retry" if failed else "ok",
              latency_ms=(time.perf_counter() - started) * 1000)
    return response
