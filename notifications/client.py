"""A small typed Python client of the native `/v1` API, for an app's backend and for the `notifications`
command's operator subcommands.

Standard library only (urllib; PyJWT, already a dependency of the service, is imported only by
`mint_token`), so a backend can vendor this one file. Every request may be retried: a send always
carries an `Idempotency-Key` (generated when not given, the same on every retry), and every other
operation is idempotent, so a 429 or 5xx is retried (bounded, honouring `Retry-After`) and a refused
request raises an `ApiError` subclass chosen by its status.

    from notifications.client import NotificationsClient, mint_token

    api = NotificationsClient("https://api.example.com", mint_token("acme", TENANT_KEY))
    api.send(to="alice", type="Welcome", message="Hello **alice**")
    api.unread_count("alice")
"""
from __future__ import annotations

import email.utils
import json
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Literal, Mapping, Protocol, Sequence
from urllib import error as urlerror
from urllib import request as urlrequest
from urllib.parse import quote, urlencode

__all__ = [
    "NotificationsClient", "mint_token", "Transport", "UrllibTransport", "RawResponse",
    "Notification", "InboxPage", "SendResult", "Sent", "Skipped", "MarkReadResult", "User", "UserSettings", "Membership",
    "MemberPage", "Broadcast", "ChunkProgress",
    "NotificationsError", "ConnectionFailed", "UnexpectedResponse", "ApiError", "BadRequest", "Unauthorized", "Forbidden", "NotFound",
    "MethodNotAllowed", "Conflict", "PayloadTooLarge", "UnsupportedMediaType", "RateLimited", "ServerError",
]

DEFAULT_ISSUER = "inbox-notifications"  # the service's TOKEN_ISSUER and TOKEN_AUDIENCE defaults
DEFAULT_AUDIENCE = "inbox-notifications-api"
OwnerKind = Literal["organization", "community"]
_OWNER_PATH = {"organization": "organizations", "community": "communities"}


# ---- errors ---------------------------------------------------------------------------------------

class NotificationsError(Exception):
    """Anything this client raises about a request it could not complete."""


class ConnectionFailed(NotificationsError):
    """The service could not be reached (refused, timed out, DNS) on every attempt."""


class UnexpectedResponse(NotificationsError):
    """A success status whose body is not the API's JSON (e.g. a web page: the URL is not the API's)."""


class ApiError(NotificationsError):
    """The service refused the request: `status`, and the native error body's `code`, `message`, `field`."""

    status = 0

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" (field: {field})" if field else ""))
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = dict(headers or {})


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405


class Conflict(ApiError):
    """409: e.g. an Idempotency-Key reused with another body."""

    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class RateLimited(ApiError):
    """429 after the last attempt; `retry_after` is the seconds the service asked to wait, if it said."""

    status = 429

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))


class ServerError(ApiError):
    """5xx after the last attempt."""

    status = 500


_BY_STATUS: dict[int, type[ApiError]] = {c.status: c for c in (
    BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, Conflict, PayloadTooLarge,
    UnsupportedMediaType, RateLimited)}


def error_for(status: int, body: bytes, headers: Mapping[str, str]) -> ApiError:
    """The ApiError subclass of `status`, with the native error body's fields when it has one (a gateway's
    own 403/429/5xx bodies are not native: their text becomes the message)."""
    code, message, fld = "error", "", None
    try:
        data = json.loads(body or b"null")
    except ValueError:
        data = None
    if isinstance(data, dict):
        code = str(data.get("error") or data.get("code") or code)
        message = str(data.get("message") or data.get("Message") or "")
        fld = data.get("field") if isinstance(data.get("field"), str) else None
    if not message:
        message = body.decode("utf-8", "replace").strip()[:200] or "(no body)"
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return cls(status, code, message, fld, headers)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# ---- transport ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    body: bytes


class Transport(Protocol):
    """One HTTP exchange. Raises ConnectionFailed when nothing was answered; any status is a RawResponse."""

    def __call__(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                 timeout: float) -> RawResponse: ...


class UrllibTransport:
    """The default transport: urllib, no redirects followed for non-GETs' sake (the API has none)."""

    def __call__(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                 timeout: float) -> RawResponse:
        req = urlrequest.Request(url, data=body, headers=dict(headers), method=method)
        try:
            with urlrequest.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) checked by the client
                return RawResponse(resp.status, _lower(resp.headers.items()), resp.read())
        except urlerror.HTTPError as exc:
            with exc:
                return RawResponse(exc.code, _lower(exc.headers.items()), exc.read())
        except urlerror.URLError as exc:
            raise ConnectionFailed(f"cannot reach {_origin(url)}: {_reason(exc.reason)}") from None
        except (socket.timeout, TimeoutError):
            raise ConnectionFailed(f"cannot reach {_origin(url)}: timed out after {timeout:g}s") from None
        except (ConnectionError, OSError) as exc:  # reset mid-response, etc.
            raise ConnectionFailed(f"cannot reach {_origin(url)}: {_reason(exc)}") from None


def _lower(items: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in items}


def _reason(reason: Any) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _json(resp: RawResponse, method: str, path: str) -> Any:
    if not resp.body:
        return None
    try:
        return json.loads(resp.body)
    except ValueError:
        kind = resp.headers.get("content-type", "no content type")
        raise UnexpectedResponse(f"{method} {path} answered {resp.status} with {kind}, not the API's JSON "
                                 "(is the URL the API's base URL?)") from None


# ---- results --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Notification:
    """One inbox item (the native NotificationView; times are ISO 8601 strings as the API gives them)."""

    id: str
    recipient: str
    type: str
    priority: str
    read: bool
    created_at: str
    message: str | None = None
    html: str | None = None
    template: str | None = None
    actor: str | None = None
    url: str | None = None
    icon_url: str | None = None
    group_key: str | None = None
    broadcast_id: str | None = None
    read_at: str | None = None
    updated_at: str | None = None
    expires_at: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # every field, as sent

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Notification:
        return cls(id=d["id"], recipient=d["recipient"], type=d["type"], priority=d["priority"], read=d["read"],
                   created_at=d["createdAt"], message=d.get("message"), html=d.get("html"),
                   template=d.get("template"), actor=d.get("actor"), url=d.get("url"), icon_url=d.get("iconUrl"),
                   group_key=d.get("groupKey"), broadcast_id=d.get("broadcastId"), read_at=d.get("readAt"),
                   updated_at=d.get("updatedAt"), expires_at=d.get("expiresAt"),
                   metadata=dict(d.get("metadata") or {}), raw=dict(d))


@dataclass(frozen=True)
class InboxPage:
    notifications: list[Notification]
    cursor: str | None  # pass back for the next page; None at the end


@dataclass(frozen=True)
class Sent:
    id: str
    recipient: str
    aggregated: bool = False


@dataclass(frozen=True)
class Skipped:
    recipient: str
    reason: str


@dataclass(frozen=True)
class SendResult:
    """201 (`delivered`: one notification per recipient) or 202 (`queued`: a broadcast to follow by id)."""

    status: str
    notifications: list[Sent]
    skipped: list[Skipped]
    broadcast_id: str | None
    idempotency_key: str
    replayed: bool  # the service answered an earlier send with this key (a retry)


@dataclass(frozen=True)
class MarkReadResult:
    marked: int
    status: str  # "complete", or "queued" with job_id (follow it with get_broadcast)
    job_id: str | None = None


@dataclass(frozen=True)
class User:
    id: str
    name: str | None = None
    short_name: str | None = None
    profile_picture_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    is_api_user: bool = False

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> User:
        return cls(id=d["id"], name=d.get("name"), short_name=d.get("shortName"),
                   profile_picture_url=d.get("profilePictureURL"), metadata=dict(d.get("metadata") or {}),
                   is_api_user=bool(d.get("isApiUser")))


@dataclass(frozen=True)
class UserSettings:
    muted_types: list[str]
    min_priority: str


@dataclass(frozen=True)
class Membership:
    user_id: str
    role: str
    banned: bool = False
    is_api_user: bool = False
    joined_at: str | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Membership:
        return cls(user_id=d["userId"], role=d["role"], banned=bool(d.get("banned")),
                   is_api_user=bool(d.get("isApiUser")), joined_at=d.get("joinedAt"))


@dataclass(frozen=True)
class MemberPage:
    members: list[Membership]
    cursor: str | None


@dataclass(frozen=True)
class ChunkProgress:
    total: int | None  # None while the audience is still being cut
    enqueued: int
    done: int
    failed: int


@dataclass(frozen=True)
class Broadcast:
    """A broadcast's (or mark-all-read job's) progress, as GET /v1/broadcasts/{id} shows it."""

    id: str
    status: str  # queued | running | complete | failed
    audience: dict[str, str]
    eligible: int
    delivered: int
    skipped: int
    created_at: str | None = None
    updated_at: str | None = None
    completed_at: str | None = None
    error: str | None = None
    chunks: ChunkProgress | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("complete", "failed")

    @property
    def fraction(self) -> float | None:
        """Share of the work done (0..1), or None while the total is unknown: chunks done of all chunks
        for an organization/community broadcast, recipients handled of those eligible otherwise."""
        if self.status == "complete":
            return 1.0
        if self.chunks is not None:
            return None if not self.chunks.total else min(1.0, self.chunks.done / self.chunks.total)
        if self.eligible:
            return min(1.0, (self.delivered + self.skipped) / self.eligible)
        return None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Broadcast:
        c = d.get("chunks")
        return cls(id=d["id"], status=d["status"], audience=dict(d.get("audience") or {}),
                   eligible=int(d.get("eligible") or 0), delivered=int(d.get("delivered") or 0),
                   skipped=int(d.get("skipped") or 0), created_at=d.get("createdAt"), updated_at=d.get("updatedAt"),
                   completed_at=d.get("completedAt"), error=d.get("error"),
                   chunks=None if c is None else ChunkProgress(c.get("total"), int(c.get("enqueued") or 0),
                                                               int(c.get("done") or 0), int(c.get("failed") or 0)))


# ---- tokens ---------------------------------------------------------------------------------------

def mint_token(tenant: str, key: str, user: str | None = None, *, roles: Sequence[str] = (), ttl_seconds: int = 900,
               application: str | None = None, issuer: str = DEFAULT_ISSUER, audience: str = DEFAULT_AUDIENCE) -> str:
    """A token the service accepts: HS256 with the tenant's key (its TENANT_KEYS entry); a user token when
    `user` is given (what a backend hands the bell), else the tenant's server token. `issuer` and
    `audience` must match the service's TOKEN_ISSUER and TOKEN_AUDIENCE (defaults: the service's)."""
    import jwt  # PyJWT, only here: the rest of the client needs nothing outside the standard library

    now = int(time.time())
    claims: dict[str, Any] = {"iss": issuer, "aud": audience, "iat": now, "exp": now + ttl_seconds, "tid": tenant,
                              "roles": list(roles), "kind": "user" if user else "server"}
    if user:
        claims["sub"] = user
    if application:
        claims["app"] = application
    return jwt.encode(claims, key, algorithm="HS256")


# ---- the client -----------------------------------------------------------------------------------

RETRIED = frozenset({429, 500, 502, 503, 504})
# 409s the service asks to retry: the same Idempotency-Key's first request is still being carried out
# (e.g. a retry after a timeout); the retry then answers its result.
RETRIED_CODES = frozenset({"idempotency_in_progress", "idempotency_conflict"})


class NotificationsClient:
    """The native API. `token` is a bearer token or a function returning one (called per request, so a
    backend can refresh it). Each request is tried at most `attempts` times on a 429, a 5xx, a connection
    failure or a send whose key is still in progress, waiting `Retry-After` when the service says (never
    longer than `max_wait`: a longer wait raises at once) and otherwise an exponential backoff with jitter.
    A DELETE retried after an unanswered attempt takes the 404 that follows as done."""

    def __init__(self, base_url: str, token: str | Callable[[], str], *, transport: Transport | None = None,
                 timeout: float = 30.0, attempts: int = 4, backoff: float = 0.5, max_wait: float = 30.0,
                 sleep: Callable[[float], None] | None = None, user_agent: str = "notifications-client/1") -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base URL must start with http:// or https://, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.transport: Transport = transport or UrllibTransport()
        self.timeout, self.attempts, self.backoff, self.max_wait = timeout, max(1, attempts), backoff, max_wait
        self._sleep = sleep  # None: time.sleep, looked up when called
        self.user_agent = user_agent
        self._lock = threading.Lock()
        self.calls = 0  # HTTP requests sent, retries included (thread-safe)
        self.retries = 0

    # -- plumbing --

    def request(self, method: str, path: str, body: Any = None, *, query: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None) -> tuple[int, Mapping[str, str], Any]:
        """One API call with retries: (status, headers, parsed JSON body or None). Raises ApiError on 4xx/5xx."""
        url = self.base_url + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urlencode(params)
        token = self._token() if callable(self._token) else self._token
        h = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": self.user_agent,
             **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            h["Content-Type"] = "application/json"
        unsure = False  # an earlier attempt may have been carried out (no answer, or a 5xx)
        for attempt in range(1, self.attempts + 1):
            with self._lock:
                self.calls += 1
            try:
                resp = self.transport(method, url, h, data, self.timeout)
            except ConnectionFailed:
                if attempt == self.attempts:
                    raise
                unsure = True
                self._wait(attempt, None)
                continue
            if resp.status < 400:
                return resp.status, resp.headers, _json(resp, method, path)
            err = error_for(resp.status, resp.body, resp.headers)
            if method == "DELETE" and resp.status == 404 and unsure:
                return 204, resp.headers, None  # the earlier attempt deleted it
            if attempt < self.attempts and (resp.status in RETRIED or err.code in RETRIED_CODES):
                told = parse_retry_after(resp.headers.get("retry-after"))
                if told is None or told <= self.max_wait:
                    unsure = unsure or resp.status >= 500
                    self._wait(attempt, told)
                    continue
            raise err
        raise AssertionError("unreachable")  # the loop returns or raises

    def _wait(self, attempt: int, told: float | None) -> None:
        with self._lock:
            self.retries += 1
        delay = told if told is not None else random.uniform(0, min(self.max_wait, self.backoff * 2 ** (attempt - 1)))
        (self._sleep or time.sleep)(delay)

    @staticmethod
    def _seg(value: str) -> str:
        return quote(value, safe="")

    # -- sending --

    def send(self, *, to: str | Sequence[str] | None = None, organization: str | None = None,
             community: str | None = None, type: str, message: str | None = None, priority: str | None = None,
             template: str | None = None, actor: str | None = None, url: str | None = None,
             icon_url: str | None = None, metadata: Mapping[str, Any] | None = None,
             location: Mapping[str, Any] | None = None, group_key: str | None = None,
             expires_at: str | int | None = None, idempotency_key: str | None = None,
             **extra: Any) -> SendResult:
        """Send to one user or a list (`to`; 201, delivered now), or to an organization or community (202, a
        broadcast). Exactly one audience. `idempotency_key` (generated when None) makes retries safe: the
        service answers a repeated key with the first result (`replayed`). `extra`: other SendRequest
        fields by their API names (e.g. organizationID, resourceUri)."""
        audiences = [a for a in (to, organization, community) if a is not None]
        if len(audiences) != 1:
            raise ValueError("give exactly one of to, organization, community")
        body: dict[str, Any] = {"type": type}
        if to is not None:
            body["recipients"] = [to] if isinstance(to, str) else list(to)
        if organization is not None:
            body["organization"] = organization
        if community is not None:
            body["community"] = community
        for name, value in (("message", message), ("priority", priority), ("template", template),
                            ("actor", actor), ("url", url), ("iconUrl", icon_url), ("groupKey", group_key),
                            ("expiresAt", expires_at)):
            if value is not None:
                body[name] = value
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if location is not None:
            body["location"] = dict(location)
        body.update({k: v for k, v in extra.items() if v is not None})
        key = idempotency_key or uuid.uuid4().hex
        _, headers, data = self.request("POST", "/v1/notifications", body, headers={"Idempotency-Key": key})
        return SendResult(status=data.get("status") or "", broadcast_id=data.get("broadcastId"),
                          notifications=[Sent(n["id"], n["recipient"], bool(n.get("aggregated")))
                                         for n in data.get("notifications") or []],
                          skipped=[Skipped(s["recipient"], s["reason"]) for s in data.get("skipped") or []],
                          idempotency_key=key, replayed=headers.get("idempotent-replayed") == "true")

    # -- inboxes --

    def list_inbox(self, user: str = "me", *, limit: int | None = None, cursor: str | None = None,
                   status: Literal["unread", "read", "all"] | None = None, type: str | None = None,
                   priority: str | None = None, since: str | int | None = None,
                   before: str | int | None = None) -> InboxPage:
        """One page, newest first. `user` is 'me' with a user token, any user id with a server token."""
        _, _, data = self.request("GET", f"/v1/users/{self._seg(user)}/notifications", query={
            "limit": limit, "cursor": cursor, "status": status, "type": type, "priority": priority, "since": since,
            "before": before})
        return InboxPage([Notification.from_json(n) for n in data["notifications"]], data.get("cursor"))

    def iter_inbox(self, user: str = "me", *, page_size: int = 100, **filters: Any) -> Iterator[Notification]:
        """Every notification of an inbox, page after page (cursor paging)."""
        cursor = None
        while True:
            page = self.list_inbox(user, limit=page_size, cursor=cursor, **filters)
            yield from page.notifications
            cursor = page.cursor
            if not cursor:
                return

    def unread_count(self, user: str = "me") -> int:
        _, _, data = self.request("GET", f"/v1/users/{self._seg(user)}/notifications/unread-count")
        return int(data["unreadCount"])

    def get_notification(self, notification_id: str) -> Notification:
        _, _, data = self.request("GET", f"/v1/notifications/{self._seg(notification_id)}")
        return Notification.from_json(data)

    def set_read(self, notification_id: str, read: bool = True) -> Notification:
        _, _, data = self.request("PATCH", f"/v1/notifications/{self._seg(notification_id)}", {"read": read})
        return Notification.from_json(data)

    def delete_notification(self, notification_id: str) -> None:
        self.request("DELETE", f"/v1/notifications/{self._seg(notification_id)}")

    def mark_read(self, user: str, ids: Sequence[str]) -> MarkReadResult:
        return self._mark(user, {"ids": list(ids)})

    def mark_all_read(self, user: str = "me", before: str | int | None = None) -> MarkReadResult:
        """Everything (or everything before a time) read; a large inbox continues in the background
        (status 'queued', follow `job_id` with get_broadcast)."""
        return self._mark(user, {"all": True} if before is None else {"before": before})

    def _mark(self, user: str, body: dict[str, Any]) -> MarkReadResult:
        _, _, data = self.request("POST", f"/v1/users/{self._seg(user)}/notifications/read", body)
        return MarkReadResult(int(data["marked"]), data["status"], data.get("jobId"))

    # -- users and memberships (server token) --

    def put_user(self, user_id: str, *, name: str | None = None, short_name: str | None = None,
                 profile_picture_url: str | None = None, metadata: Mapping[str, Any] | None = None,
                 is_api_user: bool = False) -> tuple[User, bool]:
        """Create or replace a profile: (the profile, whether it is new)."""
        body: dict[str, Any] = {"isApiUser": is_api_user}
        for name_, value in (("name", name), ("shortName", short_name), ("profilePictureURL", profile_picture_url)):
            if value is not None:
                body[name_] = value
        if metadata:
            body["metadata"] = dict(metadata)
        status, _, data = self.request("PUT", f"/v1/users/{self._seg(user_id)}", body)
        return User.from_json(data), status == 201

    def get_user(self, user_id: str = "me") -> User:
        _, _, data = self.request("GET", f"/v1/users/{self._seg(user_id)}")
        return User.from_json(data)

    def get_settings(self, user_id: str = "me") -> UserSettings:
        _, _, data = self.request("GET", f"/v1/users/{self._seg(user_id)}/settings")
        return UserSettings(list(data["mutedTypes"]), data["minPriority"])

    def put_settings(self, user_id: str = "me", *, muted_types: Sequence[str] = (),
                     min_priority: str = "low") -> UserSettings:
        """A user's notification settings: types they never get, and the lowest priority they get."""
        _, _, data = self.request("PUT", f"/v1/users/{self._seg(user_id)}/settings",
                                  {"mutedTypes": list(muted_types), "minPriority": min_priority})
        return UserSettings(list(data["mutedTypes"]), data["minPriority"])

    def _members(self, kind: OwnerKind, owner_id: str) -> str:
        if kind not in _OWNER_PATH:
            raise ValueError(f"kind must be organization or community, not {kind!r}")
        return f"/v1/{_OWNER_PATH[kind]}/{self._seg(owner_id)}/members"

    def put_member(self, kind: OwnerKind, owner_id: str, user_id: str, role: str,
                   banned: bool = False) -> tuple[Membership, bool]:
        """Add or change a member of an organization or community: (the membership, whether it is new).
        Put the user's profile first: the membership records whether the user is an API user."""
        status, _, data = self.request("PUT", f"{self._members(kind, owner_id)}/{self._seg(user_id)}",
                                       {"role": role, "banned": banned})
        return Membership.from_json(data), status == 201

    def get_member(self, kind: OwnerKind, owner_id: str, user_id: str) -> Membership:
        _, _, data = self.request("GET", f"{self._members(kind, owner_id)}/{self._seg(user_id)}")
        return Membership.from_json(data)

    def remove_member(self, kind: OwnerKind, owner_id: str, user_id: str) -> None:
        self.request("DELETE", f"{self._members(kind, owner_id)}/{self._seg(user_id)}")

    def list_members(self, kind: OwnerKind, owner_id: str, *, limit: int | None = None,
                     cursor: str | None = None) -> MemberPage:
        _, _, data = self.request("GET", self._members(kind, owner_id), query={"limit": limit, "cursor": cursor})
        return MemberPage([Membership.from_json(m) for m in data["members"]], data.get("cursor"))

    def iter_members(self, kind: OwnerKind, owner_id: str, *, page_size: int = 100) -> Iterator[Membership]:
        cursor = None
        while True:
            page = self.list_members(kind, owner_id, limit=page_size, cursor=cursor)
            yield from page.members
            cursor = page.cursor
            if not cursor:
                return

    # -- broadcasts --

    def get_broadcast(self, broadcast_id: str) -> Broadcast:
        _, _, data = self.request("GET", f"/v1/broadcasts/{self._seg(broadcast_id)}")
        return Broadcast.from_json(data)

    def wait_broadcast(self, broadcast_id: str, *, interval: float = 1.0, timeout: float | None = None,
                       on_progress: Callable[[Broadcast], None] | None = None) -> Broadcast:
        """Poll until the broadcast is complete or failed (returned either way); TimeoutError after `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            b = self.get_broadcast(broadcast_id)
            if on_progress is not None:
                on_progress(b)
            if b.finished:
                return b
            if deadline is not None and time.monotonic() + interval > deadline:
                raise TimeoutError(f"broadcast {broadcast_id} still {b.status} after {timeout:g}s")
            (self._sleep or time.sleep)(interval)

    def list_types(self) -> list[dict[str, Any]]:
        _, _, data = self.request("GET", "/v1/notification-types")
        return list(data["types"])
