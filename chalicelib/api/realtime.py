"""The realtime surface: `POST /v1/realtime/tickets`, the WebSocket handlers and the push stream handler.

Thin as every handler: parse → chalicelib.domain.tickets / chalicelib.domain.realtime → shape. The
socket messages are shaped here (the native notification view), so the domain stays free of HTTP.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from chalice import Response
from pydantic import BaseModel, Field

from chalicelib.api.http import Call, dumps, json_response
from chalicelib.api.kit.routing import Param, Reply, Route
from chalicelib.api.kit.times import iso
from chalicelib.api.native.errors import GROUP, error_response
from chalicelib.api.native.views import notification_view
from chalicelib.api.schemas import ErrorBody
from chalicelib.domain import realtime, tickets
from chalicelib.domain.errors import Unauthorized
from chalicelib.store import connections

log = logging.getLogger(__name__)

PROTOCOL = """\
Trade the bearer token for a short-lived, single-use ticket, then open the WebSocket at `url` (the ticket
is in its query: no long-lived token ever sits in a URL or an access log). The ticket is bound to the
tenant and user, expires after REALTIME_TICKET_TTL_SECONDS (default 30, at most 60) and opens one socket
once; a used, unknown or expired ticket gets the socket refused (401 on the upgrade). A server token may
ask on behalf of a named user (`?userId=alice`); a user token only for itself.

On the socket the server sends JSON text messages, one per change of the inbox, each with the unread
count after it:
- `{"event": "notification.created", "notification": {...the native notification view...}, "unreadCount": n}`
- `{"event": "notification.updated", "id": "...", "read": true|false, "unreadCount": n}` (read, unread; an
  aggregation bump also carries `notification`, the item's new view)
- `{"event": "notification.deleted", "id": "...", "unreadCount": n}`
- `{"event": "inbox.reset", "unreadCount": n}`: after mark-all-read, an expiry, or more than 10 changes at
  once (a client refetches what it shows).
The client may send `{"action": "ping"}` (answered `{"event": "pong"}`). API Gateway closes a socket idle
for 10 minutes and any socket after 2 hours; the client then asks for a new ticket and reconnects (with
backoff), and polls with If-None-Match meanwhile. Only the sockets of the inbox's own user (same tenant)
ever receive its changes."""


class TicketView(BaseModel):
    __doc__ = "A WebSocket ticket, and the push protocol of the socket it opens.\n\n" + PROTOCOL

    url: str = Field(description="ws:// or wss:// URL to open, the ticket in its query", examples=[
        "wss://abc123.execute-api.eu-west-1.amazonaws.com/api/?ticket=..."])
    expiresAt: str = Field(description="ISO 8601: the ticket is refused after this time")


USER_PARAM = Param("userId", "Server tokens: the user the socket is for (a user token may only give itself)",
                   {"type": "string", "minLength": 1, "maxLength": 256}, ("alice",))


def create_ticket(call: Call) -> Response:
    caller = call.require_caller()
    try:
        ticket = tickets.issue_ticket(caller, call.q("userId") or "me")
    except tickets.RealtimeUnavailable as exc:
        return error_response(exc, 503)
    return json_response({"url": ticket.url, "expiresAt": iso(ticket.expires_at * 1000)}, 201,
                         headers={"Cache-Control": "no-store"})


def routes() -> list[Route]:
    """The native surface's realtime route (listed in chalicelib/api/native/routes.py)."""
    return [GROUP.route("/v1/realtime/tickets", "POST", create_ticket, "create_realtime_ticket",
                        "A single-use ticket for the realtime WebSocket (see the TicketView schema for the protocol)",
                        tag="Realtime", response_model=TicketView, success_status=201,
                        query_params=[USER_PARAM], error_statuses=(400, 401, 403, 404),
                        replies=[Reply(503, "No push channel is configured here: poll instead", ErrorBody)])]


# ---- the WebSocket handlers (app.py: $connect, $disconnect, $default; the local server) --------------

def connect(connection_id: str, query: dict[str, Any] | None) -> int:
    """`$connect`: consume the ticket and bind the socket to its tenant and user. The status to answer:
    200, or 401 (the socket is refused). The ticket is never logged."""
    ticket = (query or {}).get("ticket")
    try:
        tenant, user = tickets.redeem_ticket(ticket if isinstance(ticket, str) else None)
    except Unauthorized:
        return 401
    connections.add_connection(tenant, user, connection_id)
    return 200


def disconnect(connection_id: str) -> None:
    """`$disconnect`: forget the socket."""
    connections.remove_connection(connection_id)


def message(body: str | None) -> dict[str, Any] | None:
    """`$default`: the reply to a client's message, if any (`{"action": "ping"}` → pong)."""
    try:
        data = json.loads(body or "")
    except ValueError:
        data = None
    action = data.get("action") if isinstance(data, dict) else None
    if action == "ping":
        return {"event": "pong"}
    return {"event": "error", "message": "unknown action: send {\"action\": \"ping\"}"}


# ---- inbox stream → sockets ------------------------------------------------------------------------

def encode(message_: dict[str, Any]) -> bytes:
    return dumps(message_).encode("utf-8")


def handle_push_stream(event: dict[str, Any]) -> dict[str, Any]:
    """The `push` function: inbox stream records (NEW_AND_OLD_IMAGES) → the users' sockets."""
    return realtime.timed_push(event.get("Records", []), notification_view, encode)

