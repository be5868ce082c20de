"""Tenant-wide notification listing and access for administrators (api3's LIST and GET).

"Admin" is a user token with the `admin` role (case-insensitive) or the tenant's server
token. The listing walks the `by_tenant` index (16 shards merged newest first), or one
member's inbox when the member is named, with page-number pagination and an exact
total (COUNT queries, or the inbox counter when nothing narrows the member's inbox).
Ordering by the activity time follows the index; any other order sorts the matching
notifications in memory, which is allowed up to MAX_SORTED of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from chalicelib import ids
from chalicelib.domain import inbox, numbered_pages, rules
from chalicelib.domain.errors import Forbidden, InvalidInput
from chalicelib.domain.model import Notification
from chalicelib.domain.numbered_pages import NumberedPage
from chalicelib.domain.principal import Caller
from chalicelib.store import counters
from chalicelib.store import inbox as store
from chalicelib.store.inbox import InboxItem

DAY_MS = 86_400_000
MAX_SORTED = 5000
MAX_PAGE_SIZE = 100
MAX_FILTER_VALUE = 256

# Sort attributes a listing accepts (api3's documented names that mean something for a
# notification); each maps to how the value is read from an inbox item.
ORDER_ATTRIBUTES = {
    "date_started": "act",        # when the notification started (its last activity), the index order
    "datemodified": "act",
    "datecreated": "created",
    "date_completed": "read_at",  # when it was read
    "notification_type": "type",
    "notification_code": "type",
    "id": "id",
    "title": "title",
}
# Accepted (the seed lists them) but equal for every notification: each one listed is visible, none is
# anonymous (its senders are named) and none is scored. Ordering by them keeps the order they tie in.
CONSTANT_ORDER_ATTRIBUTES = ("visible", "anonymous", "score")


def is_admin(caller: Caller) -> bool:
    return caller.is_server or caller.has_role("admin")


def require_admin(caller: Caller) -> Caller:
    """The caller with tenant-wide reach, or Forbidden."""
    if not is_admin(caller):
        raise Forbidden("not_admin", "this needs an administrator (role admin) or the tenant's server token")
    return Caller(tenant=caller.tenant, user=None, roles=caller.roles, application=caller.application)


@dataclass
class AdminQuery:
    notification_id: str | None = None
    started_day: int | None = None    # epoch ms of a day's start (UTC); 24 hours from there
    completed_day: int | None = None
    campaign_id: str | None = None
    member_id: str | None = None
    type: str | None = None
    page: int = 1
    page_size: int = 20
    order: list[tuple[str, bool]] = field(default_factory=lambda: [("date_started", False)])  # (attr, ascending)


def parse_order(text: str | None) -> list[tuple[str, bool]]:
    """A SQL-style ORDER BY list: `attr [ASC|DESC], ...` over ORDER_ATTRIBUTES."""
    if text is None or not text.strip():
        return [("date_started", False)]
    if len(text) > 500:
        raise InvalidInput("invalid_order", "order must be at most 500 characters", "order")
    out: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2:
            raise InvalidInput("invalid_order", f"order: cannot read {part.strip()!r}; use 'attribute [ASC|DESC]' "
                                                "separated by commas", "order")
        name = words[0].lower()
        if name not in ORDER_ATTRIBUTES and name not in CONSTANT_ORDER_ATTRIBUTES:
            raise InvalidInput("invalid_order", f"order: unknown attribute {words[0]!r}; accepted: "
                                                f"{', '.join([*ORDER_ATTRIBUTES, *CONSTANT_ORDER_ATTRIBUTES])}",
                               "order")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise InvalidInput("invalid_order", f"order: direction must be ASC or DESC, not {words[1]!r}", "order")
        if name not in CONSTANT_ORDER_ATTRIBUTES:
            out.append((name, direction == "ASC"))
    return out or [("date_started", False)]


def _narrowing(q: AdminQuery) -> store.Narrowing:
    return store.Narrowing(
        started=(ids.ulid_bound(q.started_day, upper=False), ids.ulid_bound(q.started_day + DAY_MS - 1, upper=True))
        if q.started_day is not None else None,
        completed_ms=(q.completed_day, q.completed_day + DAY_MS - 1) if q.completed_day is not None else None,
        campaign_id=q.campaign_id or None, type_name=q.type or None)


def _narrowed(q: AdminQuery) -> bool:
    return any(v is not None and v != "" for v in (q.started_day, q.completed_day, q.campaign_id, q.type))


def _matches(item: InboxItem, q: AdminQuery) -> bool:
    """The listing's conditions, for the one item an `id` filter names."""
    if item.act is None or store.is_expired(item):
        return False
    if q.started_day is not None and not q.started_day <= ids.ulid_time_ms(item.act) < q.started_day + DAY_MS:
        return False
    if q.completed_day is not None and (item.unr is not None or item.read_at is None
                                        or not q.completed_day <= int(item.read_at) < q.completed_day + DAY_MS):
        return False
    if q.campaign_id and item.bid != q.campaign_id and (item.md.as_dict() if item.md is not None else {}).get(
            "campaign_id") != q.campaign_id:
        return False
    return not (q.type and item.typ != q.type)


def list_notifications(caller: Caller, q: AdminQuery) -> NumberedPage:
    admin = require_admin(caller)
    if not 1 <= q.page_size <= MAX_PAGE_SIZE:
        raise InvalidInput("invalid_page_size", f"page_size must be between 1 and {MAX_PAGE_SIZE}", "page_size")
    if q.page < 1:
        raise InvalidInput("page_out_of_range", "page must be at least 1", "page")
    if q.member_id is not None:
        rules.check_user_id(q.member_id, "member_id")
    for name, value in (("campaign_id", q.campaign_id), ("notification_type", q.type)):
        if value is not None and len(value) > MAX_FILTER_VALUE:
            raise InvalidInput(f"invalid_{name}", f"{name} must be at most {MAX_FILTER_VALUE} characters", name)
    if q.notification_id is not None:
        return _by_id(admin, q)
    narrowing = _narrowing(q)
    if q.member_id is not None:
        sources = [store.inbox_source(admin.tenant, q.member_id)]
        if _narrowed(q):
            total = store.count(sources, narrowing)
        else:
            total = counters.read(store.inbox_key(admin.tenant, q.member_id)).total
    else:
        sources = store.tenant_sources(admin.tenant)
        total = store.count(sources, narrowing)
    numbered_pages.check_page(q.page, q.page_size, total)
    if total == 0:
        return NumberedPage([], 0, q.page, q.page_size)
    index_order = len(q.order) == 1 and ORDER_ATTRIBUTES[q.order[0][0]] == "act"
    if index_order:
        ordered = store.iterate(sources, narrowing, ascending=q.order[0][1], needed=q.page * q.page_size)
        items = store.load(numbered_pages.slice_page(ordered, q.page, q.page_size))
    else:
        if total > MAX_SORTED:
            raise InvalidInput("order_too_broad", f"ordering by anything but date_started needs at most "
                                                  f"{MAX_SORTED} matching notifications ({total} match); narrow "
                                                  "the filters", "order")
        everything = list(store.iterate(sources, narrowing, full_items=True))
        _sort(everything, q.order)
        offset = (q.page - 1) * q.page_size
        items = everything[offset:offset + q.page_size]
    return NumberedPage(numbered_pages.hydrate_many(admin.tenant, items), total, q.page, q.page_size)


def _by_id(admin: Caller, q: AdminQuery) -> NumberedPage:
    parsed = ids.parse_notification_id(q.notification_id or "")
    item = None
    if parsed is not None and (q.member_id is None or parsed[0] == q.member_id):
        item = store.get(admin.tenant, parsed[0], parsed[1])
    if item is None or not _matches(item, q):
        numbered_pages.check_page(q.page, q.page_size, 0)
        return NumberedPage([], 0, q.page, q.page_size)
    numbered_pages.check_page(q.page, q.page_size, 1)
    items = [item] if q.page == 1 else []
    return NumberedPage(numbered_pages.hydrate_many(admin.tenant, items), 1, q.page, q.page_size)


def _sort(items: list[InboxItem], order: list[tuple[str, bool]]) -> None:
    titles: dict[tuple[str, str], str] = {}
    if any(ORDER_ATTRIBUTES[a] == "title" for a, _ in order):
        bodies = inbox.bodies({i.ref for i in items if i.ref})  # shared, cached body reads
        for i in items:
            body = i.body if i.body is not None else bodies.get(i.ref or "") or {}
            titles[(i.pk, i.sk)] = (body.get("message") or "").casefold()

    def value(item: InboxItem, kind: str):
        if kind == "act":
            return item.act or ""
        if kind == "created":
            return int(item.created or ids.ulid_time_ms(item.sk))
        if kind == "read_at":
            return int(item.read_at) if item.read_at is not None and item.unr is None else None
        if kind == "type":
            return (item.typ or "").casefold()
        if kind == "id":
            return ids.notification_id(store.split_inbox_key(item.pk)[1], item.sk)
        return titles.get((item.pk, item.sk), "")

    items.sort(key=lambda i: i.act or "", reverse=True)  # ties keep the default order
    for attr, ascending in reversed(order):
        kind = ORDER_ATTRIBUTES[attr]
        # None (e.g. never read) sorts before every value ascending, after them descending.
        items.sort(key=lambda i, k=kind: _nulls_first(value(i, k)), reverse=not ascending)


def _nulls_first(v):
    return (0, "") if v is None else (1, v)


def get_any(caller: Caller, notification_id: str) -> Notification:
    """Any notification of the tenant (admins only)."""
    return inbox.get(require_admin(caller), notification_id)


def day_start(text: str, field_name: str) -> int:
    """'12/06/2009' (month/day/year, as the api3 documents show) or '2009-12-06' → that day's
    start in UTC, epoch ms."""
    value = (text or "").strip()
    for fmt in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(value, fmt)
            break
        except ValueError:
            continue
    else:
        raise InvalidInput("invalid_date", f"{field_name} must be a date such as 12/06/2009 (MM/DD/YYYY)",
                           field_name)
    return int(parsed.replace(tzinfo=timezone.utc).timestamp() * 1000)
