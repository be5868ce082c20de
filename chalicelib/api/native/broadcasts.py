"""GET /v1/broadcasts/{id}: a broadcast's (or mark-all job's) progress."""
from __future__ import annotations

from chalice import Response

from chalicelib.api.http import Call, json_response
from chalicelib.api.native.views import broadcast_view
from chalicelib.domain import jobs


def get_broadcast(call: Call) -> Response:
    return json_response(broadcast_view(jobs.broadcast_status(call.require_caller(), call.params["id"])))
