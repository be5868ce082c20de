"""Regressions the schemathesis run (tests/fuzz) found: each test names the request that failed."""
from __future__ import annotations

import json

import pytest

from tests.conftest import auth

BODY = {
    "/v1/notifications": ("POST", '{"recipients": ["bob"], "type": "T", "message": "x"}', None),
    "/threatconnect/api/v2/notifications": ("POST", '{"message": "m", "notificationType": "T", "priority": "low", '
                                                    '"recipients": "bob"}', None),
    "/cord/v1/notifications": ("POST", '{"recipientID": "bob", "template": "t", "url": "https://x.io", '
                                       '"type": "url"}', None),
    "/spark/v1/notifications": ("POST", '{"D": {"Type": "General", "Message": "m"}}', "alice"),
}


def error_shape(path: str, data) -> bool:
    if path.startswith("/v1/"):
        return set(data) <= {"error", "message", "field"} and data["error"] == "unsupported_media_type"
    if path.startswith("/threatconnect/"):
        return data["status"] == "Failure" and set(data) == {"status", "message"}
    if path.startswith("/cord/"):
        return set(data) == {"error", "message"}
    if path.startswith("/spark/"):
        return data["D"]["Success"] is False and set(data["D"]) == {"Success", "Code", "Message"}
    raise AssertionError(path)


@pytest.mark.parametrize("path", sorted(BODY))
@pytest.mark.parametrize("content_type", ["multipart/form-data", "application/octet-stream", ""])
def test_unsupported_content_type_is_415_in_the_surface_shape(client, path, content_type):
    # Found: PATCH /v1/notifications/0 with Content-Type: multipart/form-data answered Chalice's own
    # {"Code": "UnsupportedMediaType", "Message": ...}, on every surface.
    method, body, user = BODY[path]
    headers = {**auth("dev", user, roles=["Private"] if user else ()), "Content-Type": content_type}
    r = client.http.request(method, path, headers=headers, body=body.encode())
    assert r.status_code == 415, r.body
    assert r.headers["Content-Type"] == "application/json"
    assert error_shape(path, json.loads(r.body)), r.body


@pytest.mark.parametrize("method,path", [("GET", "/v1/users/bob"), ("DELETE", "/v1/notifications/0"),
                                         ("GET", "/v1/notification-types"), ("DELETE", "/api3/notification/0")])
def test_a_route_without_a_body_ignores_the_content_type(client, method, path):
    # Found: GET /v1/users/alice and DELETE /api3/notification/0 with Content-Type: multipart/form-data
    # (and no body) were refused with Chalice's 415.
    headers = {**auth("dev"), "Content-Type": "multipart/form-data; boundary=x"}
    r = client.http.request(method, path, headers=headers, body=b"")
    assert r.status_code != 415 and r.status_code < 500, r.body


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
@pytest.mark.parametrize("path,allowed,shape", [
    ("/v1/notification-types", "GET", lambda d: set(d) == {"error", "message"} and d["error"] == "method_not_allowed"),
    ("/threatconnect/api/v2/notifications", "POST", lambda d: d["status"] == "Failure"),
    ("/cord/v1/notifications", "POST", lambda d: set(d) == {"error", "message"}),
    ("/api3/notification/x", "DELETE, GET", lambda d: d == {"message": d["message"], "code": 405}),
    ("/spark/v1/notifications/unread", "GET", lambda d: d["D"]["Code"] == 405),
])
def test_head_and_options_are_405_in_the_surface_shape(client, method, path, allowed, shape):
    # Found: schemathesis's unsupported-method probe; HEAD and OPTIONS (which API Gateway routes to the
    # app) had no fallback route, so Chalice answered {"Code": "MethodNotAllowedError", ...}.
    r = client.http.request(method, path, headers=auth("dev"), body=b"")
    assert r.status_code == 405, (r.status_code, r.body)
    assert r.headers["Allow"] == allowed
    assert shape(json.loads(r.body)), r.body


def test_unknown_path_head_is_404_in_the_surface_shape(client):
    r = client.http.request("HEAD", "/spark/v9/nothing", headers=auth("dev"), body=b"")
    assert r.status_code == 404 and json.loads(r.body)["D"]["Code"] == 404


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\x0b"])
def test_control_characters_in_a_template_are_400(server, client, char):
    # Found (tests/fuzz/test_edge_strings.py): POST /cord/v1/notifications with
    # "template": "a\u0000b" answered 200 and stored the NUL into every header text node; the native
    # send's template the same (201). Messages already refused them.
    for user in ("123", "456"):
        server.put(f"/v1/users/{user}", {"name": user})
    template = "{{actor}} a" + char + "b"
    r = server.post("/v1/notifications", {"recipients": ["bob"], "type": "T", "template": template, "actor": "123"})
    assert r.status_code == 400 and r.data["field"] == "template", r.body
    cord = client.http.post("/cord/v1/notifications", headers=auth("dev"), body=json.dumps({
        "actorID": "123", "recipientID": "456", "template": template, "url": "https://x.io/", "type": "url"}))
    assert cord.status_code == 400, cord.body
    assert "template" in json.loads(cord.body)["message"]


@pytest.mark.parametrize("char", ["\t", "\n", "\r"])
def test_tab_and_newlines_stay_allowed_in_a_template(server, char):
    r = server.post("/v1/notifications", {"recipients": ["bob"], "type": "T", "template": f"a{char}b"})
    assert r.status_code == 201, r.body


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f"])
def test_spark_control_character_error_names_message(client, char):
    # Found: POST /spark/v1/notifications {"D": {"Type": "General", "Message": "a\u0000b"}} -> 400 whose
    # Message named the core's field ("message must not contain ..."), not Spark's "Message".
    r = client.http.post("/spark/v1/notifications", headers=auth("dev", "alice", roles=["Private"]),
                         body=json.dumps({"D": {"Type": "General", "Message": f"a{char}b"}}))
    assert r.status_code == 400, r.body
    d = json.loads(r.body)["D"]
    assert d["Code"] == 1053 and d["Message"].startswith("Message must not contain control characters"), d


@pytest.mark.parametrize("path", ["/v1/users/bob/notifications", "/cord/v1/users/bob/notifications"])
@pytest.mark.parametrize("flt", ['{"metadata":{"k":"\\ud800"}}', '{"metadata":{"\\udfff":"v"}}',
                                 '{"organizationID":"\\ud800"}', '{"location":{"room":"a\\udbffb"}}'])
def test_lone_surrogate_in_the_filter_json_is_400(server, client, path, flt):
    # Found with the fuzz edge cases: GET /v1/users/alice/notifications?filter={"metadata":{"k":"\ud800"}}
    # (URI-encoded) -> 200, the unencodable string went into the DynamoDB filter expression.
    from urllib.parse import quote

    server.put("/v1/users/bob", {"name": "Bob"})
    r = client.http.get(f"{path}?filter={quote(flt)}", headers=auth("dev"))
    assert r.status_code == 400, r.body
    data = json.loads(r.body)
    assert "surrogate" in data["message"] and "filter" in data["message"]
    if path.startswith("/v1/"):
        assert data["error"] == "invalid_filter" and data["field"] == "filter"
