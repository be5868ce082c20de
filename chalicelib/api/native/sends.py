"""POST /v1/notifications: to recipients (201) or to an organization or community (202, a broadcast)."""
from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.api import schemas as s
from chalicelib.api.http import Call, json_response, parse
from chalicelib.api.kit.parsers import priority
from chalicelib.api.kit.times import epoch_seconds
from chalicelib.domain import idempotency, sending
from chalicelib.domain.model import Audience, Content
from chalicelib.ids import new_ulid


def content_from(req: s.SendRequest) -> Content:
    return Content(
        type=req.type, priority=priority(req.priority), message=req.message, template=req.template,
        actor=req.actor, url=req.url, icon_url=req.iconUrl, metadata=dict(req.metadata or {}),
        location=dict(req.location or {}), organization_id=req.organizationID,
        attachment=req.attachment.model_dump() if req.attachment else None, extra_classnames=req.extraClassnames,
        group_key=req.groupKey, expires_at=epoch_seconds(req.expiresAt, "expiresAt"), resource_uri=req.resourceUri,
    )


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
