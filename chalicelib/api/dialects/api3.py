"""The api3 community-platform notification API (seed 003): LIST, GET and DELETE.

    GET    /api3/notification        LIST (admins): filters, page/page_size, order, with, format
    GET    /api3/notification/{id}   GET (admins): with, format
    DELETE /api3/notification/{id}   the requester's own notification: format

JSON by default, XML of the same content with `format=xml` (errors too). Errors are
`{"message": ..., "code": <HTTP status>}`, the shape of the documented success
`{"message": "success", "code": 200}`.
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any
from xml.etree import ElementTree as ET

from chalice import Response
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.http import Call, json_response, request_query
from chalicelib.api.kit.parsers import query_int
from chalicelib.api.kit.routing import Link, Param, Route, RouteGroup, Surface
from chalicelib.api.kit.text import summary_text
from chalicelib.domain import admin_listing, directory, ownership
from chalicelib.domain.admin_listing import AdminQuery
from chalicelib.domain.errors import DomainError, Forbidden, InvalidInput, NotFound
from chalicelib.domain.model import Notification, Profile

NO_ACCESS = "Invalid object ID or you don't have access to this object"
INVALID_ID = "Invalid ID received"
FORMATS = ("json", "xml")
WITH_VALUES = ("member", "member_count")
STATUS_UNREAD = "notifcation-item-unread"  # sic: the platform's class name, spelled as documented
STATUS_READ = "notifcation-item-read"
XML_TYPE = "application/xml; charset=utf-8"
PAGE_SIZE = (20, 1, 100)  # default, lowest, highest
PAGE = (1, 1, 999_999_999)


# ---- format and errors ------------------------------------------------------------------------

def _format(query: dict[str, list[str]], strict: bool = True) -> str:
    values = query.get("format")
    value = (values[-1] if values else "json").strip().lower() or "json"
    if value not in FORMATS:
        if strict:
            raise InvalidInput("invalid_format", 'format must be "json" or "xml"', "format")
        return "json"
    return value


def errors(exc: DomainError, status: int) -> Response:
    """Every api3 error: `{"message", "code"}`, in XML when the request asked for XML."""
    return _respond({"message": exc.message, "code": status}, status, _format(request_query(), strict=False))


def _respond(body: dict[str, Any], status: int, fmt: str) -> Response:
    if fmt == "xml":
        return Response(body=to_xml(body), status_code=status, headers={"Content-Type": XML_TYPE})
    return json_response(body, status)


_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LIST_ITEM = {"notificationlist": "notification", "screenname": "name", "member": "member"}


def _append(parent: ET.Element, key: str, value: Any) -> None:
    element = ET.SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _append(element, k, v)
    elif isinstance(value, list):
        element.set("type", "list")
        for v in value:
            _append(element, _LIST_ITEM.get(key, "item"), v)
    elif value is None:
        element.set("nil", "true")
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = _XML_INVALID.sub("\ufffd", str(value))


def to_xml(body: dict[str, Any]) -> str:
    """The JSON body as XML under <response>: objects are elements, list entries are
    elements named for their list (<notification>, <name>), null is nil="true"."""
    root = ET.Element("response")
    for key, value in body.items():
        _append(root, key, value)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _no_access(exc: DomainError) -> DomainError:
    """GET refuses a missing id and a forbidden one alike: 404 with the documented text."""
    return NotFound("no_access", NO_ACCESS, exc.field)


# ---- shaping ----------------------------------------------------------------------------------

def relative_date(ms: int, now_ms: int | None = None) -> str:
    """'just now', '5 minutes ago', '3 weeks ago'; from four weeks on, the date ('Nov 21 2013'),
    as the documented examples show both."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    seconds = max(0, (now_ms - ms) // 1000)
    for limit, unit, size in ((60, None, 1), (3600, "minute", 60), (86400, "hour", 3600),
                              (7 * 86400, "day", 86400), (28 * 86400, "week", 7 * 86400)):
        if seconds < limit:
            if unit is None:
                return "just now"
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%b %d %Y")


def _name(user: str, profiles: dict[str, Profile]) -> str:
    p = profiles.get(user)
    return (p.name or p.short_name or user) if p else user


def item_view(n: Notification, profiles: dict[str, Profile], want: str | None, now_ms: int) -> dict[str, Any]:
    c = n.content
    senders = n.senders or ([c.actor] if c.actor else [])
    md = c.metadata or {}
    actiontype = md.get("actiontype")
    view: dict[str, Any] = {
        "id": n.id,
        "tweet": summary_text(n),
        "actiontype": actiontype if isinstance(actiontype, int) and not isinstance(actiontype, bool) else 0,
        "notification_type": c.type,
        "url": c.url or "",
        "profile": c.icon_url or "",
        "screenname": [_name(s, profiles) for s in senders],
        "date": relative_date(n.updated_at, now_ms),
        "datedue": md.get("datedue") if isinstance(md.get("datedue"), str) else "",
        "timestamp": n.updated_at // 1000,
        "status_class": STATUS_READ if n.read else STATUS_UNREAD,
        "statusclass": STATUS_READ if n.read else STATUS_UNREAD,
        "read": n.read,
    }
    if want == "member":
        p = profiles.get(n.recipient)
        view["member"] = {"id": n.recipient, "screenname": _name(n.recipient, profiles),
                          "photourl": p.profile_picture_url if p else None}
    elif want == "member_count":
        view["member_count"] = 1
    return view


def _profiles(tenant: str, notifications: list[Notification], want: str | None) -> dict[str, Profile]:
    users: list[str] = []
    for n in notifications:
        users.extend(n.senders or ([n.content.actor] if n.content.actor else []))
        if want == "member":
            users.append(n.recipient)
    return directory.get_profiles(tenant, list(dict.fromkeys(users))) if users else {}


def _with(call: Call) -> str | None:
    value = call.q("with")
    if value is None or not value.strip():
        return None
    value = value.strip().lower()
    if value not in WITH_VALUES:
        raise InvalidInput("invalid_with", 'with must be "member" or "member_count"', "with")
    return value


# ---- handlers ---------------------------------------------------------------------------------

def list_notifications(call: Call) -> Response:
    caller = call.require_caller()
    fmt = _format(call.query)
    if not admin_listing.is_admin(caller):
        raise Forbidden("no_access", NO_ACCESS)  # LIST names no object: 403, the documented text
    want = _with(call)
    page_size = query_int(call, "page_size", *PAGE_SIZE)
    started, completed = call.q("date_started"), call.q("date_completed")
    q = AdminQuery(
        notification_id=call.q("id") or None,
        started_day=admin_listing.day_start(started, "date_started") if started else None,
        completed_day=admin_listing.day_start(completed, "date_completed") if completed else None,
        campaign_id=call.q("campaign_id") or None, member_id=call.q("member_id") or None,
        type=call.q("notification_type") or None, page=query_int(call, "page", *PAGE), page_size=page_size,
        order=admin_listing.parse_order(call.q("order")),
    )
    try:
        page = admin_listing.list_notifications(caller, q)
    except Forbidden:
        raise Forbidden("no_access", NO_ACCESS) from None  # LIST names no object: 403, the documented text
    now = int(time.time() * 1000)
    profiles = _profiles(caller.tenant, page.items, want)
    body = {"notificationlist": [item_view(n, profiles, want, now) for n in page.items],
            "stats": {"total": str(page.total), "pagecount": page.page_count, "currentpage": page.page}}
    return _respond(body, 200, fmt)


def get_notification(call: Call) -> Response:
    caller = call.require_caller()
    fmt = _format(call.query)
    want = _with(call)
    try:
        n = admin_listing.get_any(caller, call.params["id"])
    except (Forbidden, NotFound) as exc:
        raise _no_access(exc) from None
    profiles = _profiles(caller.tenant, [n], want)
    return _respond({"notification": item_view(n, profiles, want, int(time.time() * 1000))}, 200, fmt)


def delete_notification(call: Call) -> Response:
    caller = call.require_caller()
    fmt = _format(call.query)
    try:
        ownership.delete_own(caller, call.params["id"])
    except (Forbidden, NotFound):
        raise NotFound("invalid_id", INVALID_ID, "id") from None
    return _respond({"message": "success", "code": 200}, 200, fmt)


# ---- documentation models ---------------------------------------------------------------------

class Api3Member(BaseModel):
    id: str
    screenname: str
    photourl: str | None


class Api3Notification(BaseModel):
    id: str
    tweet: str
    actiontype: int
    notification_type: str
    url: str
    profile: str
    screenname: list[str]
    date: str
    datedue: str
    timestamp: int
    status_class: str
    statusclass: str
    read: bool
    member: Api3Member | None = None
    member_count: int | None = None


class Api3Stats(BaseModel):
    total: str
    pagecount: int
    currentpage: int


class Api3List(BaseModel):
    notificationlist: list[Api3Notification]
    stats: Api3Stats


class Api3One(BaseModel):
    notification: Api3Notification


class Api3Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str
    code: int


class Api3Error(BaseModel):
    """Every api3 error, 401, 404 and 405 included; in XML (under <response>) with format=xml."""

    model_config = ConfigDict(extra="forbid")
    message: str
    code: int = Field(..., description="The HTTP status")


FORMAT = Param("format", "json (default) | xml", {"type": "string", "enum": list(FORMATS), "default": "json"})
WITH = Param("with", "member | member_count", {"type": "string", "enum": list(WITH_VALUES)})
DAY = {"type": "string", "description": "MM/DD/YYYY", "examples": ["12/06/2009"]}
LISTED = "$response.body#/notificationlist/0/id"


def routes() -> list[Route]:
    r = GROUP.route
    order = ("e.g. 'date_started ASC, notification_type DESC'; attributes: "
             + ", ".join([*admin_listing.ORDER_ATTRIBUTES, *admin_listing.CONSTANT_ORDER_ATTRIBUTES])
             + " (the last three are equal for every notification)")
    return [
        r("/api3/notification", "GET", list_notifications, "api3_list_notifications",
          "api3 LIST notification (admin): every notification of the tenant, newest first",
          response_model=Api3List, xml=True,
          query_params=[Param("id", "a notification id"),
                        Param("date_started", "MM/DD/YYYY: that day (UTC)", DAY),
                        Param("date_completed", "MM/DD/YYYY: read that day (UTC)", DAY),
                        Param("campaign_id", "broadcast id or metadata.campaign_id"),
                        Param("member_id", "the recipient"),
                        Param("notification_type", "only notifications of this type"),
                        Param("page_size", "1..100, default 20",
                              {"type": "integer", "minimum": PAGE_SIZE[1], "maximum": PAGE_SIZE[2],
                               "default": PAGE_SIZE[0]}),
                        Param("page", "1..pagecount, default 1",
                              {"type": "integer", "minimum": PAGE[1], "maximum": PAGE[2], "default": PAGE[0]}),
                        Param("order", order, {"type": "string", "maxLength": 500},
                              ("date_started ASC, notification_type DESC",)),
                        WITH, FORMAT],
          links=[Link("get_listed", "api3_get_notification", {"id": LISTED}),
                 Link("delete_listed", "api3_delete_notification", {"id": LISTED})]),
        r("/api3/notification/{id}", "GET", get_notification, "api3_get_notification",
          "api3 GET notification (admin)", response_model=Api3One, xml=True,
          query_params=[WITH, FORMAT], error_statuses=(400, 401, 404)),  # a forbidden id reads as missing
        r("/api3/notification/{id}", "DELETE", delete_notification, "api3_delete_notification",
          "api3 DELETE notification: the requester's own (received or sent)",
          response_model=Api3Message, xml=True, query_params=[FORMAT], error_statuses=(400, 401, 404)),
    ]


GROUP = RouteGroup("api3", "/api3", "api3", errors, error_model=Api3Error, error_xml=True,
                   description="The api3 community platform's notification API (admins list and get; the "
                               "requester deletes their own): JSON, or XML with format=xml")


SURFACE = Surface(GROUP, routes)
