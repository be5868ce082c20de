"""WebSocket tickets: what a page trades its bearer token for before opening a push socket.

A browser cannot set headers on a WebSocket, and a long-lived token in a URL ends up in access logs.
So the page asks `POST /v1/realtime/tickets` with its token and gets a random ticket that opens one
socket, once, within REALTIME_TICKET_TTL_SECONDS (≤ 60), bound to its tenant and user. Only a SHA-256
of the ticket is stored (chalicelib.store.connections).
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from chalicelib.domain.errors import DomainError, Unauthorized
from chalicelib.domain.principal import Caller
from chalicelib.settings import TENANT_ID, get_realtime_settings
from chalicelib.store import connections

TICKET_BYTES = 32
MAX_TICKET_LENGTH = 200


class RealtimeUnavailable(DomainError):
    """No socket URL is configured (REALTIME_WEBSOCKET_URL): the push channel is off here."""

    kind = "unavailable"


@dataclass(frozen=True)
class Ticket:
    url: str  # the socket URL with the ticket in its query
    expires_at: int  # epoch seconds
    tenant: str
    user: str


def issue_ticket(caller: Caller, user_id: str = "me", now: float | None = None) -> Ticket:
    """A single-use ticket for `user_id` ('me' for a user token; a server token names the user)."""
    settings = get_realtime_settings()
    if not settings.websocket_url:
        raise RealtimeUnavailable("realtime_unavailable", "the push channel is not configured here; poll instead")
    user = caller.resolve_user(user_id)
    ticket = f"{caller.tenant}.{secrets.token_urlsafe(TICKET_BYTES)}"  # the tenant names the ticket's partition
    expires_at = int(time.time() if now is None else now) + settings.ticket_ttl_seconds
    connections.put_ticket(ticket, caller.tenant, user, expires_at)
    return Ticket(f"{settings.websocket_url}/?ticket={quote(ticket)}", expires_at, caller.tenant, user)


def redeem_ticket(ticket: str | None, now: float | None = None) -> tuple[str, str]:
    """Consume a ticket (single use): its (tenant, user). Unauthorized if it is missing, unknown,
    used or expired (the socket is then refused)."""
    if not ticket or len(ticket) > MAX_TICKET_LENGTH or not TENANT_ID.match(ticket.partition(".")[0]):
        raise Unauthorized("invalid_ticket", "a valid ticket is required")
    owner = connections.take_ticket(ticket, now)
    if owner is None:
        raise Unauthorized("invalid_ticket", "the ticket is unknown, used or expired")
    return owner
