"""Spark's notifications API (seed 004).

    GET  /spark/v1/notifications               the current user's notifications (_pagination, _page, _limit)
    POST /spark/v1/notifications               create one for the current user (manual types only)
    PUT  /spark/v1/notifications/{Id}[,{Id}]   mark read ({"D": {"Read": true}})
    GET  /spark/v1/notifications/unread        the Pagination block of the unread notifications
    every other method on those paths          405

Responses use Spark's standard envelope: `{"D": {"Success": true, "Results": [...]}}`,
failures `{"D": {"Success": false, "Code": <Spark code>, "Message": ...}}` with Spark's
documented codes (1000/1020 401, 1015/1500 403, 1035/1050/1053 400, 404, 405, 1055 409).

Roles: a user token with IDX or VOW may neither read nor write (1500); Private, or none
of the three, may. A server token has no current user: it must name one with Spark's
`_apiuser` parameter, otherwise 403 with code 1015.
"""
from __future__ import annotations

import math
from typing import Any, Literal

from chalice import Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from chalicelib.api.http import Call, InvalidField, json_response, parse
from chalicelib.api.kit.errors import DialectError, ErrorCodes
from chalicelib.api.kit.parsers import query_int
from chalicelib.api.kit.routing import Link, Param, Reply, Route, RouteGroup, Surface
from chalicelib.api.kit.text import summary_text
from chalicelib.api.kit.times import utc_seconds
from chalicelib.auth.tokens import EXPIRED
from chalicelib.domain import inbox, numbered_pages, read_state, sending
from chalicelib.domain.errors import DomainError, InvalidInput, NotFound
from chalicelib.domain.model import Audience, Content, Notification
from chalicelib.domain.principal import Caller
from chalicelib.domain.rules import check_message, check_url, check_user_id

BASE = "/spark/v1/notifications"
MANUAL_TYPES = ("General", "OperationComplete")
AUTOMATIC_TYPES = ("Message",)
MAX_MESSAGE = 140
DEFAULT_LIMIT = 10
MAX_LIMIT = 25
MAX_PAGE = 100_000
MAX_IDS = 100
WRITABLE = ("Type", "Message", "BrowserUri", "ResourceUri", "Read")
READ_ONLY = ("Id", "SenderApplication", "SenderId", "RecipientId", "CreatedTimestamp", "ReadTimestamp")

# Spark error codes (sparkplatform.com "Error Codes"): code -> HTTP status.
BAD_KEY, SESSION_EXPIRED, NO_USER, BAD_JSON, MISSING, CONSTRAINT, CONFLICT, SERVICE_LEVEL = (
    1000, 1020, 1015, 1035, 1050, 1053, 1055, 1500)


# Spark's code for an error this module did not raise itself (its own carry theirs: DialectError).
CODES = ErrorCodes(
    by_kind={"unauthorized": BAD_KEY, "forbidden": SERVICE_LEVEL, "not_found": 404, "method_not_allowed": 405,
             "conflict": CONFLICT, "unsupported_media_type": BAD_JSON},
    default=CONSTRAINT, internal=500,
    by_code={"invalid_json": BAD_JSON, "invalid_body": BAD_JSON},  # the body is no JSON object
    by_reason={EXPIRED: SESSION_EXPIRED},
)


def failure(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"D": {"Success": False, "Code": code, "Message": message}}, status, headers)


def errors(exc: DomainError, status: int) -> Response:
    """Every Spark error in the standard fail envelope, with Spark's code for it."""
    return failure(status, CODES.code(exc, status), exc.message)


# ---- who is asking ----------------------------------------------------------------------------

def current_user(call: Call) -> Caller:
    """The caller as the Spark "current user", after the role rule."""
    caller = call.require_caller()
    if caller.has_role("IDX", "VOW"):
        raise DialectError(SERVICE_LEVEL, "The resource is not available at the current API key's service level: "
                                        "IDX and VOW roles can neither read nor write notifications",
                         kind="forbidden")
    if caller.user is not None:
        if call.q("_apiuser") not in (None, "", caller.user):
            raise DialectError(NO_USER, "The provided key does not have access to the supplied user",
                             kind="forbidden", field="_apiuser")
        return caller
    named = call.q("_apiuser")
    if not named:
        raise DialectError(NO_USER, "ApiUser must be supplied: a server token has no current user; name one with "
                                  "the _apiuser parameter", kind="forbidden", field="_apiuser")
    try:
        user = check_user_id(named, "_apiuser")
    except InvalidInput as exc:
        raise DialectError(CONSTRAINT, exc.message, field="_apiuser") from None
    return Caller(tenant=caller.tenant, user=user, roles=caller.roles, application=caller.application)


# ---- shaping ----------------------------------------------------------------------------------

def notification_view(n: Notification) -> dict[str, Any]:
    c = n.content
    sender = n.senders[-1] if n.senders else c.actor
    return {
        "Id": n.id,
        "Type": c.type,
        "SenderApplication": c.sender_application,
        "SenderId": sender if sender and sender != n.recipient else None,
        "RecipientId": n.recipient,
        "Message": summary_text(n),
        "BrowserUri": c.url,
        "ResourceUri": c.resource_uri,
        "Read": n.read,
        "CreatedTimestamp": utc_seconds(n.created_at),
        "ReadTimestamp": utc_seconds(n.read_at),
    }


def pagination(total: int, page_size: int, page: int) -> dict[str, int]:
    return {"TotalRows": total, "PageSize": page_size,
            "TotalPages": math.ceil(total / page_size) if page_size else 0, "CurrentPage": page}


def success(results: list[Any] | None = None, status: int = 200, **extra: Any) -> Response:
    d: dict[str, Any] = {}
    if results is not None:
        d["Results"] = results
    d["Success"] = True
    d.update(extra)
    return json_response({"D": d}, status)


# ---- parameters -------------------------------------------------------------------------------

def _pagination_mode(call: Call) -> str:
    raw = (call.q("_pagination") or "0").strip().lower()
    if raw not in ("0", "1", "count"):
        raise DialectError(CONSTRAINT, "_pagination must be 0, 1 or count", field="_pagination")
    return raw


def _body_d(call: Call) -> dict[str, Any]:
    try:
        data = call.json()
    except InvalidInput as exc:
        if CODES.code(exc, 400) != BAD_JSON:  # too large, or a string no response could carry: as the core says
            raise
        raise DialectError(BAD_JSON, "POST data not supplied as valid JSON", field="body") from None
    if not isinstance(data, dict):
        raise DialectError(BAD_JSON, "POST data must be a JSON object of the form {\"D\": {...}}", field="body")
    if "D" not in data:
        raise DialectError(MISSING, "D is required: the request body is {\"D\": {...}}", field="D")
    unknown = sorted(set(data) - {"D"})
    if unknown:
        raise DialectError(CONSTRAINT, f"unknown attribute {unknown[0]!r} next to D", field=unknown[0])
    d = data["D"]
    if not isinstance(d, dict):
        raise DialectError(CONSTRAINT, "D must be an object", field="D")
    return d


class SparkNewNotification(BaseModel):
    model_config = ConfigDict(extra="forbid")
    Type: StrictStr = Field(..., description="General | OperationComplete (the manual types)")
    Message: StrictStr = Field(..., min_length=1, max_length=MAX_MESSAGE, description="140 characters max")
    BrowserUri: StrictStr | None = None
    ResourceUri: StrictStr | None = None
    Read: StrictBool | None = None


class SparkCreate(BaseModel):
    D: SparkNewNotification


class SparkReadFlags(BaseModel):
    model_config = ConfigDict(extra="forbid")
    Read: StrictBool


class SparkMarkRead(BaseModel):
    D: SparkReadFlags


def _validate(model: type[BaseModel], d: dict[str, Any]) -> Any:
    """`D` against the model (http.parse), each failed rule worded and coded as Spark does."""
    for name in d:
        if name in READ_ONLY:
            raise DialectError(CONSTRAINT, f"{name} is not writeable", field=name)
    try:
        return parse(model, d)
    except InvalidField as exc:
        name = exc.field or "D"
        if exc.rule == "missing":
            raise DialectError(MISSING, f"{name} is required", field=name) from None
        if exc.rule == "extra_forbidden":
            if name in WRITABLE:
                raise DialectError(CONSTRAINT, f"{name} cannot be changed here; only Read can", field=name) from None
            raise DialectError(CONSTRAINT, f"{name} is not an attribute of a notification", field=name) from None
        if exc.rule == "string_too_long":
            raise DialectError(CONSTRAINT, f"{name} must be at most {MAX_MESSAGE} characters", field=name) from None
        raise DialectError(CONSTRAINT, exc.message, field=name) from None


def _manual_type(value: str) -> str:
    for name in MANUAL_TYPES:
        if name.casefold() == value.strip().casefold():
            return name
    if any(value.strip().casefold() == t.casefold() for t in AUTOMATIC_TYPES):
        raise DialectError(CONSTRAINT, f"Type {value.strip()!r} is generated automatically and cannot be created; "
                                     f"manual types: {', '.join(MANUAL_TYPES)}", field="Type")
    raise DialectError(CONSTRAINT, f"Type must be one of {', '.join(MANUAL_TYPES)}", field="Type")


def _uri(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        return check_url(value, name)
    except InvalidInput as exc:
        raise DialectError(CONSTRAINT, exc.message, field=name) from None


# ---- handlers ---------------------------------------------------------------------------------

def list_notifications(call: Call) -> Response:
    caller = current_user(call)
    mode = _pagination_mode(call)
    limit = query_int(call, "_limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    page = query_int(call, "_page", 1, 1, MAX_PAGE)
    if mode == "count":
        total = inbox.inbox_counters(caller, "me").total
        return success([], Pagination=pagination(total, limit, page))
    result = numbered_pages.inbox_page(caller, "me", page, limit)
    results = [notification_view(n) for n in result.items]
    if mode == "1":
        return success(results, Pagination=pagination(result.total, limit, page))
    return success(results)


def create_notification(call: Call) -> Response:
    caller = current_user(call)
    req = _validate(SparkNewNotification, _body_d(call))
    message = req.Message
    if not message.strip():
        raise DialectError(CONSTRAINT, "Message must not be blank", field="Message")
    try:
        check_message(message, "Message")  # here, so the error names Spark's field, not the core's
    except InvalidInput as exc:
        raise DialectError(CONSTRAINT, exc.message, field="Message") from None
    content = Content(type=_manual_type(req.Type), message=message, url=_uri(req.BrowserUri, "BrowserUri"),
                      resource_uri=_uri(req.ResourceUri, "ResourceUri"),
                      sender_application=caller.application or caller.tenant)
    result = sending.send(caller, Audience(recipients=[caller.user or ""]), content)
    nid = result.ids.get(caller.user or "")
    if nid is None:
        # The recipient muted this type or priority: nothing was stored.
        return success([], status=200)
    if req.Read:
        read_state.set_read(caller, nid, True)
    return success([{"Id": nid, "ResourceUri": f"/v1/notifications/{nid}"}], status=201)


def mark_read(call: Call) -> Response:
    caller = current_user(call)
    raw = call.params["Id"]
    wanted = [part.strip() for part in raw.split(",")]
    if not all(wanted):
        raise DialectError(CONSTRAINT, "Id: give one or more ids separated by commas", field="Id")
    wanted = list(dict.fromkeys(wanted))
    if len(wanted) > MAX_IDS:
        raise DialectError(CONSTRAINT, f"at most {MAX_IDS} ids per request", field="Id")
    req = _validate(SparkReadFlags, _body_d(call))
    for nid in wanted:  # all or nothing: every id must be the current user's
        try:
            inbox.get(caller, nid)
        except NotFound:
            raise DialectError(404, f"Notification {nid[:64]!r} was not found", kind="not_found", field="Id") from None
    if req.Read:
        read_state.mark_ids_read(caller, "me", wanted)
    else:
        for nid in wanted:
            read_state.set_read(caller, nid, False)
    return success()


def unread(call: Call) -> Response:
    caller = current_user(call)
    unread_count = inbox.inbox_counters(caller, "me").unread
    return success([], Pagination=pagination(unread_count, DEFAULT_LIMIT, 1))


# ---- documentation models ---------------------------------------------------------------------

class SparkNotification(BaseModel):
    Id: str
    Type: str
    SenderApplication: str | None
    SenderId: str | None
    RecipientId: str
    Message: str | None
    BrowserUri: str | None
    ResourceUri: str | None
    Read: bool
    CreatedTimestamp: str
    ReadTimestamp: str | None


class SparkPagination(BaseModel):
    TotalRows: int
    PageSize: int
    TotalPages: int
    CurrentPage: int


class SparkD(BaseModel):
    Results: list[SparkNotification] | None = None
    Success: bool
    Pagination: SparkPagination | None = None
    Code: int | None = None
    Message: str | None = None


class SparkEnvelope(BaseModel):
    D: SparkD


class SparkCreatedRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    Id: str
    ResourceUri: str = Field(..., description="The notification in the native API")


class SparkCreatedD(BaseModel):
    model_config = ConfigDict(extra="forbid")
    Results: list[SparkCreatedRef] = Field(..., description="The created notification; empty when nothing was "
                                                            "stored (the current user muted the type)")
    Success: Literal[True]


class SparkCreated(BaseModel):
    """Spark's standard success response to a create."""

    D: SparkCreatedD


class SparkFailureD(BaseModel):
    model_config = ConfigDict(extra="forbid")
    Success: Literal[False]
    Code: int = Field(..., description="Spark's error code (1000, 1015, 1020, 1035, 1050, 1053, 1055, 1500, "
                                       "or the HTTP status for 404 and 405)")
    Message: str


class SparkFailure(BaseModel):
    """Every Spark error, 401, 404 and 405 included: the standard fail envelope."""

    model_config = ConfigDict(extra="forbid")
    D: SparkFailureD


# The seed's example requests (Spark notifications document), verbatim.
SEED_CREATE = {"D": {"Type": "OperationComplete", "Message": "Your PDF generation has completed!",
                     "BrowserUri": "http://myapplication.com/cmas/19581825.pdf",
                     "ResourceUri": "http://myapplication.com/cmas/19581825.json"}}
SEED_MARK_READ = {"D": {"Read": True}}


def routes() -> list[Route]:
    r = GROUP.route
    apiuser = Param("_apiuser", "server tokens: the current user (1-256 characters)",
                    {"type": "string", "maxLength": 256})
    paging = [Param("_pagination", "0 (default) | 1 | count", {"type": "string", "enum": ["0", "1", "count"],
                                                               "default": "0"}),
              Param("_limit", f"1..{MAX_LIMIT}, default {DEFAULT_LIMIT}",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
              Param("_page", f"1..{MAX_PAGE}, default 1",
                    {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}),
              apiuser]
    return [
        # The static /unread path is registered before /{Id}; Chalice (and API Gateway) prefer it anyway.
        r(f"{BASE}/unread", "GET", unread, "spark_unread_notifications",
          "Spark: pagination block of the unread notifications", response_model=SparkEnvelope,
          query_params=[apiuser]),
        r(BASE, "GET", list_notifications, "spark_list_notifications",
          "Spark: the current user's notifications", response_model=SparkEnvelope,
          query_params=paging,
          links=[Link("mark_listed_read", "spark_mark_notifications_read",
                      {"Id": "$response.body#/D/Results/0/Id", "_apiuser": "$request.query._apiuser"},
                      request_body=SEED_MARK_READ)]),
        r(BASE, "POST", create_notification, "spark_create_notification",
          "Spark: create a notification for the current user (General or OperationComplete)",
          request_model=SparkCreate, response_model=SparkCreated, success_status=201,
          query_params=[apiuser], request_examples={"seed": SEED_CREATE},
          replies=[Reply(200, "Nothing stored: the current user muted this type", SparkCreated)],
          links=[Link("mark_created_read", "spark_mark_notifications_read",
                      {"Id": "$response.body#/D/Results/0/Id", "_apiuser": "$request.query._apiuser"},
                      request_body=SEED_MARK_READ),
                 Link("list_after_create", "spark_list_notifications",
                      {"_apiuser": "$request.query._apiuser", "_pagination": "1"})]),
        r(f"{BASE}/{{Id}}", "PUT", mark_read, "spark_mark_notifications_read",
          "Spark: mark one or more notifications (comma-separated ids) read",
          request_model=SparkMarkRead, response_model=SparkEnvelope, query_params=[apiuser],
          path_params=[Param("Id", f"One or more notification ids, comma-separated (at most {MAX_IDS})",
                             {"type": "string", "minLength": 1})],
          request_examples={"seed": SEED_MARK_READ}),
    ]


GROUP = RouteGroup("spark", "/spark", "Spark", errors, error_model=SparkFailure,
                   description="Spark's notifications API: the `{\"D\": ...}` envelope, Spark's error codes")


SURFACE = Surface(GROUP, routes)
