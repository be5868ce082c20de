"""`notifications dev` prints the operator's lines as Lambda does: one JSON line per request, its request id
the one the client got (x-amzn-RequestId), and never the token."""
from __future__ import annotations

import json

from tests.integration.conftest import needs_local_process, wait_for


def _request_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        if line.startswith("{") and '"kind":"request"' in line:
            out.append(json.loads(line))
    return out


def test_one_json_line_per_request_without_the_token(service):
    needs_local_process()
    session = service.session("dev", "alice")
    token = session.headers["Authorization"].split()[1]
    r = session.get(service.url("/v1/users/me/notifications/unread-count"))
    assert r.status_code == 200
    request_id = r.headers["x-amzn-RequestId"]
    refused = session.get(service.url("/v1/users/me/notifications"), headers={"Authorization": "Bearer nope-123"})
    assert refused.status_code == 401

    def lines_for(wanted: str) -> list[dict]:
        return [line for line in _request_lines(service.log_path.read_text()) if line.get("request_id") == wanted]

    [line] = wait_for(lambda: lines_for(request_id), timeout=10)
    assert (line["method"], line["route"], line["status"]) == ("GET", "/v1/users/{userId}/notifications/unread-count",
                                                                200)
    assert (line["tenant"], line["caller"], line["service"]) == ("dev", "user", "inbox-notifications")
    [refusal] = wait_for(lambda: lines_for(refused.headers["x-amzn-RequestId"]), timeout=10)
    assert (refusal["status"], refusal["caller"]) == (401, "refused")
    text = service.log_path.read_text()
    assert token not in text and "nope-123" not in text
