"""The native /v1 API: parse → domain → shape. The superset of what the dialects express."""
from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import unquote

from chalice import Response

from chalicelib.api import schemas as s
from chalicelib.api.http import (Call, Link, Param, Reply, Route, Surface, any_case, empty_response, iso,
                                 json_response, not_modified, parse, parse_time, refuse_unpaired_surrogates)
from chalicelib.domain import directory, idempotency, inbox, jobs, read_state, sending
from chalicelib.ids import new_ulid
from chalicelib.domain.errors import DomainError, InvalidInput
from chalicelib.domain.model import Audience, Content, Notification, Priority, Profile, UserSettings
from chalicelib.domain.rules import _CONTROL, check_flat_map, check_owner_id, check_user_id, check_url
from chalicelib.settings import get_settings


def error_response(exc: DomainError, status: int) -> Response:
    body: dict[str, Any] = {"error": exc.code, "message": exc.message}
    if exc.field:
        body["field"] = exc.field
    return json_response(body, status)


# ---- shaping ----------------------------------------------------------------------------------

def notification_view(n: Notification) -> dict[str, Any]:
    c = n.content
    return {
        "id": n.id, "recipient": n.recipient, "type": c.type, "priority": c.priority.label, "message": c.message,
        "html": c.html, "template": c.template, "header": n.header, "actor": c.actor, "senders": n.senders,
        "url": c.url, "iconUrl": c.icon_url, "metadata": c.metadata, "location": c.location,
        "organizationID": c.organization_id, "attachment": c.attachment, "extraClassnames": c.extra_classnames,
        "senderApplication": c.sender_application, "resourceUri": c.resource_uri, "groupKey": c.group_key,
        "read": n.read, "readAt": iso(n.read_at), "createdAt": iso(n.created_at), "updatedAt": iso(n.updated_at),
        "expiresAt": iso(c.expires_at * 1000) if c.expires_at else None, "broadcastId": n.broadcast_id,
    }


def _priority(value: str, field: str = "priority") -> Priority:
    try:
        return Priority.parse(value)
    except (KeyError, AttributeError):
        raise InvalidInput("invalid_priority", f"{field} must be one of low, medium, high (case-insensitive)",
                           field) from None


def _expires(value: str | int | None) -> int | None:
    if value is None:
        return None
    ms = parse_time(str(value), "expiresAt")
    return None if ms is None else ms // 1000


def content_from(req: s.SendRequest) -> Content:
    return Content(
        type=req.type, priority=_priority(req.priority), message=req.message, template=req.template,
        actor=req.actor, url=req.url, icon_url=req.iconUrl, metadata=dict(req.metadata or {}),
        location=dict(req.location or {}), organization_id=req.organizationID,
        attachment=req.attachment.model_dump() if req.attachment else None, extra_classnames=req.extraClassnames,
        group_key=req.groupKey, expires_at=_expires(req.expiresAt), resource_uri=req.resourceUri,
    )


# ---- notifications ----------------------------------------------------------------------------

def send(call: Call) -> Response:
    caller = call.require_caller()
    payload = call.json()
    req = parse(s.SendRequest, payload)

    def act(ulid: str) -> tuple[int, Any]:
        result = sending.send(caller, Audience(req.recipients, req.organization, req.community),
                              content_from(req), sk=ulid)
        if result.broadcast_id:
            return 202, {"broadcastId": result.broadcast_id, "status": "queued", "notifications": [],
                         "skipped": []}
        return 201, {"notifications": [{"id": nid, "recipient": r, "aggregated": r in result.aggregated}
                                       for r, nid in result.ids.items()],
                     "skipped": [{"recipient": r, "reason": why} for r, why in result.skipped.items()],
                     "broadcastId": None, "status": "delivered"}

    key = call.header("Idempotency-Key")
    if key is None:
        status, body = act(new_ulid())
        return json_response(body, status)
    status, body, replayed = idempotency.run_once(caller, key, payload, act)
    return json_response(body, status, {"Idempotent-Replayed": "true" if replayed else "false"})


def get_notification(call: Call) -> Response:
    return json_response(notification_view(inbox.get(call.require_caller(), call.params["id"])))


def patch_notification(call: Call) -> Response:
    req = parse(s.ReadPatch, call.json())
    return json_response(notification_view(read_state.set_read(call.require_caller(), call.params["id"], req.read)))


def delete_notification(call: Call) -> Response:
    read_state.delete(call.require_caller(), call.params["id"])
    return empty_response(204)


def parse_filter(raw: str | None) -> dict[str, Any]:
    """Cord's `filter`: a URI-encoded JSON object with metadata, location, organizationID."""
    if not raw:
        return {}
    text = raw
    for _ in range(2):  # tolerate clients that encode twice
        try:
            data = json.loads(text)
            break
        except (ValueError, RecursionError):  # RecursionError: hostile nesting
            text = unquote(text)
    else:
        raise InvalidInput("invalid_filter", "filter must be a URI-encoded JSON object", "filter")
    if not isinstance(data, dict):
        raise InvalidInput("invalid_filter", "filter must be a JSON object", "filter")
    try:  # JSON in a query string is an edge too: "\ud800" escapes must not reach the store
        refuse_unpaired_surrogates(data, ("filter",))
    except InvalidInput as exc:
        raise InvalidInput("invalid_filter", exc.message, "filter") from None
    unknown = set(data) - {"metadata", "location", "organizationID"}
    if unknown:
        raise InvalidInput("invalid_filter", f"filter: unknown key {sorted(unknown)[0]!r} (allowed: metadata, "
                                             "location, organizationID)", "filter")
    out: dict[str, Any] = {}
    if data.get("metadata") is not None:
        out["metadata"] = check_flat_map(data["metadata"], "filter.metadata")
    if data.get("location") is not None:
        out["location"] = check_flat_map(data["location"], "filter.location")
    if data.get("organizationID") is not None:
        if not isinstance(data["organizationID"], str):
            raise InvalidInput("invalid_filter", "filter.organizationID must be a string", "filter")
        out["organization_id"] = data["organizationID"]
    return out


def _int_param(call: Call, name: str, default: int, lo: int, hi: int) -> int:
    raw = call.q(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"invalid_{name}", f"{name} must be an integer between {lo} and {hi}", name) from None
    if not lo <= value <= hi:
        raise InvalidInput(f"invalid_{name}", f"{name} must be between {lo} and {hi}", name)
    return value


def list_query(call: Call) -> inbox.ListQuery:
    flt = parse_filter(call.q("filter"))
    priority = call.q("priority")
    return inbox.ListQuery(
        status=(call.q("status") or "all").lower(), type=call.q("type") or None,
        priority=_priority(priority) if priority else None, since=parse_time(call.q("since"), "since"),
        before=parse_time(call.q("before"), "before"), metadata=flt.get("metadata", {}),
        location=flt.get("location"), organization_id=flt.get("organization_id"),
        limit=_int_param(call, "limit", 20, 1, 100), cursor=call.q("cursor") or None,
    )


def _etag(version: int, call: Call, with_query: bool) -> str:
    """A weak ETag from the inbox's change counter, bound to the inbox (tenant and user, so a
    shared browser cache never answers one user with another's list) and the query string."""
    caller = call.require_caller()
    scope = [caller.tenant, caller.resolve_user(call.params["userId"])]
    if with_query:
        scope.append(json.dumps(sorted(call.query.items()), separators=(",", ":")))
    digest = hashlib.sha256("\x1f".join(scope).encode()).hexdigest()[:16]
    return f'W/"v{version}-{digest}"'


PRIVATE = {"Cache-Control": "private, no-cache", "Vary": "Authorization"}


def poll_headers(etag: str | None = None) -> dict[str, str]:
    """What a polled listing answers with: its ETag, private caching, and X-Poll-Interval (the seconds a
    client should wait before asking again, as GitHub's notifications API sends)."""
    headers = {**PRIVATE, "X-Poll-Interval": str(get_settings().poll_interval_seconds)}
    if etag is not None:
        headers["ETag"] = etag
    return headers


def _unchanged(call: Call, etag: str) -> Response | None:
    """304 when the client's If-None-Match names the current ETag: polling costs one GetItem."""
    return not_modified(call, etag, poll_headers(etag))


def list_notifications(call: Call) -> Response:
    caller = call.require_caller()
    query = list_query(call)
    etag = _etag(inbox.inbox_version(caller, call.params["userId"]), call, with_query=True)
    cached = _unchanged(call, etag)
    if cached is not None:
        return cached
    page = inbox.list_page(caller, call.params["userId"], query)
    return json_response({"notifications": [notification_view(n) for n in page.items], "cursor": page.cursor},
                         headers=poll_headers(etag))


def unread_count(call: Call) -> Response:
    caller = call.require_caller()
    counts = inbox.inbox_counters(caller, call.params["userId"])  # count and ETag from one read
    etag = _etag(counts.version, call, with_query=False)
    cached = _unchanged(call, etag)
    if cached is not None:
        return cached
    return json_response({"unreadCount": counts.unread},
                         headers=poll_headers(etag))


def mark_read(call: Call) -> Response:
    caller = call.require_caller()
    req = parse(s.MarkReadRequest, call.json())
    given = [x for x in (req.ids is not None, req.all is not None, req.before is not None) if x]
    if len(given) != 1:
        raise InvalidInput("invalid_body", 'give exactly one of "ids", "all" or "before"', "ids")
    if req.ids is not None:
        marked = read_state.mark_ids_read(caller, call.params["userId"], req.ids)
        return json_response({"marked": marked, "jobId": None, "status": "complete"})
    if req.all is not None and not req.all:
        raise InvalidInput("invalid_all", '"all" must be true', "all")
    before = parse_time(str(req.before), "before") if req.before is not None else None
    result = jobs.mark_all_read(caller, call.params["userId"], before)
    if result.job_id:
        return json_response({"marked": result.marked, "jobId": result.job_id, "status": "queued"}, 202)
    return json_response({"marked": result.marked, "jobId": None, "status": "complete"})


def get_broadcast(call: Call) -> Response:
    b = jobs.broadcast_status(call.require_caller(), call.params["id"])
    return json_response({"id": b.id, "status": b.status, "audience": b.audience, "eligible": b.eligible,
                          "delivered": b.delivered, "skipped": b.skipped, "createdAt": iso(b.created_at),
                          "updatedAt": iso(b.updated_at), "completedAt": iso(b.completed_at), "error": b.error,
                          "chunks": None if b.chunks is None else {
                              "total": b.chunks.total, "enqueued": b.chunks.enqueued, "done": b.chunks.done,
                              "failed": b.chunks.failed}})


# ---- users, settings, types -------------------------------------------------------------------

def user_view(p: Profile) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "shortName": p.short_name, "profilePictureURL": p.profile_picture_url,
            "metadata": p.metadata, "isApiUser": p.is_api_user}


def put_user(call: Call) -> Response:
    caller = call.require_caller()
    caller.require_server("changing a user profile")
    user = check_user_id(call.params["userId"], "userId")
    req = parse(s.UserBody, call.json())
    profile = Profile(id=user, name=req.name, short_name=req.shortName,
                      profile_picture_url=check_url(req.profilePictureURL, "profilePictureURL"),
                      metadata=check_flat_map(dict(req.metadata or {}), "metadata"), is_api_user=req.isApiUser)
    saved, created = directory.put_profile(caller.tenant, profile)
    return json_response(user_view(saved), 201 if created else 200)


def get_user(call: Call) -> Response:
    caller = call.require_caller()
    user = caller.resolve_user(call.params["userId"])
    return json_response(user_view(directory.require_profile(caller.tenant, user, "userId")))


def settings_view(st: UserSettings) -> dict[str, Any]:
    return {"mutedTypes": st.muted_types, "minPriority": st.min_priority.label}


def get_user_settings(call: Call) -> Response:
    caller = call.require_caller()
    user = caller.resolve_user(call.params["userId"])
    return json_response(settings_view(directory.get_settings(caller.tenant, user)))


def put_user_settings(call: Call) -> Response:
    caller = call.require_caller()
    user = caller.resolve_user(call.params["userId"])
    req = parse(s.SettingsBody, call.json())
    for t in req.mutedTypes:
        if not t or len(t) > 50 or _CONTROL.search(t):
            raise InvalidInput("invalid_type", "mutedTypes entries must be 1-50 characters without control "
                                               "characters", "mutedTypes")
    saved = directory.put_settings(caller.tenant, user, UserSettings(req.mutedTypes,
                                                                     _priority(req.minPriority, "minPriority")))
    return json_response(settings_view(saved))


def list_types(call: Call) -> Response:
    return json_response({"types": directory.list_types(call.require_caller().tenant)})


# ---- organizations and communities ------------------------------------------------------------

def _member_view(m) -> dict[str, Any]:
    return {"userId": m.user, "role": m.role, "banned": m.banned, "isApiUser": m.is_api_user,
            "joinedAt": iso(m.joined_at) if m.joined_at else None}


def _owner(call: Call, kind: str) -> tuple[str, str]:
    key = "orgId" if kind == directory.ORG else "communityId"
    return kind, check_owner_id(call.params[key], key)


def member_routes(kind: str) -> list[Route]:
    noun, key = ("organizations", "orgId") if kind == directory.ORG else ("communities", "communityId")
    base = f"/v1/{noun}/{{{key}}}/members"

    def put_member(call: Call) -> Response:
        caller = call.require_caller()
        caller.require_server(f"managing {noun}")
        owner_kind, owner_id = _owner(call, kind)
        user = check_user_id(call.params["userId"], "userId")
        req = parse(s.MemberBody, call.json())
        m, created = directory.put_membership(caller.tenant, owner_kind, owner_id, user, req.role, req.banned)
        return json_response(_member_view(m), 201 if created else 200)

    def delete_member(call: Call) -> Response:
        caller = call.require_caller()
        caller.require_server(f"managing {noun}")
        owner_kind, owner_id = _owner(call, kind)
        user = check_user_id(call.params["userId"], "userId")
        if not directory.delete_membership(caller.tenant, owner_kind, owner_id, user):
            raise_not_member()
        return empty_response(204)

    def get_member(call: Call) -> Response:
        caller = call.require_caller()
        owner_kind, owner_id = _owner(call, kind)
        user = caller.resolve_user(call.params["userId"])
        m = directory.get_membership(caller.tenant, owner_kind, owner_id, user)
        if m is None:
            raise_not_member()
        return json_response(_member_view(m))

    def list_members(call: Call) -> Response:
        caller = call.require_caller()
        caller.require_server(f"listing {noun} members")
        owner_kind, owner_id = _owner(call, kind)
        members, cursor = directory.list_members(caller.tenant, owner_kind, owner_id,
                                                 _int_param(call, "limit", 50, 1, 100), call.q("cursor") or None)
        return json_response({"members": [_member_view(m) for m in members], "cursor": cursor})

    tag = noun.capitalize()
    member_links = [Link("get_member", f"get_{kind}_member", {key: f"$request.path.{key}",
                                                              "userId": "$request.path.userId"}),
                    Link("delete_member", f"delete_{kind}_member", {key: f"$request.path.{key}",
                                                                    "userId": "$request.path.userId"})]
    created = [Reply(201, "Created: the membership is new", s.MemberView)]
    body_doc = s.OrganizationMemberBody if kind == directory.ORG else s.CommunityMemberBody
    return [
        Route(base, "GET", list_members, f"list_{kind}_members", f"List {noun} members (server)", tag,
              error_response, response_model=s.MemberPage,
              query_params=[LIMIT(50), Param("cursor", "opaque, from the previous page")]),
        Route(base + "/{userId}", "PUT", put_member, f"put_{kind}_member", "Add or change a member (server)", tag,
              error_response, request_model=body_doc, response_model=s.MemberView, replies=created,
              path_params=[MEMBER_ID],
              links=member_links + [Link(f"{link.name}_created", link.operation_id, link.parameters, status=201)
                                    for link in member_links]),
        Route(base + "/{userId}", "GET", get_member, f"get_{kind}_member", "Get a membership", tag, error_response,
              response_model=s.MemberView),
        Route(base + "/{userId}", "DELETE", delete_member, f"delete_{kind}_member", "Remove a member (server)", tag,
              error_response, success_status=204, path_params=[MEMBER_ID]),
    ]


def raise_not_member() -> None:
    from chalicelib.domain.errors import NotFound

    raise NotFound("member_not_found", "no such member", "userId")


def LIMIT(default: int, hi: int = 100) -> Param:
    return Param("limit", f"1..{hi}, default {default}", {"type": "integer", "minimum": 1, "maximum": hi,
                                                          "default": default})


# A user named by a server token (PUT of a profile or membership): 'me' is reserved there.
MEMBER_ID = Param("userId", "A user id (1-256 characters, no control characters or surrounding spaces; not 'me')",
                  {"type": "string", "minLength": 1, "maxLength": 256, "not": {"const": "me"}}, ("alice", "bob"))
PRIORITY = {"type": "string", "pattern": any_case("low", "medium", "high"),
            "description": "low | medium | high (case-insensitive)"}
TIME = {"type": "string", "description": "ISO 8601, or epoch seconds (or milliseconds)"}
IF_NONE_MATCH = Param("If-None-Match", "An ETag this listing returned: 304 while the inbox is unchanged",
                      {"type": "string"})
POLL_HEADERS = ("ETag", "Cache-Control", "Vary", "X-Poll-Interval")
NOT_MODIFIED = Reply(304, "Not Modified: the inbox has not changed since that ETag", None, POLL_HEADERS)

SEND_EXAMPLES = {
    "recipients": {"recipients": ["alice"], "type": "Welcome", "message": "Hello **alice**", "priority": "high"},
    "template": {"recipients": ["bob"], "type": "Mention", "template": "{{actor}} mentioned {{recipient}}",
                 "actor": "alice", "url": "https://example.com/threads/1", "metadata": {"thread": "1"}},
    "organization": {"organization": "acme", "type": "Announcement", "message": "Maintenance tonight"},
}

# The first notification a send created, and its recipient's inbox.
SENT_ID = "$response.body#/notifications/0/id"
SENT_TO = "$response.body#/notifications/0/recipient"
LISTED_ID = "$response.body#/notifications/0/id"


def routes() -> list[Route]:
    e = error_response
    return [
        Route("/v1/notifications", "POST", send, "send_notification",
              "Send to recipients (201) or to an organization/community (202 with a broadcast id)",
              "Notifications", e, request_model=s.SendRequest, response_model=s.SendResponse, success_status=201,
              headers=[Param("Idempotency-Key", "Retries with the same key and body answer the first result "
                                                "(1-255 printable characters; 24 hours)",
                             {"type": "string", "minLength": 1, "maxLength": 255})],
              success_headers=("Idempotent-Replayed",),
              replies=[Reply(202, "Broadcast queued: GET /v1/broadcasts/{broadcastId} shows its progress",
                             s.SendResponse, ("Idempotent-Replayed",))],
              error_statuses=(400, 401, 403, 404, 409, 413, 415),
              request_examples=SEND_EXAMPLES,
              links=[Link("get_sent", "get_notification", {"id": SENT_ID}),
                     Link("patch_sent", "patch_notification", {"id": SENT_ID}, request_body={"read": True}),
                     Link("delete_sent", "delete_notification", {"id": SENT_ID}),
                     Link("list_recipient_inbox", "list_notifications", {"userId": SENT_TO}),
                     Link("recipient_unread_count", "unread_count", {"userId": SENT_TO}),
                     Link("get_broadcast", "get_broadcast", {"id": "$response.body#/broadcastId"}, status=202)]),
        Route("/v1/notifications/{id}", "GET", get_notification, "get_notification", "Get one notification",
              "Notifications", e, response_model=s.NotificationView),
        Route("/v1/notifications/{id}", "PATCH", patch_notification, "patch_notification", "Mark read or unread",
              "Notifications", e, request_model=s.ReadPatch, response_model=s.NotificationView,
              request_examples={"read": {"read": True}, "unread": {"read": False}}),
        Route("/v1/notifications/{id}", "DELETE", delete_notification, "delete_notification",
              "Delete a notification", "Notifications", e, success_status=204),
        Route("/v1/users/{userId}/notifications", "GET", list_notifications, "list_notifications",
              "A page of an inbox, newest first ('me' means the caller). Sends an ETag; "
              "If-None-Match with it answers 304 until the inbox changes (one read)", "Inbox", e,
              response_model=s.NotificationPage,
              query_params=[LIMIT(20), Param("cursor", "opaque, from the previous page"),
                            Param("status", "unread | read | all (default)", {"type": "string",
                                  "enum": ["unread", "read", "all"], "default": "all"}),
                            Param("type", "only this notification type"),
                            Param("priority", "only this priority", PRIORITY),
                            Param("since", "activity at or after this time", TIME),
                            Param("before", "activity before this time", TIME),
                            Param("filter", "URI-encoded JSON object: metadata, location, organizationID",
                                  {"type": "string"}, ('{"metadata":{"thread":"1"}}',))],
              headers=[IF_NONE_MATCH], success_headers=POLL_HEADERS, replies=[NOT_MODIFIED],
              links=[Link("mark_listed_read", "mark_read", {"userId": "$request.path.userId"},
                          request_body={"ids": [f"{{{LISTED_ID}}}"]}),
                     Link("get_listed", "get_notification", {"id": LISTED_ID}),
                     Link("delete_listed", "delete_notification", {"id": LISTED_ID})]),
        Route("/v1/users/{userId}/notifications/unread-count", "GET", unread_count, "unread_count",
              "Exact unread count (one read); ETag / If-None-Match → 304", "Inbox", e, response_model=s.UnreadCount,
              headers=[IF_NONE_MATCH], success_headers=POLL_HEADERS, replies=[NOT_MODIFIED]),
        Route("/v1/users/{userId}/notifications/read", "POST", mark_read, "mark_read",
              "Mark ids, everything, or everything before a time as read (202 when it continues in the "
              "background)", "Inbox", e, request_model=s.MarkReadRequest, response_model=s.MarkReadResponse,
              replies=[Reply(202, "Queued: the inbox is marked read in the background (GET /v1/broadcasts/{jobId})",
                             s.MarkReadResponse)],
              request_examples={"all": {"all": True}, "before": {"before": "2024-01-01T00:00:00Z"}},
              links=[Link("get_job", "get_broadcast", {"id": "$response.body#/jobId"}, status=202)]),
        Route("/v1/broadcasts/{id}", "GET", get_broadcast, "get_broadcast", "Broadcast or mark-all job progress",
              "Broadcasts", e, response_model=s.BroadcastView,
              path_params=[Param("id", "A broadcastId (or mark-all jobId) as returned with a 202",
                                 {"type": "string", "minLength": 1})]),
        Route("/v1/users/{userId}", "PUT", put_user, "put_user", "Create or replace a user profile (server)",
              "Users", e, request_model=s.UserBody, response_model=s.UserView, path_params=[MEMBER_ID],
              replies=[Reply(201, "Created: the profile is new", s.UserView)],
              links=[Link("get_put_user", "get_user", {"userId": "$request.path.userId"}),
                     Link("get_created_user", "get_user", {"userId": "$request.path.userId"}, status=201)]),
        Route("/v1/users/{userId}", "GET", get_user, "get_user", "Get a user profile", "Users", e,
              response_model=s.UserView),
        Route("/v1/users/{userId}/settings", "GET", get_user_settings, "get_user_settings",
              "Notification settings", "Users", e, response_model=s.SettingsView),
        Route("/v1/users/{userId}/settings", "PUT", put_user_settings, "put_user_settings",
              "Mute types, set a minimum priority", "Users", e, request_model=s.SettingsBody,
              response_model=s.SettingsView),
        Route("/v1/notification-types", "GET", list_types, "list_notification_types",
              "Types registered in this tenant", "Notifications", e, response_model=s.TypeList,
              error_statuses=(400, 401)),  # 400: every native operation documents it (test_native_directory)
        *member_routes(directory.ORG),
        *member_routes(directory.COMMUNITY),
    ]


SURFACE = Surface("native", "/v1", "Native", error_response, routes, error_model=s.ErrorBody)
