"""Reading an inbox: cursor pages, one notification, the counters, and turning stored items into
`Notification`s (bodies stored once are read and cached here). Changing read state is `read_state`."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from chalicelib import ids
from chalicelib.cursors import InvalidCursor
from chalicelib.domain import directory
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.markdown import render_html
from chalicelib.domain.model import Content, Notification, Page, Priority, Profile
from chalicelib.domain.principal import Caller
from chalicelib.domain.templates import render_header
from chalicelib.store import broadcasts as broadcast_store
from chalicelib.store import counters
from chalicelib.store import inbox as store
from chalicelib.store.inbox import InboxItem, inbox_key

MAX_PAGE = 100
FILTERED_PAGE_BUDGET = 200  # items one filtered Query may evaluate


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


def list_page(caller: Caller, user_id: str, query: ListQuery) -> Page:
    """One page, newest activity first, in one Query whatever the inbox size."""
    user = caller.resolve_user(user_id)
    if not 1 <= query.limit <= MAX_PAGE:
        raise InvalidInput("invalid_limit", f"limit must be between 1 and {MAX_PAGE}", "limit")
    if query.status not in ("all", "unread", "read"):
        raise InvalidInput("invalid_status", "status must be unread, read or all", "status")
    flt = store.ItemFilter(read_only=query.status == "read", type_name=query.type,
                           priority=int(query.priority) if query.priority else None, metadata=query.metadata or {},
                           location=query.location, organization_id=query.organization_id)
    try:
        items, cursor = store.page(
            caller.tenant, user, unread_only=query.status == "unread",
            lower=ids.ulid_bound(query.since, upper=False) if query.since is not None else None,
            upper=ids.ulid_bound(query.before - 1, upper=True) if query.before is not None else None,
            flt=flt, limit=query.limit, budget=FILTERED_PAGE_BUDGET if query.filtered else query.limit + 1,
            cursor=query.cursor)
    except InvalidCursor:
        raise InvalidInput("invalid_cursor", "cursor is not one this listing returned (filters must not change "
                                             "between pages)", "cursor") from None
    return Page(items=hydrate(caller.tenant, user, items), cursor=cursor)


def get(caller: Caller, notification_id: str) -> Notification:
    item = load(caller, notification_id)
    tenant, user = caller.tenant, store.split_inbox_key(item.pk)[1]
    return hydrate(tenant, user, [item])[0]


def _locate(caller: Caller, notification_id: str) -> tuple[str, str]:
    parsed = ids.parse_notification_id(notification_id)
    if parsed is None:
        raise NotFound("notification_not_found", "no notification with that id", "id")
    user, sk = parsed
    if caller.user is not None and caller.user != user:
        raise NotFound("notification_not_found", "no notification with that id", "id")
    return user, sk


def load(caller: Caller, notification_id: str) -> InboxItem:
    """The stored item a caller may reach by this id, or NotFound."""
    user, sk = _locate(caller, notification_id)
    item = store.get(caller.tenant, user, sk)
    if item is None:
        raise NotFound("notification_not_found", "no notification with that id", "id")
    return item


_body_cache: "OrderedDict[str, dict[str, Any]]" = OrderedDict()


def bodies(refs: set[str]) -> dict[str, dict[str, Any]]:
    """Bodies stored once per broadcast/multi-send; immutable, so cached in-process."""
    found = {r: _body_cache[r] for r in refs if r in _body_cache}
    missing = [r for r in refs if r not in found]
    for ref, content in broadcast_store.get_bodies(missing).items():
        found[ref] = content
        _body_cache[ref] = content
        while len(_body_cache) > 2048:
            _body_cache.popitem(last=False)
    return found


def body(ref: str) -> dict[str, Any]:
    """One stored body (a broadcast's or a multi-recipient send's), cached like every body read."""
    found = bodies({ref})
    if ref not in found:
        raise LookupError(f"no stored body {ref!r}")
    return found[ref]


def hydrate(tenant: str, user: str, items: list[InboxItem]) -> list[Notification]:
    return hydrate_many(tenant, [(user, items)])[0]


def hydrate_many(tenant: str, inboxes: list[tuple[str, list[InboxItem]]]) -> list[list[Notification]]:
    """`hydrate` for several inboxes of one tenant at once: the bodies and the profiles every one of them
    needs are read together (one BatchGetItem per 100 profiles, not one per inbox), so the realtime push
    builds the views of a whole stream batch with a few reads."""
    stored = bodies({i.ref for _, items in inboxes for i in items if i.ref})
    contents: list[list[Content]] = []
    wanted: set[str] = set()
    for user, items in inboxes:
        own: list[Content] = []
        if items:
            wanted.add(user)
        for item in items:
            stored_body = item.body if item.body is not None else stored.get(item.ref or "")
            content = Content.from_body(stored_body or {"type": item.typ or "General"})
            if content.html is None and content.message is not None:  # too large to store twice (sending._fit_item)
                content.html = render_html(content.message)
            own.append(content)
            wanted.update(item.senders or [])
            if content.actor:
                wanted.add(content.actor)
        contents.append(own)
    profiles = directory.get_profiles(tenant, sorted(wanted)) if wanted else {}
    views = {uid: p.header_view() for uid, p in profiles.items()}
    return [_notifications(user, items, own, profiles, views) for (user, items), own in zip(inboxes, contents)]


def _notifications(user: str, items: list[InboxItem], contents: list[Content], profiles: dict[str, Profile],
                   views: dict[str, dict[str, Any]]) -> list[Notification]:
    """One inbox's items as Notifications, from their contents and the profiles already read."""
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
    return inbox_counters(caller, user_id).version


def inbox_counters(caller: Caller, user_id: str) -> counters.InboxCounts:
    """Unread, total and change counter of one inbox, in one read."""
    return counters.read(inbox_key(caller.tenant, caller.resolve_user(user_id)))
