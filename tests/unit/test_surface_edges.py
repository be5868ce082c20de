"""The edges every surface shares: lone surrogates, percent-encoded path ids, 401/404/405 in each
surface's own shape, and stored strings that no longer fit a response."""
from __future__ import annotations

import json

import pytest

from tests.conftest import Api, auth, token

SERVER_TOKEN_HEADERS = {"Content-Type": "application/json"}


def raw_post(client, path: str, raw: str, headers: dict[str, str]):
    r = client.http.post(path, headers=headers, body=raw.encode("utf-8"))
    r.data = json.loads(r.body) if r.body else None
    return r


def setup_users(server: Api, *users: str) -> None:
    for u in users:
        assert server.put(f"/v1/users/{u}", {"name": u.title()}).status_code in (200, 201)


def native_inbox(client, user: str) -> list[dict]:
    r = Api(client, auth("dev", user)).get("/v1/users/me/notifications?limit=100")
    assert r.status_code == 200, r.body
    return r.data["notifications"]


# ---- lone surrogates: refused at the edge, naming the field ----------------------------------------

SURROGATE_CASES = [
    # (path, JSON text with a lone surrogate escape, field the error names, server token?)
    ("/v1/notifications", '{"recipients": ["bob"], "type": "T", "message": "a\\ud800b"}', "message"),
    ("/v1/notifications", '{"recipients": ["b\\udfffob"], "type": "T", "message": "m"}', "recipients"),
    ("/v1/notifications", '{"recipients": ["bob"], "type": "T", "message": "m", "metadata": {"k": "\\ud800"}}',
     "metadata.k"),
    ("/v1/users/bob", '{"name": "x", "metadata": {"a": "\\udfff"}}', "metadata.a"),
    ("/threatconnect/api/v2/notifications",
     '{"message": "\\ud800", "notificationType": "API", "priority": "low", "recipients": "bob"}', "message"),
    ("/threatconnect/api/v2/notifications",
     '{"message": "m", "notificationType": "A\\ud800", "priority": "low", "recipients": "bob"}', "notificationType"),
    ("/threatconnect/api/v2/notifications",
     '{"message": "m", "notificationType": "A", "priority": "low", "recipients": "b\\ud800ob"}', "recipients"),
    ("/cord/v1/notifications", '{"actorID": "alice", "recipientID": "bob", "template": "{{actor}} \\ud800", '
                               '"url": "https://x.example/", "type": "url"}', "template"),
    ("/cord/v1/notifications", '{"actorID": "alice", "recipientID": "b\\ud800", "template": "{{actor}} hi", '
                               '"url": "https://x.example/", "type": "url"}', "recipientID"),
    ("/cord/v1/notifications", '{"actorID": "alice", "recipientID": "bob", "template": "{{actor}} hi", '
                               '"url": "https://x.example/\\udc00", "type": "url"}', "url"),
    ("/cord/v1/notifications", '{"actorID": "alice", "recipientID": "bob", "template": "{{actor}} hi", '
                               '"url": "https://x.example/", "type": "url", "extraClassnames": "\\ud800"}',
     "extraClassnames"),
    ("/cord/v1/notifications", '{"actorID": "alice", "recipientID": "bob", "template": "{{actor}} hi", '
                               '"url": "https://x.example/", "type": "url", "metadata": {"k": "\\udbff"}}',
     "metadata.k"),
]


@pytest.mark.parametrize("path,raw,field", SURROGATE_CASES, ids=[f"{c[0]}:{c[2]}" for c in SURROGATE_CASES])
def test_lone_surrogates_are_refused_naming_the_field(client, server, path, raw, field):
    setup_users(server, "alice", "bob")
    r = raw_post(client, path, raw, auth("dev")) if not path.startswith("/v1/users/") else None
    if r is None:
        r = client.http.put(path, headers=auth("dev"), body=raw.encode())
        r.data = json.loads(r.body)
    assert 400 <= r.status_code < 500, (r.status_code, r.body)
    assert field in r.body.decode(), r.body
    r.body.decode("utf-8")  # the error itself is valid UTF-8
    assert native_inbox(client, "bob") == []


def test_spark_lone_surrogate_is_refused(client, server):
    headers = auth("dev", "bob")
    r = raw_post(client, "/spark/v1/notifications", '{"D": {"Type": "General", "Message": "x\\ud800"}}', headers)
    assert r.status_code == 400, r.body
    assert r.data["D"]["Success"] is False and "Message" in r.data["D"]["Message"]
    assert native_inbox(client, "bob") == []


def test_surrogate_pairs_are_fine(client, server):
    setup_users(server, "bob")
    r = raw_post(client, "/v1/notifications", '{"recipients": ["bob"], "type": "T", "message": "\\ud83d\\ude00"}',
                 auth("dev"))
    assert r.status_code == 201, r.body
    assert native_inbox(client, "bob")[0]["message"] == "\U0001F600"


def test_invalid_utf8_body_is_a_400(client):
    r = client.http.post("/v1/notifications", headers=auth("dev"), body=b'{"message": "\xed\xa0\x80"}')
    assert r.status_code == 400 and b"UTF-8" in r.body


def test_stored_surrogates_never_break_a_read(client, server):
    """Data stored before the edge refused surrogates must still be readable on every surface."""
    from chalicelib.store.inbox import InboxItem

    setup_users(server, "bob")
    r = Api(client, auth("dev")).post("/cord/v1/notifications", {
        "actorID": "bob", "recipientID": "bob", "template": "{{actor}} hi", "url": "https://x.example/",
        "type": "url", "metadata": {"k": "v"}})
    assert r.status_code == 200, r.data
    import boto3

    from chalicelib.settings import get_settings

    item = next(iter(InboxItem.query("dev#bob")))
    body = dict(item.body)
    body.update(template="{{actor}} \ud800", extraClassnames="\udfff", message="m\ud800")
    # As an older release stored it: JSON with ASCII escapes, which DynamoDB takes (plain ASCII).
    boto3.client("dynamodb", region_name="us-east-1").update_item(
        TableName=get_settings().table_name("inbox"), Key={"pk": {"S": item.pk}, "sk": {"S": item.sk}},
        UpdateExpression="SET body = :b", ExpressionAttributeValues={":b": {"S": json.dumps(body)}})
    user = Api(client, auth("dev", "bob"))
    for path in ("/v1/users/me/notifications", "/spark/v1/notifications", "/api3/notification"):
        r = (user if not path.startswith("/api3") else Api(client, auth("dev"))).get(path)
        assert r.status_code == 200, (path, r.body)
        r.body.decode("utf-8")
        assert "\ufffd" in r.body.decode("utf-8")
    r = Api(client, auth("dev")).get("/cord/v1/users/bob/notifications")
    assert r.status_code == 200 and "\ufffd" in r.body.decode()
    r = client.http.get("/api3/notification?format=xml", headers=auth("dev"))
    assert r.status_code == 200 and "\ufffd" in r.body.decode()


# ---- ThreatConnect's 64 KB message ------------------------------------------------------------------

@pytest.fixture
def tc_org(server):
    setup_users(server, "admin", "bob")
    for user, role in (("admin", "Organization Administrator"), ("bob", "Standard User")):
        assert server.put(f"/v1/organizations/1001/members/{user}", {"role": role}).status_code in (200, 201)
    return Api(server.client, auth("dev", "admin"))


def tc_send(api: Api, message: str):
    return api.post("/threatconnect/api/v2/notifications", {
        "message": message, "notificationType": "API", "priority": "low", "recipients": "bob"})


@pytest.mark.parametrize("message", ["\x00" * 65536, "\x01" * 30000, "ok\x1bnot"], ids=["nul", "soh", "esc"])
def test_control_characters_in_a_message_are_refused(client, tc_org, message):
    r = tc_send(tc_org, message)
    assert r.status_code == 400, r.data
    assert r.data["status"] == "Failure" and "message" in r.data["message"]
    assert native_inbox(client, "bob") == []


@pytest.mark.parametrize("message", ['"' * 65536, "&" * 65536, "<" * 65536, "\U0001F600" * 16384,
                                     "\u00e9" * 32768, "line\n\ttab\r\n" * 5000],
                         ids=["quotes", "amps", "lt", "emoji", "accents", "whitespace"])
def test_any_message_within_64kb_is_stored_and_read_back(client, tc_org, message):
    assert len(message.encode()) <= 65536
    r = tc_send(tc_org, message)
    assert r.status_code == 200, r.data
    [n] = native_inbox(client, "bob")
    assert n["message"] == message
    assert n["html"] and n["html"].startswith("<p>")


def test_a_notification_too_large_to_store_is_a_clear_413(client, server):
    setup_users(server, "bob")
    big = {f"k{i}": '"' * 1024 for i in range(50)}
    r = server.post("/v1/notifications", {"recipients": ["bob"], "type": "T", "message": '"' * 65000,
                                          "metadata": big, "location": big})
    assert r.status_code == 413, r.data
    assert r.data["error"] == "notification_too_large" and r.data["field"] == "message"
    assert native_inbox(client, "bob") == []


# ---- percent-encoded path parameters are decoded once ------------------------------------------------

def test_cord_user_with_encoded_id(client, server):
    api = Api(client, auth("dev"))
    assert api.put("/cord/v1/users/ann%2Bx%40example.com", {"name": "Ann"}).status_code == 200
    setup_users(server, "alice")
    r = api.post("/cord/v1/notifications", {"actorID": "alice", "recipientID": "ann+x@example.com",
                                            "template": "{{actor}} says hi", "url": "https://x.example/",
                                            "type": "url"})
    assert r.status_code == 200, r.data
    r = api.get("/cord/v1/users/ann%2Bx%40example.com/notifications")
    assert r.status_code == 200 and len(r.data) == 1
    assert r.data[0]["header"][0]["user"]["id"] == "alice"


def test_threatconnect_email_usernames(client, server):
    assert server.put("/v1/users/j.doe%40corp.example", {"name": "J"}).status_code == 201
    assert server.get("/v1/users/j.doe@corp.example").status_code == 200
    r = server.post("/threatconnect/api/v2/notifications", {
        "message": "hi", "notificationType": "API", "priority": "low", "recipients": "j.doe@corp.example"})
    assert r.status_code == 200, r.data
    assert len(native_inbox(client, "j.doe@corp.example")) == 1


def test_a_path_id_that_is_not_utf8_is_a_400(client):
    r = Api(client, auth("dev")).get("/v1/users/%ff%fe")
    assert r.status_code == 400 and r.data["field"] == "userId"


def test_encoded_comma_separates_spark_ids(client, server):
    setup_users(server, "bob")
    ids = [server.post("/v1/notifications", {"recipients": ["bob"], "type": "T", "message": f"m{i}"})
           .data["notifications"][0]["id"] for i in range(2)]
    r = Api(client, auth("dev", "bob")).put(f"/spark/v1/notifications/{ids[0]}%2C{ids[1]}", {"D": {"Read": True}})
    assert r.status_code == 200, r.data
    assert all(n["read"] for n in native_inbox(client, "bob"))


# ---- 401, 404 and 405 in each surface's own shape --------------------------------------------------------

def shape(surface: str, body: dict) -> bool:
    if surface == "native":
        return set(body) >= {"error", "message"}
    if surface == "threatconnect":
        return body.get("status") == "Failure" and isinstance(body.get("message"), str)
    if surface == "cord":
        return set(body) == {"error", "message"}
    if surface == "api3":
        return set(body) == {"message", "code"}
    if surface == "spark":
        return body["D"]["Success"] is False and isinstance(body["D"]["Code"], int)
    raise AssertionError(surface)


ROUTES = [  # (surface, method, path) of a served route
    ("native", "get", "/v1/users/me/notifications"),
    ("threatconnect", "post", "/threatconnect/api/v2/notifications"),
    ("cord", "post", "/cord/v1/notifications"),
    ("cord", "get", "/cord/v1/users/bob/notifications"),
    ("api3", "get", "/api3/notification"),
    ("api3", "delete", "/api3/notification/x"),
    ("spark", "get", "/spark/v1/notifications"),
    ("spark", "get", "/spark/v1/notifications/unread"),
]


@pytest.mark.parametrize("surface,method,path", ROUTES)
@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-jwt", "Basic abc"])
def test_401_in_the_surface_shape(client, surface, method, path, header):
    headers = {"Content-Type": "application/json"}
    if header:
        headers["Authorization"] = header
    r = getattr(Api(client, headers), method)(path, **({"body": {}} if method in ("post", "put") else {}))
    assert r.status_code == 401, (r.status_code, r.body)
    assert shape(surface, r.data), r.data
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    if surface == "spark":
        assert r.data["D"]["Code"] == 1000
    if surface == "cord":
        assert r.data["error"] == ("missing_authorization_header" if header is None else "invalid_access_token")


def test_expired_token_codes(client):
    expired = {"Authorization": f"Bearer {token('dev', 'bob', ttl_seconds=-10)}"}
    r = Api(client, expired).get("/spark/v1/notifications")
    assert r.status_code == 401 and r.data["D"]["Code"] == 1020


METHOD_CASES = [
    ("native", "put", "/v1/notifications", "POST"),
    ("native", "post", "/v1/users/me/notifications", "GET"),
    ("threatconnect", "get", "/threatconnect/api/v2/notifications", "POST"),
    ("threatconnect", "put", "/threatconnect/api/v2/notifications", "POST"),
    ("threatconnect", "delete", "/threatconnect/api/v2/notifications", "POST"),
    ("cord", "get", "/cord/v1/notifications", "POST"),
    ("cord", "put", "/cord/v1/notifications", "POST"),
    ("api3", "post", "/api3/notification", "GET"),
    ("api3", "put", "/api3/notification/abc", "DELETE, GET"),
    ("spark", "patch", "/spark/v1/notifications", "GET, POST"),
    ("spark", "delete", "/spark/v1/notifications", "GET, POST"),
    ("spark", "get", "/spark/v1/notifications/abc", "PUT"),
    ("spark", "post", "/spark/v1/notifications/unread", "GET"),
]


@pytest.mark.parametrize("surface,method,path,allowed", METHOD_CASES)
def test_405_in_the_surface_shape(client, surface, method, path, allowed):
    for headers in ({}, auth("dev")):  # with or without a token: the method is wrong either way
        r = getattr(Api(client, headers), method)(path, **({"body": {}} if method in ("post", "put", "patch") else {}))
        assert r.status_code == 405, (r.status_code, r.body)
        assert shape(surface, r.data), r.data
        assert r.headers["Allow"] == allowed
    if surface == "spark":
        assert r.data["D"]["Code"] == 405


UNKNOWN_PATHS = [
    ("native", "/nope"), ("native", "/v1/nope"), ("native", "/v1/users/me/notifications/x/y/z"),
    ("native", "/a/b/c/d"), ("threatconnect", "/threatconnect/api/v3/notifications"),
    ("cord", "/cord/v2/notifications"), ("cord", "/cord/v1/users/bob/threads"), ("api3", "/api3/member"),
    ("spark", "/spark/v1/messages"), ("spark", "/spark/v1/notifications/a/b"),
]


@pytest.mark.parametrize("surface,path", UNKNOWN_PATHS)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_paths_are_json_404_without_echo(client, surface, path, method):
    secret = token("dev", "bob")
    r = getattr(Api(client, {"Authorization": f"Bearer {secret}"}), method)(path)
    assert r.status_code == 404, (r.status_code, r.body)
    assert shape(surface, r.data), r.data
    assert secret not in r.body.decode() and "Bearer" not in r.body.decode()
