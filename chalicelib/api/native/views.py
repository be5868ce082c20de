"""Domain values as the native API's JSON (the models of chalicelib.api.schemas document them)."""
from __future__ import annotations

from typing import Any

from chalicelib.api.kit.times import iso
from chalicelib.domain.model import Notification, Profile, UserSettings


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


def broadcast_view(b) -> dict[str, Any]:
    """A broadcast's (or mark-all job's) progress."""
    return {"id": b.id, "status": b.status, "audience": b.audience, "eligible": b.eligible,
            "delivered": b.delivered, "skipped": b.skipped, "createdAt": iso(b.created_at),
            "updatedAt": iso(b.updated_at), "completedAt": iso(b.completed_at), "error": b.error,
            "chunks": None if b.chunks is None else {
                "total": b.chunks.total, "enqueued": b.chunks.enqueued, "done": b.chunks.done,
                "failed": b.chunks.failed}}


def user_view(p: Profile) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "shortName": p.short_name, "profilePictureURL": p.profile_picture_url,
            "metadata": p.metadata, "isApiUser": p.is_api_user}


def settings_view(st: UserSettings) -> dict[str, Any]:
    return {"mutedTypes": st.muted_types, "minPriority": st.min_priority.label}


def member_view(m) -> dict[str, Any]:
    return {"userId": m.user, "role": m.role, "banned": m.banned, "isApiUser": m.is_api_user,
            "joinedAt": iso(m.joined_at) if m.joined_at else None}
