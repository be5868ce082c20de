"""Deleting a notification one owns: the recipient (from their inbox), or its sender.

api3's DELETE lets "the requester delete their own notification". Here that means a
notification in the requester's inbox, or one the requester sent (they are its actor or
one of its aggregated senders; it is deleted from that recipient's inbox). The tenant's
server token owns everything in its tenant. Anything else is indistinguishable from a
missing id.
"""
from __future__ import annotations

from chalicelib import ids
from chalicelib.domain import inbox, read_state
from chalicelib.domain.errors import NotFound
from chalicelib.domain.principal import Caller


def delete_own(caller: Caller, notification_id: str) -> None:
    parsed = ids.parse_notification_id(notification_id)
    if parsed is None:
        raise NotFound("notification_not_found", "no notification with that id", "id")
    recipient, _ = parsed
    if caller.is_server or caller.user == recipient:
        read_state.delete(caller, notification_id)
        return
    tenant_wide = Caller(tenant=caller.tenant, user=None, roles=caller.roles, application=caller.application)
    notification = inbox.get(tenant_wide, notification_id)
    if caller.user not in notification.senders and notification.content.actor != caller.user:
        raise NotFound("notification_not_found", "no notification with that id", "id")
    read_state.delete(tenant_wide, notification_id)
