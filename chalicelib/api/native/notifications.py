"""One notification by id: get, mark read or unread, delete."""
from __future__ import annotations

from chalice import Response

from chalicelib.api import schemas as s
from chalicelib.api.http import Call, empty_response, json_response, parse
from chalicelib.api.native.views import notification_view
from chalicelib.domain import inbox, read_state


def get_notification(call: Call) -> Response:
    return json_response(notification_view(inbox.get(call.require_caller(), call.params["id"])))


def patch_notification(call: Call) -> Response:
    req = parse(s.ReadPatch, call.json())
    return json_response(notification_view(read_state.set_read(call.require_caller(), call.params["id"], req.read)))


def delete_notification(call: Call) -> Response:
    read_state.delete(call.require_caller(), call.params["id"])
    return empty_response(204)
