"""Native API: POST /v1/notifications validation, rendering, templates, idempotency, aggregation."""
from __future__ import annotations

import time

import pytest

SEND = "/v1/notifications"


def body(**kw):
    b = {"recipients": ["bob"], "type": "Comment", "message": "hi"}
    b.update(kw)
    return {k: v for k, v in b.items() if v is not None}


def bad(api, payload, field, code=None, status=400, headers=None):
    r = api.post(SEND, payload, headers=headers)
    assert r.status_code == status, (r.status_code, r.body)
    assert set(r.data) >= {"error", "message", "field"}, r.data
    assert r.data["field"] == field, r.data
    if code:
        assert r.data["error"] == code, r.data
    return r


def only(api, user="bob"):
    ns = api.get(f"/v1/users/{user}/notifications").data["notifications"]
    assert len(ns) == 1, ns
    return ns[0]


@pytest.mark.parametrize("raw", ["not json", "{", "[]", "[1,2]", '"string"', "null", "42", "true", ""])
def test_non_object_bodies_are_400(server, raw):
    r = server.post(SEND, raw)
    assert r.status_code == 400, (raw, r.status_code, r.body)
    assert r.data["field"] == "body" and r.data["error"] in ("invalid_json", "invalid_body")


@pytest.mark.parametrize("field,value", [
    ("recipients", "bob"), ("recipients", [1]), ("recipients", [None]), ("recipients", {"a": 1}),
    ("type", 5), ("type", None), ("priority", 1), ("priority", True), ("message", 5), ("message", ["x"]),
    ("template", 1), ("actor", 1), ("url", 1), ("iconUrl", False), ("metadata", "x"), ("metadata", [1]),
    ("location", 5), ("organizationID", 5), ("attachment", "x"), ("extraClassnames", 1), ("groupKey", 1),
    ("expiresAt", True), ("expiresAt", 1.5), ("organization", 1), ("community", []),
])
def test_wrong_types_name_the_field(server, field, value):
    payload = body()
    payload[field] = value
    if field == "type" and value is None:
        del payload["type"]
    r = server.post(SEND, payload)
    assert r.status_code == 400, r.body
    assert r.data["field"] == field, r.data
    assert r.data["error"] == "invalid_field", r.data
    assert r.data["message"].startswith(field)


@pytest.mark.parametrize("field", ["metadata", "location"])
@pytest.mark.parametrize("value", [{"a": {"b": 1}}, {"a": [1]}, {"a": None}])
def test_nested_maps_are_refused(server, field, value):
    r = bad(server, body(**{field: value}), f"{field}.a")
    assert r.data["error"] in ("invalid_field", "invalid_map")


def test_unknown_field_is_refused(server):
    r = bad(server, body(colour="red"), "colour", "invalid_field")
    assert "unknown" in r.data["message"]


def test_audience_exactly_one(server):
    bad(server, {"type": "Comment", "message": "x"}, "recipients", "invalid_audience")
    bad(server, body(organization="o1"), "recipients", "invalid_audience")
    bad(server, {"organization": "o1", "community": "c1", "type": "T", "message": "x"}, "recipients",
        "invalid_audience")


def test_recipient_limits(server):
    bad(server, body(recipients=[]), "recipients", "invalid_field")
    bad(server, body(recipients=[f"u{i}" for i in range(1001)]), "recipients", "invalid_field")
    bad(server, body(recipients=[""]), "recipients", "invalid_user_id")
    bad(server, body(recipients=["bo\x00b"]), "recipients", "invalid_user_id")
    bad(server, body(recipients=["bob\n"]), "recipients", "invalid_user_id")
    bad(server, body(recipients=[" bob"]), "recipients", "invalid_user_id")
    bad(server, body(recipients=["x" * 257]), "recipients", "invalid_user_id")
    bad(server, body(recipients=["me"]), "recipients", "invalid_user_id")


def test_duplicate_recipients_get_one_copy(server):
    r = server.post(SEND, body(recipients=["bob", "bob", "alice", "bob"]))
    assert r.status_code == 201, r.data
    assert [n["recipient"] for n in r.data["notifications"]] == ["bob", "alice"]
    assert server.get("/v1/users/bob/notifications/unread-count").data == {"unreadCount": 1}


def test_unicode_recipient_and_type(server, as_user):
    r = server.post(SEND, body(recipients=["zoë-💡"], type="Kommentär ✓", message="héllo 🌍"))
    assert r.status_code == 201, r.data
    n = as_user("zoë-💡").get("/v1/users/me/notifications").data["notifications"][0]
    assert n["type"] == "Kommentär ✓" and n["message"] == "héllo 🌍"


def test_type_rules(server):
    bad(server, body(type=""), "type", "invalid_type")
    bad(server, body(type="   "), "type", "invalid_type")
    bad(server, body(type="x" * 51), "type")
    bad(server, body(type="a\tb"), "type", "invalid_type")
    for reserved in ("System", "system", "SYSTEM", " System "):
        bad(server, body(type=reserved), "type", "reserved_type")
    assert server.post(SEND, body(type="x" * 50)).status_code == 201
    assert server.post(SEND, body(type="Systemic")).status_code == 201


def test_priority_parsing(server):
    for given, shown in [("HIGH", "high"), ("Low", "low"), ("medium", "medium")]:
        r = server.post(SEND, body(recipients=[f"p-{given}"], priority=given))
        assert r.status_code == 201
        assert only(server, f"p-{given}")["priority"] == shown
    server.post(SEND, body(recipients=["pd"]))
    assert only(server, "pd")["priority"] == "medium"
    for wrong in ("urgent", "", "1", "hi gh"):
        bad(server, body(priority=wrong), "priority", "invalid_priority")


def test_message_limits(server):
    assert server.post(SEND, body(message="a" * 65536)).status_code == 201
    r = bad(server, body(message="a" * 65537), "message", "message_too_large", status=413)
    # multibyte: 21846 * 3 bytes = 65538 > 64 KB although under 64K characters
    bad(server, body(message="€" * 21846), "message", "message_too_large", status=413)
    bad(server, body(message=None, template=None), "message", "missing_content")


def test_message_stored_as_written_and_html_sanitized(server):
    msg = ("# Title\n<script>alert(1)</script>\n[x](javascript:alert(1)) "
           "<img src=x onerror=alert(1)> [y](JaVaScRiPt:alert(2)) ![i](javascript:alert(3)) "
           "[ok](https://example.com) <a href=\"javascript:alert(4)\">z</a>")
    assert server.post(SEND, body(message=msg)).status_code == 201
    n = only(server)
    assert n["message"] == msg
    html = n["html"]
    low = html.lower()
    assert "<script" not in low
    import re

    assert not re.search(r"<[a-z]+[^>]*(href|src)=\"?\s*javascript", low)
    assert "<img" not in low and not re.search(r"<[a-z]+[^>]*\son\w+=", low)  # raw HTML only as text
    assert "&lt;script&gt;" in html
    assert '<a href="https://example.com"' in html
    assert "<h1>Title</h1>" in html


def test_template_header_nodes_and_actor(server):
    server.put("/v1/users/al", {"name": "Alice Liddell", "shortName": "Alice",
                                "profilePictureURL": "https://img.example/al.png", "metadata": {"team": "x"}})
    r = server.post(SEND, body(message=None, template="{{actor}} mentioned {{ recipient }} here", actor="al"))
    assert r.status_code == 201, r.data
    n = only(server)
    assert n["header"] == [
        {"type": "user", "user": {"id": "al", "name": "Alice Liddell", "shortName": "Alice",
                                  "profilePictureURL": "https://img.example/al.png", "metadata": {"team": "x"}}},
        {"type": "text", "text": " mentioned ", "bold": False},
        {"type": "user", "user": {"id": "bob", "name": None, "shortName": None, "profilePictureURL": None,
                                  "metadata": {}}},
        {"type": "text", "text": " here", "bold": False},
    ]
    assert n["iconUrl"] == "https://img.example/al.png"  # defaults to the actor's picture
    assert n["message"] is None and n["html"] is None


def test_template_rules(server):
    bad(server, body(message=None, template="{{actor}} did it"), "actor", "missing_actor")
    bad(server, body(template="hello {{name}}"), "template", "invalid_template")
    bad(server, body(template="   "), "template", "invalid_template")
    bad(server, body(template="x" * 5000), "template", "invalid_template")
    bad(server, body(actor=""), "actor", "invalid_user_id")
    bad(server, body(actor="a\x01"), "actor", "invalid_user_id")


def test_explicit_icon_url_wins(server):
    server.put("/v1/users/al", {"profilePictureURL": "https://img.example/al.png"})
    server.post(SEND, body(actor="al", iconUrl="https://img.example/other.png"))
    assert only(server)["iconUrl"] == "https://img.example/other.png"


@pytest.mark.parametrize("field", ["url", "iconUrl"])
@pytest.mark.parametrize("value", ["javascript:alert(1)", "ftp://x.example/a", "data:text/html,hi", "//x.example",
                                   "example.com", "", "http://", "https://x.example/\x00", "https://" + "a" * 2100])
def test_urls_must_be_http(server, field, value):
    bad(server, body(**{field: value}), field, "invalid_url")


def test_url_round_trip(server):
    server.post(SEND, body(url="HTTPS://example.com/a?b=1", iconUrl="http://example.com/i.png"))
    n = only(server)
    assert n["url"] == "HTTPS://example.com/a?b=1" and n["iconUrl"] == "http://example.com/i.png"


def test_metadata_location_and_limits(server):
    md = {"s": "x", "i": 3, "f": 1.5, "b": True}
    assert server.post(SEND, body(metadata=md, location={"page": "p1"})).status_code == 201
    n = only(server)
    assert n["metadata"] == md and n["location"] == {"page": "p1"}
    bad(server, body(metadata={f"k{i}": 1 for i in range(51)}), "metadata", "invalid_map")
    bad(server, body(metadata={"": 1}), "metadata", "invalid_map")
    bad(server, body(metadata={"k" * 129: 1}), "metadata", "invalid_map")
    bad(server, body(metadata={"k": "v" * 1025}), "metadata", "invalid_map")


def test_attachment_shapes(server):
    assert server.post(SEND, body(recipients=["a1"], attachment={"type": "url", "url": "https://x.example/f"})
                       ).status_code == 201
    assert only(server, "a1")["attachment"] == {"type": "url", "url": "https://x.example/f"}
    assert server.post(SEND, body(recipients=["a2"], attachment={"type": "message", "message": {"id": "m1"}})
                       ).status_code == 201
    assert server.post(SEND, body(attachment=None)).status_code == 201
    for att in [{"type": "file"}, {"type": "url"}, {"type": "url", "url": 5}, {"url": "https://x"},
                {"type": "url", "url": "https://x.example", "extra": 1}, [1]]:
        r = server.post(SEND, body(attachment=att))
        assert r.status_code == 400 and r.data["field"].startswith("attachment"), (att, r.data)
    bad(server, body(attachment={"type": "url", "url": "javascript:x"}), "attachment.url", "invalid_url")
    r = server.post(SEND, body(attachment={"type": "message", "message": {"text": "no id"}}))
    assert r.status_code == 400 and r.data["field"] == "attachment"


def test_extra_classnames_group_key_and_organization_id(server):
    bad(server, body(extraClassnames="x" * 513), "extraClassnames", "invalid_classnames")
    bad(server, body(groupKey=""), "groupKey", "invalid_group_key")
    bad(server, body(groupKey="g" * 257), "groupKey", "invalid_group_key")
    bad(server, body(organizationID="bad id!"), "organizationID", "invalid_id")
    assert server.post(SEND, body(extraClassnames="a b", organizationID="org-1")).status_code == 201
    n = only(server)
    assert n["extraClassnames"] == "a b" and n["organizationID"] == "org-1"


def test_expires_at(server):
    future = int(time.time()) + 3600
    assert server.post(SEND, body(recipients=["e1"], expiresAt=future)).status_code == 201
    assert only(server, "e1")["expiresAt"].startswith(time.strftime("%Y-%m-%dT", time.gmtime(future)))
    assert server.post(SEND, body(recipients=["e2"], expiresAt="2099-01-01T00:00:00Z")).status_code == 400
    assert server.post(SEND, body(recipients=["e3"], expiresAt=time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(future)))).status_code == 201
    bad(server, body(expiresAt=int(time.time()) - 10), "expiresAt", "invalid_expires_at")
    bad(server, body(expiresAt="yesterday"), "expiresAt", "invalid_time")
    bad(server, body(expiresAt="2000-01-01T00:00:00Z"), "expiresAt", "invalid_expires_at")


def test_huge_body_is_refused(server):
    r = server.post(SEND, body(message="a" * (1024 * 1024 + 10)))
    assert r.status_code in (400, 413) and r.data["field"] in ("body", "message")


def test_muted_send_is_skipped(server, as_user):
    assert as_user("bob").put("/v1/users/me/settings", {"mutedTypes": ["Comment"]}).status_code == 200
    as_user("al").put("/v1/users/me/settings", {"minPriority": "high"})
    r = server.post(SEND, body(recipients=["bob", "al", "cy"]))
    assert r.status_code == 201
    assert [n["recipient"] for n in r.data["notifications"]] == ["cy"]
    assert sorted((s["recipient"], s["reason"]) for s in r.data["skipped"]) == [("al", "muted"), ("bob", "muted")]
    assert server.get("/v1/users/bob/notifications/unread-count").data == {"unreadCount": 0}
    r = server.post(SEND, body(recipients=["al"], priority="HIGH"))
    assert [n["recipient"] for n in r.data["notifications"]] == ["al"]
    r = server.post(SEND, body(recipients=["bob"], type="Other"))
    assert [n["recipient"] for n in r.data["notifications"]] == ["bob"]


# ---- idempotency -----------------------------------------------------------------------------

def test_idempotent_retry_returns_first_result(server):
    h = {"Idempotency-Key": "k-1"}
    r1 = server.post(SEND, body(recipients=["bob", "al"]), headers=h)
    assert r1.status_code == 201 and r1.headers["Idempotent-Replayed"] == "false"
    r2 = server.post(SEND, body(recipients=["bob", "al"]), headers=h)
    assert r2.status_code == 201 and r2.headers["Idempotent-Replayed"] == "true"
    assert r2.data == r1.data
    assert server.get("/v1/users/bob/notifications/unread-count").data == {"unreadCount": 1}
    assert len(server.get("/v1/users/al/notifications").data["notifications"]) == 1


def test_idempotency_key_with_different_body_is_409(server):
    h = {"Idempotency-Key": "k-2"}
    assert server.post(SEND, body(), headers=h).status_code == 201
    r = server.post(SEND, body(message="different"), headers=h)
    assert r.status_code == 409
    assert r.data["error"] == "idempotency_key_reused" and r.data["field"] == "Idempotency-Key"
    assert server.get("/v1/users/bob/notifications/unread-count").data == {"unreadCount": 1}


def test_idempotency_keys_are_per_caller(server, as_user, client):
    from tests.conftest import Api, auth

    h = {"Idempotency-Key": "shared"}
    assert server.post(SEND, body(), headers=h).status_code == 201
    r = Api(client, auth("acme")).post(SEND, body(message="other tenant"), headers=h)
    assert r.status_code == 201 and r.headers["Idempotent-Replayed"] == "false"


def test_idempotency_keys_of_users_whose_ids_hold_a_hash_never_meet(server, as_user):
    # Was: user "al" sends with Idempotency-Key "x#k", then user "al#x" sends the same body with
    # key "k" -> 201 Idempotent-Replayed: true and al's response (al's notification id); nothing
    # was sent for al#x. Both records were keyed "dev#user:al#x#k".
    for user in ("al", "al%23x"):
        assert server.put(f"/v1/organizations/o1/members/{user}", {"role": "Standard User"}).status_code == 201
    payload = body(recipients=["al"])
    r1 = as_user("al").post(SEND, payload, headers={"Idempotency-Key": "x#k"})
    assert r1.status_code == 201 and r1.headers["Idempotent-Replayed"] == "false"
    r2 = as_user("al#x").post(SEND, payload, headers={"Idempotency-Key": "k"})
    assert r2.status_code == 201 and r2.headers["Idempotent-Replayed"] == "false", r2.body
    assert r2.data["notifications"][0]["id"] != r1.data["notifications"][0]["id"]
    assert as_user("al").get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 2}
    r3 = as_user("al").post(SEND, payload, headers={"Idempotency-Key": "x#k"})  # al's own retry still replays
    assert r3.headers["Idempotent-Replayed"] == "true" and r3.data == r1.data


def test_refused_request_frees_the_key(server):
    h = {"Idempotency-Key": "k-3"}
    assert server.post(SEND, body(type="System"), headers=h).status_code == 400
    r = server.post(SEND, body(), headers=h)
    assert r.status_code == 201 and r.headers["Idempotent-Replayed"] == "false"


@pytest.mark.parametrize("key", ["", "x" * 256, "a\x01b"])
def test_bad_idempotency_key(server, key):
    r = server.post(SEND, body(), headers={"Idempotency-Key": key})
    assert r.status_code == 400, r.body
    assert r.data["error"] == "invalid_idempotency_key" and r.data["field"] == "Idempotency-Key"


# ---- aggregation -----------------------------------------------------------------------------

def test_group_key_aggregates_while_unread(server, as_user):
    r1 = server.post(SEND, body(actor="al", groupKey="thread-1", message="one"))
    first = r1.data["notifications"][0]["id"]
    server.post(SEND, body(recipients=["bob"], type="Other", message="between"))
    r2 = server.post(SEND, body(actor="cy", groupKey="thread-1", message="two"))
    assert r2.data["notifications"] == [{"id": first, "recipient": "bob", "aggregated": True}]
    r3 = server.post(SEND, body(actor="al", groupKey="thread-1", message="three"))
    assert r3.data["notifications"][0]["id"] == first
    bob = as_user("bob")
    items = bob.get("/v1/users/me/notifications").data["notifications"]
    assert [n["id"] for n in items][0] == first  # bumped to the top
    assert len(items) == 2
    assert items[0]["senders"] == ["al", "cy"]
    assert bob.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 2}
    # once read, the next send starts a new item
    bob.patch(f"/v1/notifications/{first}", {"read": True})
    r4 = server.post(SEND, body(actor="dd", groupKey="thread-1", message="four"))
    assert r4.data["notifications"][0]["id"] != first
    assert r4.data["notifications"][0]["aggregated"] is False
    assert bob.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 2}
    assert len(bob.get("/v1/users/me/notifications").data["notifications"]) == 3


def test_group_key_aggregates_into_item_sent_without_actor(server):
    """The first item has no senders attribute; a later send with an actor must still fold into it."""
    first = server.post(SEND, body(groupKey="g")).data["notifications"][0]["id"]
    r = server.post(SEND, body(groupKey="g", actor="zed"))
    assert r.data["notifications"] == [{"id": first, "recipient": "bob", "aggregated": True}]
    n = only(server)
    assert n["senders"] == ["zed"]
    assert server.get("/v1/users/bob/notifications/unread-count").data == {"unreadCount": 1}


def test_group_key_is_per_recipient(server):
    server.post(SEND, body(recipients=["bob"], groupKey="g"))
    r = server.post(SEND, body(recipients=["bob", "al"], groupKey="g", actor="zed"))
    by = {n["recipient"]: n["aggregated"] for n in r.data["notifications"]}
    assert by == {"bob": True, "al": False}


def test_group_key_not_allowed_on_broadcast(server):
    bad(server, {"organization": "o1", "type": "T", "message": "x", "groupKey": "g"}, "groupKey",
        "invalid_group_key")
