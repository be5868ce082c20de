"""The inbox table: one partition per recipient, one item per notification.

Key patterns (`pk`, `sk`):
- a notification: `<tenant>#<user>` (`inbox_key`), its ULID. The sort key never changes (it is part
  of the public id); `act` is the ULID of the last activity (creation or an aggregation bump), `unr`
  a copy of it present only while unread, `tsh` its tenant-index shard.
- a group pointer: `<tenant>#<user>`, `g#<groupKey>`: `target` is the sk of the unread notification
  later sends with that group key fold into. It carries no index key, so it never appears in a page.
Indexes (all attributes projected):
- `by_activity` (LSI): range `act`: newest-first pages, strongly consistent.
- `unread` (LSI, sparse): range `unr`: only unread items.
- `by_tenant` (GSI): hash `tsh` = `<tenant>#<0..15>` (crc32 of the user), range `act`: every
  notification of a tenant, for admin listings; sharded so a large fan-out spreads its index writes.
Stream OLD_IMAGE (TTL deletions settle the counters); TTL `expires`.

Cursors of `page` hold the item's sk and index range key (`cursors`), never a raw key.
"""
from __future__ import annotations

import heapq
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition, size
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, LocalSecondaryIndex
from pynamodb.transactions import TransactWrite

from chalicelib import cursors, ids
from chalicelib.store.attributes import CompactJSONAttribute
from chalicelib.store.base import (BaseModel, adapt_transaction_limit, connection, failed_conditions, get_or_none,
                                   lazy_meta, transaction_cancelled, transaction_limit, with_backoff)
from chalicelib.store.counters import Counter

GROUP_PREFIX = "g#"


class ActivityIndex(LocalSecondaryIndex):
    class Meta:
        index_name = "by_activity"
        projection = AllProjection()

    pk = UnicodeAttribute(hash_key=True)
    act = UnicodeAttribute(range_key=True)


class UnreadIndex(LocalSecondaryIndex):
    class Meta:
        index_name = "unread"
        projection = AllProjection()

    pk = UnicodeAttribute(hash_key=True)
    unr = UnicodeAttribute(range_key=True)


class TenantIndex(GlobalSecondaryIndex):
    """Every notification of a tenant, newest activity first, for admin listings. The hash
    key is sharded (`tenant#0`..`tenant#15` by recipient) so a large fan-out spreads its
    index writes instead of throttling on one partition."""

    class Meta:
        index_name = "by_tenant"
        projection = AllProjection()

    tsh = UnicodeAttribute(hash_key=True)
    act = UnicodeAttribute(range_key=True)


TENANT_SHARDS = 16


def tenant_shard(tenant: str, user: str) -> str:
    return f"{tenant}#{zlib.crc32(user.encode()) % TENANT_SHARDS}"


def tenant_shards(tenant: str) -> list[str]:
    return [f"{tenant}#{i}" for i in range(TENANT_SHARDS)]


class InboxItem(BaseModel):
    Meta = lazy_meta("inbox")
    # TTL deletions arrive here (the expiry handler takes expired items off the counters), and every
    # change feeds the realtime push (chalicelib.domain.realtime), which needs both images.
    Meta.stream_view_type = "NEW_AND_OLD_IMAGES"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    act = UnicodeAttribute(null=True)
    unr = UnicodeAttribute(null=True)
    typ = UnicodeAttribute(null=True)
    pri = NumberAttribute(null=True)
    created = NumberAttribute(null=True)
    read_at = NumberAttribute(null=True)
    actor = UnicodeAttribute(null=True)
    senders = ListAttribute(of=UnicodeAttribute, null=True)
    md = MapAttribute(null=True)
    loc = MapAttribute(null=True)
    org = UnicodeAttribute(null=True)
    grp = UnicodeAttribute(null=True)
    body = CompactJSONAttribute(null=True)
    ref = UnicodeAttribute(null=True)
    bid = UnicodeAttribute(null=True)
    tsh = UnicodeAttribute(null=True)  # by_tenant index key (notifications only)
    target = UnicodeAttribute(null=True)  # group pointers: the sk they point at
    expires = TTLAttribute(null=True)

    by_activity = ActivityIndex()
    unread = UnreadIndex()
    by_tenant = TenantIndex()


def inbox_key(tenant: str, user: str) -> str:
    return f"{tenant}#{user}"


def split_inbox_key(pk: str) -> tuple[str, str]:
    tenant, _, user = pk.partition("#")
    return tenant, user


def group_sk(group_key: str) -> str:
    return GROUP_PREFIX + group_key


def copies(item: InboxItem, tenant: str, users: Iterable[str]) -> list[dict[str, Any]]:
    """`item` serialized once, then addressed to each user's inbox: the copies of one notification
    differ only in their key and tenant-index shard. (Building and serializing a model per
    recipient was a third of the fan-out's CPU.)"""
    raw = item.serialize()
    pk, shard = InboxItem.pk.attr_name, InboxItem.tsh.attr_name
    return [dict(raw, **{pk: {"S": inbox_key(tenant, user)}, shard: {"S": tenant_shard(tenant, user)}})
            for user in users]


def raw_key(raw: dict[str, Any]) -> str:
    """The inbox key of a serialized item."""
    return raw[InboxItem.pk.attr_name]["S"]


def copies_per_transaction() -> int:
    """Items one `put_new_counted` may hold: a put and a counter update each."""
    return transaction_limit() // 2


def put_new_counted_once(raw_items: list[dict[str, Any]], *,
                         commit: Callable[[list[dict[str, Any]]], None] | None = None) -> dict[str, bool]:
    """Write serialized items (at most `copies_per_transaction()`) unless they exist, each with its
    counters, in as few transactions as the cancellations allow: items found existing are left out
    and the rest written again. Returns inbox pk -> True (written now) / False (was there). `commit`
    (default `put_new_counted`) is one transaction; the delivery passes its own seam."""
    commit = commit or put_new_counted
    outcome: dict[str, bool] = {}
    pending = list(raw_items)
    while pending:
        try:
            with_backoff(lambda: commit(pending))
        except TransactWriteError as exc:
            if adapt_transaction_limit(exc):  # the engine takes fewer actions: write in smaller parts
                per_transaction = copies_per_transaction()
                for start in range(0, len(pending), per_transaction):
                    outcome.update(put_new_counted_once(pending[start:start + per_transaction], commit=commit))
                return outcome
            exists = {i // 2 for i in failed_conditions(exc)}  # item i is actions 2i (put) and 2i + 1
            if not exists:
                raise
            for index in sorted(exists):
                outcome[raw_key(pending[index])] = False
            pending = [item for index, item in enumerate(pending) if index not in exists]
            continue
        for item in pending:
            outcome[raw_key(item)] = True
        pending = []
    return outcome


def put_new_counted(raw_items: list[dict[str, Any]]) -> None:
    """One TransactWriteItems: each serialized item put unless its key exists, and its inbox's
    counters ADDed (unread, total, version). Item i's put is action 2i and its counter action
    2i + 1, so a cancellation's reasons name the items that already existed (`failed_conditions`).
    Raises TransactWriteError as PynamoDB's own transactions do."""
    inbox, counters = InboxItem.Meta.table_name, Counter.Meta.table_name
    pk, sk = InboxItem.pk.attr_name, InboxItem.sk.attr_name
    absent = {"ConditionExpression": "attribute_not_exists(#sk)", "ExpressionAttributeNames": {"#sk": sk}}
    add = {"UpdateExpression": "ADD #u :one, #t :one, #v :one",
           "ExpressionAttributeNames": {"#u": Counter.unread.attr_name, "#t": Counter.total.attr_name,
                                        "#v": Counter.version.attr_name},
           "ExpressionAttributeValues": {":one": {"N": "1"}}}
    actions: list[dict[str, Any]] = []
    for raw in raw_items:
        actions.append({"Put": {"TableName": inbox, "Item": raw, **absent}})
        actions.append({"Update": {"TableName": counters, "Key": {Counter.pk.attr_name: raw[pk]}, **add}})
    try:
        connection().dispatch("TransactWriteItems", {"TransactItems": actions})
    except (BotoCoreError, ClientError) as exc:
        raise TransactWriteError("Failed to write transaction items", exc) from exc


# ---- one item -----------------------------------------------------------------------------------

def new_notification(tenant: str, recipient: str, sk: str, *, type_name: str, priority: int, actor: str | None,
                     metadata: dict[str, Any] | None, location: dict[str, Any] | None,
                     organization_id: str | None, group_key: str | None, body: dict[str, Any] | None,
                     ref: str | None, broadcast_id: str | None, expires: datetime | None) -> InboxItem:
    """A new, unread notification (not yet written)."""
    return InboxItem(
        inbox_key(tenant, recipient), sk, act=sk, unr=sk, tsh=tenant_shard(tenant, recipient), typ=type_name,
        pri=priority, created=ids.ulid_time_ms(sk), actor=actor, senders=[actor] if actor else None, md=metadata or None,
        loc=location or None, org=organization_id, grp=group_key, body=body, ref=ref, bid=broadcast_id,
        expires=expires)


def get(tenant: str, user: str, sk: str) -> InboxItem | None:
    """A live notification (None when missing, a group pointer, or expired)."""
    item = get_or_none(InboxItem, inbox_key(tenant, user), sk)
    if item is None or item.act is None or is_expired(item):
        return None
    return item


def is_expired(item: InboxItem) -> bool:
    """TTL deletion can lag by days: an expired item is gone for every read."""
    return item.expires is not None and item.expires.timestamp() <= time.time()


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


# ---- cursor pages -------------------------------------------------------------------------------

@dataclass
class ItemFilter:
    """What a listing narrows to, besides read state and time."""

    read_only: bool = False
    type_name: str | None = None
    priority: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    location: dict[str, Any] | None = None
    organization_id: str | None = None

    @property
    def narrows(self) -> bool:
        return bool(self.read_only or self.type_name or self.priority or self.metadata or self.location
                    or self.organization_id)


def not_expired() -> Condition:
    return InboxItem.expires.does_not_exist() | (InboxItem.expires > datetime.now(timezone.utc))


def _filter_condition(flt: ItemFilter) -> Condition:
    cond = not_expired()
    if flt.read_only:
        cond &= InboxItem.unr.does_not_exist()
    if flt.type_name:
        cond &= InboxItem.typ == flt.type_name
    if flt.priority:
        cond &= InboxItem.pri == int(flt.priority)
    for key, value in (flt.metadata or {}).items():
        cond &= InboxItem.md[key] == value
    if flt.location is not None:
        for key, value in flt.location.items():
            cond &= InboxItem.loc[key] == value
        cond &= size(InboxItem.loc) == len(flt.location) if flt.location else InboxItem.loc.does_not_exist()
    if flt.organization_id:
        cond &= InboxItem.org == flt.organization_id
    return cond


def _page_cursor(index: str, item: InboxItem) -> str:
    return cursors.encode({"i": index, "s": item.sk, "r": item.unr if index == "unread" else item.act})


def _start_key(cursor: str, index: str, pk: str) -> dict[str, Any]:
    data = cursors.decode(cursor)
    if (not isinstance(data, dict) or data.get("i") != index or not isinstance(data.get("s"), str)
            or not isinstance(data.get("r"), str)):
        raise cursors.InvalidCursor("not a cursor of this listing")
    range_attr = "unr" if index == "unread" else "act"
    return {"pk": {"S": pk}, "sk": {"S": data["s"]}, range_attr: {"S": data["r"]}}


def page(tenant: str, user: str, *, unread_only: bool, lower: str | None, upper: str | None, flt: ItemFilter,
         limit: int, budget: int, cursor: str | None) -> tuple[list[InboxItem], str | None]:
    """One Query, newest activity first, on the unread index or the activity index: up to `limit` items
    whose activity is within [lower, upper] (ULIDs) and the next page's cursor. A narrowing filter reads
    at most `budget` items (the page may then be short, with a cursor). Raises cursors.InvalidCursor."""
    pk = inbox_key(tenant, user)
    index = "unread" if unread_only else "by_activity"
    model_index = InboxItem.unread if unread_only else InboxItem.by_activity
    range_attr = InboxItem.unr if unread_only else InboxItem.act
    range_cond = None
    if lower and upper:
        range_cond = range_attr.between(lower, upper)
    elif lower:
        range_cond = range_attr >= lower
    elif upper:
        range_cond = range_attr <= upper
    start = _start_key(cursor, index, pk) if cursor else None
    results = model_index.query(pk, range_cond, filter_condition=_filter_condition(flt), scan_index_forward=False,
                                consistent_read=True, page_size=budget, last_evaluated_key=start)
    raw_page = next(results.page_iter)
    items = [InboxItem.from_raw_data(raw) for raw in raw_page.get("Items", [])]
    last = raw_page.get("LastEvaluatedKey")
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = _page_cursor(index, items[-1])
    elif last is not None:
        if items and not flt.narrows:
            next_cursor = _page_cursor(index, items[-1])
        else:
            next_cursor = _page_cursor(index, InboxItem.from_raw_data(last))
    return items, next_cursor


# ---- ordered walks for page numbers (one inbox, or the tenant index's shards) ---------------------

KEY_ATTRIBUTES = ["pk", "sk", "act"]
SCAN_PAGE = 500  # keys per Query page while skipping


@dataclass
class Source:
    """One ordered index partition: the `by_activity` LSI of one inbox or one shard of the
    `by_tenant` GSI. Both are ordered by `act`."""

    index: Any  # InboxItem.by_activity | InboxItem.by_tenant
    hash_key: str
    consistent: bool


def inbox_source(tenant: str, user: str) -> Source:
    return Source(InboxItem.by_activity, inbox_key(tenant, user), True)


def tenant_sources(tenant: str) -> list[Source]:
    return [Source(InboxItem.by_tenant, shard, False) for shard in tenant_shards(tenant)]


@dataclass
class Narrowing:
    """An admin listing's conditions: activity on one day, read on one day, a campaign, a type."""

    started: tuple[str, str] | None = None  # ULID bounds of the activity
    completed_ms: tuple[int, int] | None = None  # read between (epoch ms, inclusive)
    campaign_id: str | None = None
    type_name: str | None = None

    def range_condition(self) -> Condition | None:
        return InboxItem.act.between(*self.started) if self.started else None

    def filter_condition(self) -> Condition:
        cond = not_expired()
        if self.completed_ms is not None:
            cond &= InboxItem.unr.does_not_exist() & InboxItem.read_at.between(*self.completed_ms)
        if self.campaign_id:
            cond &= (InboxItem.bid == self.campaign_id) | (InboxItem.md["campaign_id"] == self.campaign_id)
        if self.type_name:
            cond &= InboxItem.typ == self.type_name
        return cond


def iterate(sources: list[Source], narrowing: Narrowing | None = None, *, ascending: bool = False,
            full_items: bool = False, needed: int | None = None) -> Iterator[InboxItem]:
    """Live items of every source merged in `act` order: keys only, or whole items. `needed` (how
    many items the caller will take at most) keeps each source's Query pages no larger."""
    narrowing = narrowing or Narrowing()
    page_size = min(SCAN_PAGE, max(1, needed)) if needed else SCAN_PAGE
    streams = []
    for source in sources:
        wanted = None if full_items else KEY_ATTRIBUTES + (["tsh"] if source.index is InboxItem.by_tenant else [])
        streams.append(source.index.query(
            source.hash_key, narrowing.range_condition(), filter_condition=narrowing.filter_condition(),
            consistent_read=source.consistent, scan_index_forward=ascending, page_size=page_size,
            attributes_to_get=wanted))
    if len(streams) == 1:
        return iter(streams[0])
    return heapq.merge(*streams, key=lambda item: item.act or "", reverse=not ascending)


def count(sources: list[Source], narrowing: Narrowing | None = None) -> int:
    narrowing = narrowing or Narrowing()
    return sum(source.index.count(source.hash_key, narrowing.range_condition(),
                                  filter_condition=narrowing.filter_condition(), consistent_read=source.consistent)
               for source in sources)


# ---- read state and deletion (the counters move in the same transaction) --------------------------

def items_per_read_transaction() -> int:
    """Item updates per transaction, plus one counter update (DynamoDB allows 100 actions)."""
    return transaction_limit() - 1


def set_read_state(items: list[InboxItem], *, read: bool, now_ms: int) -> int:
    """Flip the read state of items (all of one inbox, at most `items_per_read_transaction()`), each
    conditionally, with the unread counter; returns how many changed (items already so are skipped)."""
    pending = list(items)
    changed = 0
    while pending:
        try:
            with_backoff(lambda: _commit_read_state(pending, read, now_ms))
            changed += len(pending)
            break
        except TransactWriteError as exc:
            if adapt_transaction_limit(exc):  # the engine takes fewer actions: smaller parts
                step = items_per_read_transaction()
                return changed + sum(set_read_state(pending[i:i + step], read=read, now_ms=now_ms)
                                     for i in range(0, len(pending), step))
            failed = failed_conditions(exc)
            if not failed:
                raise
            pending = [it for i, it in enumerate(pending) if i not in failed]
    return changed


def _commit_read_state(items: list[InboxItem], read: bool, now: int) -> None:
    with TransactWrite(connection=connection()) as tx:
        for item in items:
            if read:
                tx.update(InboxItem(item.pk, item.sk),
                          actions=[InboxItem.read_at.set(now), InboxItem.unr.remove()],
                          condition=InboxItem.unr.exists())
            else:
                tx.update(InboxItem(item.pk, item.sk),
                          actions=[InboxItem.unr.set(item.act), InboxItem.read_at.remove()],
                          condition=InboxItem.act.exists() & InboxItem.unr.does_not_exist())
        tx.update(Counter(items[0].pk),
                  actions=[Counter.unread.add(-len(items) if read else len(items)), Counter.version.add(1)])


def mark_read(tenant: str, user: str, sks: list[str], now_ms: int) -> int:
    """Mark the named items of one inbox read; returns how many were unread."""
    pk = inbox_key(tenant, user)
    items = [InboxItem(pk, sk) for sk in sks]
    step = items_per_read_transaction()
    return sum(set_read_state(items[start:start + step], read=True, now_ms=now_ms)
               for start in range(0, len(items), step))


def mark_read_up_to(tenant: str, user: str, bound: str, limit: int, now_ms: int) -> tuple[int, bool]:
    """Mark read up to `limit` unread items whose activity is at or before `bound` (a ULID), oldest
    first. Returns (marked, done: none of them is left)."""
    pk = inbox_key(tenant, user)
    marked = 0
    while marked < limit:
        take = min(items_per_read_transaction(), limit - marked)
        batch = list(InboxItem.unread.query(pk, InboxItem.unr <= bound, scan_index_forward=True,
                                            consistent_read=True, limit=take, page_size=take,
                                            attributes_to_get=["pk", "sk", "act", "unr"]))
        if not batch:
            return marked, True
        marked += set_read_state(batch, read=True, now_ms=now_ms)
        if len(batch) < take:
            return marked, True
    return marked, False


def delete(item: InboxItem) -> bool:
    """Delete a notification and take it off the counters, conditional on the read state `item`
    holds; False when that changed meanwhile (read it again and retry)."""
    def commit() -> None:
        with TransactWrite(connection=connection()) as tx:
            if item.unr is not None:
                tx.delete(InboxItem(item.pk, item.sk), condition=InboxItem.unr.exists())
                tx.update(Counter(item.pk), actions=[Counter.unread.add(-1), Counter.total.add(-1),
                                                     Counter.version.add(1)])
            else:
                tx.delete(InboxItem(item.pk, item.sk), condition=InboxItem.act.exists() & InboxItem.unr.does_not_exist())
                tx.update(Counter(item.pk), actions=[Counter.total.add(-1), Counter.version.add(1)])

    try:
        with_backoff(commit)
    except TransactWriteError as exc:
        if transaction_cancelled(exc):
            return False
        raise
    return True


# ---- group keys (aggregation) -------------------------------------------------------------------

def group_target(tenant: str, user: str, group_key: str) -> str | None:
    """The sk the user's group pointer names, if any."""
    pointer = get_or_none(InboxItem, inbox_key(tenant, user), group_sk(group_key))
    return pointer.target if pointer is not None else None


def point_group(tenant: str, user: str, group_key: str, sk: str) -> None:
    InboxItem(inbox_key(tenant, user), group_sk(group_key), target=sk).save()


def bump(tenant: str, user: str, target: str, sk: str, actor: str | None) -> bool:
    """Fold a send (`sk`) into the unread notification `target`: its activity moves to `sk`, `actor`
    joins its senders, the inbox's version moves. False when `target` is gone, read, or newer."""
    pk = inbox_key(tenant, user)
    actions = [InboxItem.act.set(sk), InboxItem.unr.set(sk)]
    if actor:
        current = get_or_none(InboxItem, pk, target, attributes_to_get=["pk", "sk", "senders"])
        if current is None:
            return False
        if actor not in (current.senders or []):
            actions.append(InboxItem.senders.set((InboxItem.senders | []).append([actor])))

    def commit() -> None:
        with TransactWrite(connection=connection()) as tx:
            tx.update(InboxItem(pk, target), actions=actions, condition=InboxItem.unr.exists() & (InboxItem.act < sk))
            tx.update(Counter(pk), actions=[Counter.version.add(1)])

    try:
        with_backoff(commit)
    except TransactWriteError as exc:
        if 0 in failed_conditions(exc):  # no longer unread (or newer): start a new item
            return False
        raise
    return True
