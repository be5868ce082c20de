"""Reading an inbox and changing read state; the unread counter moves in the same transaction."""
from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition, size
from pynamodb.transactions import TransactWrite

from chalicelib import ids
from chalicelib.domain import directory
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.markdown import render_html
from chalicelib.domain.model import Content, Notification, Page, Priority
from chalicelib.domain.principal import Caller
from chalicelib.domain.templates import render_header
from chalicelib.store import broadcasts as broadcast_store
from chalicelib.store import counters
from chalicelib.store.base import (adapt_transaction_limit, connection, failed_conditions, transaction_limit,
                                    with_backoff)
from chalicelib.store.counters import Counter
from chalicelib.store.inbox import InboxItem, inbox_key

MAX_PAGE = 100
FILTERED_PAGE_BUDGET = 200  # items one filtered Query may evaluate


def items_per_read_transaction() -> int:
    """Item updates per transaction, plus one counter update (DynamoDB allows 100 actions)."""
    return transaction_limit() - 1


@dataclass
class ListQuery:
    status: str = "all"  # all | unread | read
    type: str | None = None
    priority: Priority | None = None
    since: int | None = None  # epoch ms, inclusive
    before: int | None = None  # epoch ms, exclusive
    metadata: dict[str, Any] = field(default_factory=dict)
    location: dict[str, Any] | None = None
    organization_id: str | None = None
    limit: int = 20
    cursor: str | None = None

    @property
    def filtered(self) -> bool:
        return bool(self.status == "read" or self.type or self.priority or self.metadata or self.location
                    or self.organization_id)


def _now_ms() -> int:
    return int(time.time() * 1000)


# ---- cursors ----------------------------------------------------------------------------------

def _encode_cursor(index: str, item: InboxItem) -> str:
    value = item.unr if index == "unread" else item.act
    raw = json.dumps({"i": index, "s": item.sk, "r": value}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, index: str, pk: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["i"] != index or not isinstance(data["s"], str) or not isinstance(data["r"], str):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("invalid_cursor", "cursor is not one this listing returned (filters must not change "
                                             "between pages)", "cursor") from None
    range_attr = "unr" if index == "unread" else "act"
    return {"pk": {"S": pk}, "sk": {"S": data["s"]}, range_attr: {"S": data["r"]}}


# ---- reading ----------------------------------------------------------------------------------

def list_page(caller: Caller, user_id: str, query: ListQuery) -> Page:
    """One page, newest activity first, in one Query whatever the inbox size."""
    user = caller.resolve_user(user_id)
    if not 1 <= query.limit <= MAX_PAGE:
        raise InvalidInput("invalid_limit", f"limit must be between 1 and {MAX_PAGE}", "limit")
    if query.status not in ("all", "unread", "read"):
        raise InvalidInput("invalid_status", "status must be unread, read or all", "status")
    pk = inbox_key(caller.tenant, user)
    use_unread = query.status == "unread"
    index = "unread" if use_unread else "by_activity"
    model_index = InboxItem.unread if use_unread else InboxItem.by_activity
    range_attr = InboxItem.unr if use_unread else InboxItem.act
    range_cond = None
    lo = ids.ulid_bound(query.since, upper=False) if query.since is not None else None
    hi = ids.ulid_bound(query.before - 1, upper=True) if query.before is not None else None
    if lo and hi:
        range_cond = range_attr.between(lo, hi)
    elif lo:
        range_cond = range_attr >= lo
    elif hi:
        range_cond = range_attr <= hi
    start = _decode_cursor(query.cursor, index, pk) if query.cursor else None
    budget = FILTERED_PAGE_BUDGET if query.filtered else query.limit + 1
    results = model_index.query(
        pk, range_cond, filter_condition=_filter(query), scan_index_forward=False, consistent_read=True,
        page_size=budget, last_evaluated_key=start,
    )
    raw_page = next(results.page_iter)
    items = [InboxItem.from_raw_data(raw) for raw in raw_page.get("Items", [])]
    more = raw_page.get("LastEvaluatedKey") is not None
    cursor = None
    if len(items) > query.limit:
        items = items[: query.limit]
        cursor = _encode_cursor(index, items[-1])
    elif more:
        last = raw_page["LastEvaluatedKey"]
        if items and not query.filtered:
            cursor = _encode_cursor(index, items[-1])
        else:
            cursor = _encode_cursor(index, InboxItem.from_raw_data(last))
    return Page(items=hydrate(caller.tenant, user, items), cursor=cursor)


def _filter(query: ListQuery) -> Condition | None:
    now = datetime.now(timezone.utc)
    cond: Condition = InboxItem.expires.does_not_exist() | (InboxItem.expires > now)
    if query.status == "read":
        cond &= InboxItem.unr.does_not_exist()
    if query.type:
        cond &= InboxItem.typ == query.type
    if query.priority:
        cond &= InboxItem.pri == int(query.priority)
    for key, value in (query.metadata or {}).items():
        cond &= InboxItem.md[key] == value
    if query.location is not None:
        for key, value in query.location.items():
            cond &= InboxItem.loc[key] == value
        cond &= size(InboxItem.loc) == len(query.location) if query.location else InboxItem.loc.does_not_exist()
    if query.organization_id:
        cond &= InboxItem.org == query.organization_id
    return cond


def get(caller: Caller, notification_id: str) -> Notification:
    item = _load(caller, notification_id)
    tenant, user = caller.tenant, item.pk.partition("#")[2]
    return hydrate(tenant, user, [item])[0]


def _locate(caller: Caller, notification_id: str) -> tuple[str, str]:
    parsed = ids.parse_notification_id(notification_id)
    if parsed is None:
        raise NotFound("notification_not_found", "no notification with that id", "id")
    user, sk = parsed
    if caller.user is not None and caller.user != user:
        raise NotFound("notification_not_found", "no notification with that id", "id")
    return user, sk


def _load(caller: Caller, notification_id: str) -> InboxItem:
    user, sk = _locate(caller, notification_id)
    try:
        item = InboxItem.get(inbox_key(caller.tenant, user), sk, consistent_read=True)
    except InboxItem.DoesNotExist:
        raise NotFound("notification_not_found", "no notification with that id", "id") from None
    if item.act is None or (item.expires is not None and item.expires.timestamp() <= time.time()):
        raise NotFound("notification_not_found", "no notification with that id", "id")
    return item


_body_cache: "OrderedDict[str, dict[str, Any]]" = OrderedDict()


def _bodies(refs: set[str]) -> dict[str, dict[str, Any]]:
    """Bodies stored once per broadcast/multi-send; immutable, so cached in-process."""
    found = {r: _body_cache[r] for r in refs if r in _body_cache}
    missing = [r for r in refs if r not in found]
    for start in range(0, len(missing), 100):
        keys = [tuple(r.split("|", 1)) for r in missing[start:start + 100]]
        for item in broadcast_store.BroadcastItem.batch_get(keys, consistent_read=True,
                                                             attributes_to_get=["pk", "sk", "spec"]):
            ref = f"{item.pk}|{item.sk}"
            found[ref] = item.spec["content"]
            _body_cache[ref] = item.spec["content"]
            while len(_body_cache) > 2048:
                _body_cache.popitem(last=False)
    return found


def body(ref: str) -> dict[str, Any]:
    """One stored body (a broadcast's or a multi-recipient send's), cached like every body read."""
    found = _bodies({ref})
    if ref not in found:
        raise LookupError(f"no stored body {ref!r}")
    return found[ref]


def hydrate(tenant: str, user: str, items: list[InboxItem]) -> list[Notification]:
    bodies = _bodies({i.ref for i in items if i.ref})
    contents: list[Content] = []
    wanted: set[str] = {user}
    for item in items:
        body = item.body if item.body is not None else bodies.get(item.ref or "")
        content = Content.from_body(body or {"type": item.typ or "General"})
        if content.html is None and content.message is not None:  # too large to store twice (sending._fit_item)
            content.html = render_html(content.message)
        contents.append(content)
        wanted.update(item.senders or [])
        if content.actor:
            wanted.add(content.actor)
    profiles = directory.get_profiles(tenant, sorted(wanted)) if items else {}
    views = {uid: p.header_view() for uid, p in profiles.items()}
    out = []
    for item, content in zip(items, contents):
        senders = list(item.senders or ([content.actor] if content.actor else []))
        actor = senders[-1] if senders else content.actor
        if content.icon_url is None and actor and actor in profiles:
            content.icon_url = profiles[actor].profile_picture_url
        if content.template:
            header = render_header(content.template, actor, user, views)
        else:
            header = [{"type": "text", "text": content.message or "", "bold": False}]
        out.append(Notification(
            id=ids.notification_id(user, item.sk), recipient=user, content=content, senders=senders,
            created_at=int(item.created or ids.ulid_time_ms(item.sk)), updated_at=ids.ulid_time_ms(item.act),
            read_at=int(item.read_at) if item.read_at is not None and item.unr is None else None,
            header=header, broadcast_id=item.bid,
        ))
    return out


def inbox_version(caller: Caller, user_id: str) -> int:
    """Changes so far to this inbox (sends, read state, deletions, aggregation, expiry)."""
    return counters.version(inbox_key(caller.tenant, caller.resolve_user(user_id)))


def inbox_counts(caller: Caller, user_id: str) -> counters.InboxCounts:
    """Unread, total and change counter of one inbox, in one read."""
    return counters.read(inbox_key(caller.tenant, caller.resolve_user(user_id)))


def unread_count(caller: Caller, user_id: str) -> int:
    user = caller.resolve_user(user_id)
    return counters.unread_count(inbox_key(caller.tenant, user))


# ---- read state -------------------------------------------------------------------------------

def set_read(caller: Caller, notification_id: str, read: bool) -> Notification:
    item = _load(caller, notification_id)
    now = _now_ms()
    if read and item.unr is not None:
        _transact_read_state([item], read=True, now=now)
    elif not read and item.unr is None:
        _transact_read_state([item], read=False, now=now)
    return get(caller, notification_id)


def _transact_read_state(items: list[InboxItem], *, read: bool, now: int) -> int:
    """Flip read state of items (all in one inbox); returns how many changed."""
    pending = list(items)
    changed = 0
    while pending:
        try:
            with_backoff(lambda: _commit_read_state(pending, read, now))
            changed += len(pending)
            break
        except TransactWriteError as exc:
            if adapt_transaction_limit(exc):  # the engine takes fewer actions: smaller parts
                step = items_per_read_transaction()
                return changed + sum(_transact_read_state(pending[i:i + step], read=read, now=now)
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
        tx.update(Counter(items[0].pk), actions=[Counter.unread.add(-len(items) if read else len(items)), Counter.version.add(1)])


def mark_ids_read(caller: Caller, user_id: str, notification_ids: list[str]) -> int:
    user = caller.resolve_user(user_id)
    pk = inbox_key(caller.tenant, user)
    sks = []
    for nid in dict.fromkeys(notification_ids):
        parsed = ids.parse_notification_id(nid)
        if parsed is None or parsed[0] != user:
            raise NotFound("notification_not_found", f"ids: no notification {nid!r} in this inbox", "ids")
        sks.append(parsed[1])
    items = [InboxItem(pk, sk) for sk in sks]
    now = _now_ms()
    changed = 0
    step = items_per_read_transaction()
    for start in range(0, len(items), step):
        changed += _transact_read_state(items[start:start + step], read=True, now=now)
    return changed


def mark_unread_before(tenant: str, user: str, bound: str, limit: int) -> tuple[int, bool]:
    """Mark read up to `limit` unread items whose activity is at or before `bound` (a ULID).
    Returns (marked, done)."""
    pk = inbox_key(tenant, user)
    marked = 0
    now = _now_ms()
    while marked < limit:
        take = min(items_per_read_transaction(), limit - marked)
        page = list(InboxItem.unread.query(pk, InboxItem.unr <= bound, scan_index_forward=True,
                                           consistent_read=True, limit=take, page_size=take,
                                           attributes_to_get=["pk", "sk", "act", "unr"]))
        if not page:
            return marked, True
        marked += _transact_read_state(page, read=True, now=now)
        if len(page) < take:
            return marked, True
    return marked, False


def delete(caller: Caller, notification_id: str) -> None:
    for _ in range(5):
        item = _load(caller, notification_id)
        try:
            with_backoff(lambda: _commit_delete(item))
            return
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
    raise NotFound("notification_not_found", "no notification with that id", "id")


def _commit_delete(item: InboxItem) -> None:
    with TransactWrite(connection=connection()) as tx:
        if item.unr is not None:
            tx.delete(InboxItem(item.pk, item.sk), condition=InboxItem.unr.exists())
            tx.update(Counter(item.pk), actions=[Counter.unread.add(-1), Counter.total.add(-1), Counter.version.add(1)])
        else:
            tx.delete(InboxItem(item.pk, item.sk), condition=InboxItem.act.exists() & InboxItem.unr.does_not_exist())
            tx.update(Counter(item.pk), actions=[Counter.total.add(-1), Counter.version.add(1)])
