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
    offset = service.log_path.stat().st_size  # the session's service: only this test's lines come after
    assert session.get(service.url("/v1/users/me/notifications/unread-count")).status_code == 200
    refused = session.get(service.url("/v1/users/me/notifications"), headers={"Authorization": "Bearer nope-123"})
    assert refused.status_code == 401

    def new_lines() -> list[dict]:
        with open(service.log_path, "rb") as log:
            log.seek(offset)
            lines = _request_lines(log.read().decode("utf-8", "replace"))
        return lines if len(lines) >= 2 else []

    line, refusal = wait_for(new_lines, timeout=10)[:2]
    assert (line["method"], line["route"], line["status"]) == ("GET", "/v1/users/{userId}/notifications/unread-count",
                                                                200)
    assert (line["tenant"], line["caller"], line["service"]) == ("dev", "user", "notifications-service")
    assert line["request_id"] and line["request_id"] != refusal["request_id"] and line["latency_ms"] >= 0
    assert (refusal["route"], refusal["status"], refusal["caller"]) == ("/v1/users/{userId}/notifications", 401,
                                                                       "refused")
    text = service.log_path.read_text()
    assert token not in text and "nope-123" not in text
