"""Cord v1 dialect: the notifications REST API and the user upsert its headers rely on.

Routes (Cord's REST API is called by the application's backend, so every route needs the
tenant's server token; a user token gets 403):
- `POST /cord/v1/notifications` → `{"success": true, "message": "Notification created.",
  "notificationID": ...}` (200, as Cord answers).
- `GET /cord/v1/users/{userID}/notifications[?filter=<URI-encoded JSON>]` → a JSON array of
  notification objects, newest first (Cord's list is an array without pagination; see `MAX_ITEMS`).
- `PUT /cord/v1/users/{userID}` → create or partially update a user profile.
- `DELETE /cord/v1/notifications/{notificationID}` → delete one notification.

Errors are `{"error": "<code>", "message": ...}` with Cord's codes and status codes
(`invalid_request` 400 for a body that fails validation, `invalid_field` 400, `invalid_user_id`
401 for an unknown actor or recipient, `user_not_found` 401 for an unknown user in a path,
`notification_not_found` 404).
"""
from __future__ import annotations

from typing import Any, Literal

from chalice import Response
from pydantic import BaseModel, ConfigDict, Field, RootModel, StrictStr

from chalicelib.api.http import Call, json_response, parse
from chalicelib.api.kit.errors import DialectError, ErrorCodes
from chalicelib.api.kit.models import HeaderNode, Scalar
from chalicelib.api.kit.parsers import parse_filter
from chalicelib.api.kit.routing import Link, Param, Route, RouteGroup, Surface
from chalicelib.api.kit.times import iso
from chalicelib.api.kit.users import known_users
from chalicelib.auth.tokens import MISSING
from chalicelib.domain import directory, inbox, read_state, sending
from chalicelib.domain.errors import DomainError, InvalidInput
from chalicelib.domain.model import Audience, Content, Notification, Profile
from chalicelib.domain.principal import Caller
from chalicelib.domain.rules import check_flat_map, check_url, check_user_id
from chalicelib.domain.templates import uses

NOTIFICATION_TYPE = "Cord"  # the notification type (mute settings, native views) of Cord-sent notifications
PAGE = 100
MAX_ITEMS = 1000  # one response holds at most this many; `X-Next-Cursor` (and ?cursor=) continue
MAX_QUERIES = 20  # Queries one listing may spend (filtered listings evaluate 200 items per Query)

# ---- models -------------------------------------------------------------------------------------

class CordCreateNotification(BaseModel):
    """Cord's CreateNotificationVariables (with its deprecated snake_case aliases)."""

    model_config = ConfigDict(extra="forbid")

    actorID: StrictStr | None = Field(None, description="Required when template includes {{actor}}; must exist")
    actor_id: StrictStr | None = Field(None, description="Deprecated alias of actorID")
    recipientID: StrictStr | None = Field(None, description="Required; must exist")
    recipient_id: StrictStr | None = Field(None, description="Deprecated alias of recipientID")
    template: StrictStr = Field(..., description="Header template with {{actor}} and {{recipient}}")
    url: StrictStr = Field(..., description="http(s) URL opened when the notification is clicked")
    type: Literal["url"] = Field(..., description='Must be "url"')
    iconUrl: StrictStr | None = Field(None, description="Defaults to the actor's profile picture")
    metadata: dict[str, Scalar] | None = Field(None, description="Flat map of strings, numbers, booleans")
    extraClassnames: StrictStr | None = None


class CordUserBody(BaseModel):
    """Cord's UpdatePlatformUserVariables: every field optional, only given fields change."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr | None = Field(None, max_length=256)
    shortName: StrictStr | None = Field(None, max_length=128)
    short_name: StrictStr | None = Field(None, max_length=128, description="Deprecated alias of shortName")
    profilePictureURL: StrictStr | None = None
    profile_picture_url: StrictStr | None = Field(None, description="Deprecated alias of profilePictureURL")
    metadata: dict[str, Scalar] | None = None
    email: StrictStr | None = Field(None, max_length=320, description="Accepted; not stored by this service")
    status: Literal["active"] | None = Field(None, description='"active" (deleting users is not supported)')
    first_name: StrictStr | None = Field(None, description="Deprecated; no effect")
    last_name: StrictStr | None = Field(None, description="Deprecated; no effect")


class CordSuccess(BaseModel):
    success: Literal[True]
    message: str
    notificationID: str | None = None


class CordNotification(BaseModel):
    id: str
    senderUserIDs: list[str]
    iconUrl: str | None
    header: list[HeaderNode]
    attachment: dict[str, Any] | None
    readStatus: Literal["unread", "read"]
    timestamp: str
    extraClassnames: str | None
    metadata: dict[str, Any]


class CordNotificationList(RootModel[list[CordNotification]]):
    """A JSON array, newest first."""


class CordError(BaseModel):
    """Every Cord error, 401, 404 and 405 included (Cord's `{"error": "<ERROR_CODE>", "message": ...}`)."""

    model_config = ConfigDict(extra="forbid")
    error: str = Field(..., description="Cord's error code, e.g. invalid_request, invalid_user_id, "
                                        "notification_not_found, missing_authorization_header")
    message: str


# The seeds' example requests (Cord v1 "Create a notification"), verbatim.
SEED_EXAMPLES = {
    "sandwich": {
        "actorID": "123",
        "recipientID": "456",
        "template": "{{actor}} sent {{recipient}} a delicious sandwich",
        "url": "http://www.example.com/",
        "type": "url",
    },
    "joined": {"actorID": "789", "recipientID": "123", "template": "{{actor}} joined the team",
               "url": "http://www.example.com/", "type": "url"},
}
CORD_USER_ID = Param("userID", "A user id (1-256 characters, no control characters or surrounding spaces)",
                     {"type": "string", "minLength": 1, "maxLength": 256, "not": {"const": "me"}}, ("123", "456"))


# ---- errors -------------------------------------------------------------------------------------

# Cord's code for an error this module did not raise itself (its own carry theirs: DialectError).
CODES = ErrorCodes(
    by_kind={"invalid": "invalid_request", "too_large": "invalid_request", "unauthorized": "invalid_access_token",
             "forbidden": "forbidden", "not_found": "not_found", "method_not_allowed": "method_not_allowed",
             "conflict": "conflict", "unsupported_media_type": "invalid_request"},
    default="invalid_request", internal="internal_error",
    # The core's codes Cord has too: a body field no response could carry, an unknown notification.
    by_code={"invalid_field": "invalid_field", "notification_not_found": "notification_not_found"},
    by_reason={MISSING: "missing_authorization_header"},
)


def error_response(exc: DomainError, status: int) -> Response:
    """`{"error", "message"}`; Cord reports an over-long body as a bad request (400), not 413."""
    if exc.kind == "too_large":
        status = 400
    return json_response({"error": CODES.code(exc, status), "message": exc.message}, status)


GROUP = RouteGroup("cord", "/cord", "Cord v1", error_response, error_model=CordError,
                   description="Cord's REST API for notifications and users (server token): `{\"error\", "
                               "\"message\"}` errors with Cord's codes")


def _parse(model, data):
    """A body that fails Cord's schema is `invalid_request` (as Cord's validator answers)."""
    try:
        return parse(model, data)
    except InvalidInput as exc:
        raise DialectError("invalid_request", exc.message, field=exc.field) from None


def _server(call: Call) -> Caller:
    caller = call.require_caller()
    caller.require_server("Cord's REST API is for the application's backend: it")
    return caller


# ---- shaping ------------------------------------------------------------------------------------

def notification_view(n: Notification) -> dict[str, Any]:
    c = n.content
    attachment = c.attachment or ({"type": "url", "url": c.url} if c.url else None)
    return {
        "id": n.id, "senderUserIDs": n.senders, "iconUrl": c.icon_url, "header": n.header,
        "attachment": attachment, "readStatus": "read" if n.read else "unread", "timestamp": iso(n.updated_at),
        "extraClassnames": c.extra_classnames, "metadata": c.metadata,
    }


# ---- handlers -----------------------------------------------------------------------------------

def create_notification(call: Call) -> Response:
    caller = _server(call)
    req = _parse(CordCreateNotification, call.json())
    actor = req.actorID if req.actorID is not None else req.actor_id
    recipient = req.recipientID if req.recipientID is not None else req.recipient_id
    if recipient is None:
        raise DialectError("invalid_request", "Missing recipientID", field="recipientID")
    recipient = check_user_id(recipient, "recipientID")
    if actor is not None:
        actor = check_user_id(actor, "actorID")
    if uses(req.template, "actor") and actor is None:
        raise DialectError("invalid_field", "actorID is required when template includes {{actor}}",
                           field="actorID")
    known = known_users(caller, [u for u in (actor, recipient) if u])
    for user, field in ((actor, "actorID"), (recipient, "recipientID")):
        if user is not None and user not in known:
            raise DialectError("invalid_user_id", f"Invalid {field[:-2]} user id: {user}.", "unauthorized", field)
    content = Content(type=NOTIFICATION_TYPE, template=req.template, actor=actor, url=req.url, icon_url=req.iconUrl,
                      metadata=dict(req.metadata or {}), extra_classnames=req.extraClassnames)
    result = sending.send(caller, Audience(recipients=[recipient]), content)
    return json_response({"success": True, "message": "Notification created.",
                          "notificationID": result.ids.get(recipient)})


def list_notifications(call: Call) -> Response:
    caller = _server(call)
    user = check_user_id(call.params["userID"], "userID")
    flt = parse_filter(call.q("filter"))
    items: list[dict[str, Any]] = []
    cursor = call.q("cursor") or None
    for _ in range(MAX_QUERIES):
        page = inbox.list_page(caller, user, inbox.ListQuery(
            metadata=flt.get("metadata", {}), location=flt.get("location"),
            organization_id=flt.get("organization_id"), limit=min(PAGE, MAX_ITEMS - len(items)), cursor=cursor))
        items.extend(notification_view(n) for n in page.items)
        cursor = page.cursor
        if cursor is None or len(items) >= MAX_ITEMS:
            break
    if not items and not call.q("cursor") and not known_users(caller, [user]):
        raise DialectError("user_not_found", f"Platform user not found: {user}", "unauthorized", "userID")
    headers = {"X-Next-Cursor": cursor} if cursor else None
    return json_response(items, 200, headers)


def put_user(call: Call) -> Response:
    caller = _server(call)
    user = check_user_id(call.params["userID"], "userID")
    req = _parse(CordUserBody, call.json())
    given = req.model_fields_set
    existing = directory.get_profile(caller.tenant, user)
    profile = existing or Profile(id=user)

    def pick(*names: str) -> tuple[bool, Any]:
        for name in names:
            if name in given and getattr(req, name) is not None:
                return True, getattr(req, name)
        return any(name in given for name in names), None

    for attr, names in (("name", ("name",)), ("short_name", ("shortName", "short_name")),
                        ("profile_picture_url", ("profilePictureURL", "profile_picture_url"))):
        present, value = pick(*names)
        if present:
            setattr(profile, attr, value)
    profile.profile_picture_url = check_url(profile.profile_picture_url, "profilePictureURL")
    if "metadata" in given:
        profile.metadata = check_flat_map(dict(req.metadata or {}), "metadata")
    _, created = directory.put_profile(caller.tenant, profile)
    return json_response({"success": True,
                          "message": f"✅ You successfully {'created' if created else 'updated'} user {user}"})


def delete_notification(call: Call) -> Response:
    caller = _server(call)
    read_state.delete(caller, call.params["notificationID"])
    return json_response({"success": True,
                          "message": f"💀 You successfully deleted notification {call.params['notificationID']}"})


def routes() -> list[Route]:
    r = GROUP.route
    created = "$response.body#/notificationID"
    return [
        r("/cord/v1/notifications", "POST", create_notification, "cord_create_notification",
          "Cord v1: create and send a notification (server token)",
          request_model=CordCreateNotification, response_model=CordSuccess, request_examples=SEED_EXAMPLES,
          links=[Link("delete_created", "cord_delete_notification", {"notificationID": created}),
                 Link("native_get_created", "get_notification", {"id": created}),
                 Link("list_recipient", "cord_list_notifications", {"userID": "$request.body#/recipientID"})]),
        r("/cord/v1/notifications/{notificationID}", "DELETE", delete_notification, "cord_delete_notification",
          "Cord v1: delete a notification (server token)", response_model=CordSuccess,
          path_params=[Param("notificationID", "A notification id", {"type": "string", "minLength": 1})]),
        r("/cord/v1/users/{userID}/notifications", "GET", list_notifications, "cord_list_notifications",
          "Cord v1: a user's notifications as a JSON array, newest first (server token)",
          response_model=CordNotificationList, success_headers=("X-Next-Cursor",), path_params=[CORD_USER_ID],
          query_params=[Param("filter", "URI-encoded JSON: metadata, location, organizationID",
                              {"type": "string"}, ('{"metadata":{"category":"sales"}}',)),
                        Param("cursor", f"continue after {MAX_ITEMS} items, from the X-Next-Cursor header")],
          links=[Link("delete_listed", "cord_delete_notification", {"notificationID": "$response.body#/0/id"})]),
        r("/cord/v1/users/{userID}", "PUT", put_user, "cord_put_user",
          "Cord v1: create or update a user (server token)", request_model=CordUserBody,
          response_model=CordSuccess, path_params=[CORD_USER_ID],
          request_examples={"alice": {"name": "Alice Applegate", "shortName": "Alice",
                                      "profilePictureURL": "https://example.com/alice.png"}},
          links=[Link("list_user", "cord_list_notifications", {"userID": "$request.path.userID"})]),
    ]


SURFACE = Surface(GROUP, routes)
