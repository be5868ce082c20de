"""Cord v1 (seeds 001 and 002): every example request verbatim, the list's object shape, the
user upsert, limits and errors."""
from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import quote

import pytest

NOTIFY = "/cord/v1/notifications"

# The request bodies exactly as the seeds print them (-d '...').
SEED_002_EXAMPLE_1 = """{
    "actorID": "123",
    "recipientID": "456",
    "template": "{{actor}} sent {{recipient}} a delicious sandwich",
    "url": "http://www.example.com/",
    "type": "url"
  }"""
SEED_002_EXAMPLE_2 = """{
    "actorID": "789",
    "recipientID": "123",
    "template": "{{actor}} joined the team",
    "url": "http://www.example.com/",
    "type": "url"
  }"""
SEED_001_EXAMPLE_1 = """{
"actorID": "123",
"recipientID": "456",
"template": "{{actor}} sent {{recipient}} a delicious sandwich",
"url": "http://www.example.com/",
"type": "url"
}"""
SEED_001_EXAMPLE_2 = ('{"actorID":"789","recipientID":"123","template":"{{actor}} joined the team",'
                      '"url":"http://www.example.com/","type":"url"}')

FIELDS = {"id", "senderUserIDs", "iconUrl", "header", "attachment", "readStatus", "timestamp", "extraClassnames",
          "metadata"}


def user_node(uid: str, name: str | None, short=None, picture=None, metadata=None) -> dict:
    return {"type": "user", "user": {"id": uid, "name": name, "shortName": short, "profilePictureURL": picture,
                                     "metadata": metadata or {}}}


def text(t: str) -> dict:
    return {"type": "text", "text": t, "bold": False}


def assert_error(r, status: int, code: str, *words: str):
    assert r.status_code == status, (r.status_code, r.data)
    assert set(r.data) == {"error", "message"}, r.data
    assert r.data["error"] == code, r.data
    for word in words:
        assert word.lower() in r.data["message"].lower(), r.data


@pytest.fixture
def cord(server):
    """The seed's users, created through Cord's own user API."""
    for uid, name in (("123", "Alice Applegate"), ("456", "Bob Bloke"), ("789", "Carol Capable")):
        r = server.put(f"/cord/v1/users/{uid}", {"name": name})
        assert r.status_code == 200, r.data
        assert r.data == {"success": True, "message": f"✅ You successfully created user {uid}"}
    return server


def listing(server, user: str, query: str = ""):
    r = server.get(f"/cord/v1/users/{user}/notifications{query}")
    assert r.status_code == 200, r.data
    assert isinstance(r.data, list)
    return r.data


def body(**over):
    b = {"actorID": "123", "recipientID": "456", "template": "{{actor}} pinged {{recipient}}",
         "url": "https://example.com/x", "type": "url"}
    b.update(over)
    return {k: v for k, v in b.items() if v is not ...}


# ---- the seeds' examples ------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [SEED_002_EXAMPLE_1, SEED_001_EXAMPLE_1])
def test_example_alice_sends_bob_a_sandwich(cord, raw):
    r = cord.post(NOTIFY, raw)
    assert r.status_code == 200, r.data
    assert set(r.data) == {"success", "message", "notificationID"}
    assert r.data["success"] is True
    assert r.data["message"] == "Notification created."
    assert isinstance(r.data["notificationID"], str) and r.data["notificationID"]

    [n] = listing(cord, "456")
    assert set(n) == FIELDS
    assert n["id"] == r.data["notificationID"]
    assert n["senderUserIDs"] == ["123"]
    assert n["iconUrl"] is None  # Alice has no profile picture
    # "Alice Applegate sent Bob Bloke a delicious sandwich", whitespace preserved in the text nodes
    assert n["header"] == [user_node("123", "Alice Applegate"), text(" sent "), user_node("456", "Bob Bloke"),
                           text(" a delicious sandwich")]
    assert n["attachment"] == {"type": "url", "url": "http://www.example.com/"}
    assert n["readStatus"] == "unread"
    assert datetime.fromisoformat(n["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    assert n["timestamp"].endswith("Z")
    assert n["extraClassnames"] is None
    assert n["metadata"] == {}
    assert listing(cord, "123") == []


@pytest.mark.parametrize("raw", [SEED_002_EXAMPLE_2, SEED_001_EXAMPLE_2])
def test_example_carol_joined_the_team(cord, raw):
    r = cord.post(NOTIFY, raw)
    assert r.status_code == 200, r.data
    assert set(r.data) == {"success", "message", "notificationID"} and r.data["success"] is True
    assert r.data["message"] == "Notification created."
    [n] = listing(cord, "123")
    assert n["header"] == [user_node("789", "Carol Capable"), text(" joined the team")]
    assert n["senderUserIDs"] == ["789"]
    assert n["attachment"] == {"type": "url", "url": "http://www.example.com/"}


def test_list_is_newest_first_and_reflects_read_state(cord, as_user):
    first = cord.post(NOTIFY, SEED_002_EXAMPLE_1).data["notificationID"]
    second = cord.post(NOTIFY, body(template="{{actor}} waved")).data["notificationID"]
    assert [n["id"] for n in listing(cord, "456")] == [second, first]
    assert as_user("456").patch(f"/v1/notifications/{first}", {"read": True}).status_code == 200
    assert [n["readStatus"] for n in listing(cord, "456")] == ["unread", "read"]


# ---- optional fields ----------------------------------------------------------------------------

def test_icon_defaults_to_the_actors_profile_picture(cord):
    cord.put("/cord/v1/users/123", {"profilePictureURL": "https://img.example.com/alice.png"})
    cord.post(NOTIFY, SEED_002_EXAMPLE_1)
    cord.post(NOTIFY, body(iconUrl="https://img.example.com/bell.png"))
    explicit, default = listing(cord, "456")
    assert default["iconUrl"] == "https://img.example.com/alice.png"
    assert explicit["iconUrl"] == "https://img.example.com/bell.png"
    assert default["header"][0]["user"]["profilePictureURL"] == "https://img.example.com/alice.png"


def test_metadata_and_extra_classnames_round_trip(cord):
    md = {"category": "sales", "count": 3, "ratio": 0.5, "urgent": True}
    assert cord.post(NOTIFY, body(metadata=md, extraClassnames="big shiny")).status_code == 200
    assert cord.post(NOTIFY, body(extraClassnames=None)).status_code == 200
    plain, rich = listing(cord, "456")
    assert rich["metadata"] == md and rich["extraClassnames"] == "big shiny"
    assert plain["metadata"] == {} and plain["extraClassnames"] is None


def test_spaced_actor_placeholder(cord):
    assert cord.post(NOTIFY, body(template="{{ actor }} and {{recipient }} met")).status_code == 200
    [n] = listing(cord, "456")
    assert n["header"] == [user_node("123", "Alice Applegate"), text(" and "), user_node("456", "Bob Bloke"),
                           text(" met")]
    assert_error(cord.post(NOTIFY, body(actorID=..., template="{{ actor }} met")), 400, "invalid_field", "actorID")


def test_template_without_actor_needs_no_actor(cord):
    r = cord.post(NOTIFY, body(actorID=..., template="Your export is ready, {{recipient}}."))
    assert r.status_code == 200, r.data
    [n] = listing(cord, "456")
    assert n["senderUserIDs"] == []
    assert n["header"] == [text("Your export is ready, "), user_node("456", "Bob Bloke"), text(".")]


def test_deprecated_snake_case_ids(cord):
    r = cord.post(NOTIFY, body(actorID=..., recipientID=..., actor_id="789", recipient_id="456"))
    assert r.status_code == 200, r.data
    assert listing(cord, "456")[0]["senderUserIDs"] == ["789"]


# ---- required fields, limits, errors ------------------------------------------------------------

@pytest.mark.parametrize("value", ["URL", "message", "", None, 1])
def test_type_must_be_url(cord, value):
    assert_error(cord.post(NOTIFY, body(type=value)), 400, "invalid_request", "type")


@pytest.mark.parametrize("field", ["template", "url", "type"])
def test_missing_required_field(cord, field):
    assert_error(cord.post(NOTIFY, body(**{field: ...})), 400, "invalid_request", field)


def test_missing_recipient(cord):
    assert_error(cord.post(NOTIFY, body(recipientID=...)), 400, "invalid_request", "recipientID")


def test_actor_required_with_actor_placeholder(cord):
    assert_error(cord.post(NOTIFY, body(actorID=...)), 400, "invalid_field", "actorID", "{{actor}}")


def test_unknown_users_are_refused(cord):
    assert_error(cord.post(NOTIFY, body(actorID="999")), 401, "invalid_user_id", "999")
    assert_error(cord.post(NOTIFY, body(recipientID="999")), 401, "invalid_user_id", "999")
    assert listing(cord, "456") == []


@pytest.mark.parametrize("url", ["ftp://example.com/", "javascript:alert(1)", "www.example.com", "/relative",
                                 "http://", "mailto:a@b.c", "http://exa mple.com/\n"])
def test_non_http_urls_refused(cord, url):
    assert_error(cord.post(NOTIFY, body(url=url)), 400, "invalid_request", "url")
    assert_error(cord.post(NOTIFY, body(iconUrl=url)), 400, "invalid_request", "iconUrl")


@pytest.mark.parametrize("md", [{"a": {"b": 1}}, {"a": [1]}, {"a": None}, ["x"], "x"])
def test_nested_or_non_flat_metadata_refused(cord, md):
    assert_error(cord.post(NOTIFY, body(metadata=md)), 400, "invalid_request", "metadata")


@pytest.mark.parametrize("field,value", [("actorID", 123), ("recipientID", ["456"]), ("template", 5),
                                         ("extraClassnames", 5), ("iconUrl", 5), ("url", None)])
def test_wrong_types(cord, field, value):
    assert_error(cord.post(NOTIFY, body(**{field: value})), 400, "invalid_request", field)


def test_unknown_field_refused(cord):
    assert_error(cord.post(NOTIFY, body(sender="123")), 400, "invalid_request", "sender")


@pytest.mark.parametrize("raw", ["", "nope", "[]", "null", '{"a":'])
def test_malformed_bodies(cord, raw):
    r = cord.post(NOTIFY, raw)
    assert r.status_code == 400 and set(r.data) == {"error", "message"}, r.data


def test_user_tokens_are_refused(cord, as_user):
    bob = as_user("456")
    assert_error(bob.post(NOTIFY, SEED_002_EXAMPLE_1), 403, "forbidden", "server token")
    assert_error(bob.get("/cord/v1/users/456/notifications"), 403, "forbidden")
    assert_error(bob.put("/cord/v1/users/456", {"name": "Bobby"}), 403, "forbidden")
    assert_error(bob.delete("/cord/v1/notifications/x"), 403, "forbidden")


def test_bad_token(client):
    from tests.conftest import Api

    r = Api(client, {"Authorization": "Bearer nope"}).get("/cord/v1/users/456/notifications")
    assert r.status_code == 401 and r.data["error"] == "invalid_access_token", r.data


# ---- list filter ----------------------------------------------------------------------------------

def test_filter_by_metadata_uri_encoded(cord):
    cord.post(NOTIFY, body(metadata={"category": "sales"}, template="sale {{recipient}}"))
    cord.post(NOTIFY, body(metadata={"category": "support"}, template="help {{recipient}}"))
    cord.post(NOTIFY, body(template="none {{recipient}}"))
    flt = quote(json.dumps({"metadata": {"category": "sales"}}))
    [n] = listing(cord, "456", f"?filter={flt}")
    assert n["metadata"] == {"category": "sales"}
    assert len(listing(cord, "456", "?filter=" + quote(json.dumps({"metadata": {}})))) == 3
    assert listing(cord, "456", "?filter=" + quote(json.dumps({"metadata": {"category": "x"}}))) == []


def test_filter_by_location_and_organization(server, cord):
    for org, loc in (("acme", {"page": "a"}), ("beta", {"page": "b"})):
        r = server.post("/v1/notifications", {"recipients": ["456"], "type": "Comment", "template": f"{org}",
                                              "organizationID": org, "location": loc})
        assert r.status_code == 201, r.data
    [n] = listing(cord, "456", "?filter=" + quote(json.dumps({"organizationID": "acme"})))
    assert n["header"] == [text("acme")]
    [n] = listing(cord, "456", "?filter=" + quote(json.dumps({"location": {"page": "b"}})))
    assert n["header"] == [text("beta")]


@pytest.mark.parametrize("flt", ["{bad json", json.dumps([1]), json.dumps({"owner": "x"}),
                                 json.dumps({"metadata": {"a": {"b": 1}}}), json.dumps({"organizationID": 5})])
def test_bad_filters(cord, flt):
    assert_error(cord.get("/cord/v1/users/456/notifications?filter=" + quote(flt)), 400, "invalid_request", "filter")


def test_list_unknown_user(cord):
    assert_error(cord.get("/cord/v1/users/nobody/notifications"), 401, "user_not_found", "nobody")


def test_list_is_capped_with_a_continuation_cursor(cord, monkeypatch):
    from chalicelib.api.dialects import cord as dialect

    monkeypatch.setattr(dialect, "MAX_ITEMS", 3)
    monkeypatch.setattr(dialect, "PAGE", 2)
    sent = [cord.post(NOTIFY, body(template=f"n{i} {{{{recipient}}}}")).data["notificationID"] for i in range(5)]
    r = cord.get("/cord/v1/users/456/notifications")
    assert [n["id"] for n in r.data] == sent[::-1][:3]
    cursor = r.headers["X-Next-Cursor"]
    r2 = cord.get(f"/cord/v1/users/456/notifications?cursor={cursor}")
    assert [n["id"] for n in r2.data] == sent[::-1][3:]
    assert "X-Next-Cursor" not in r2.headers


# ---- users --------------------------------------------------------------------------------------

def test_user_upsert_is_partial_and_shapes_headers(cord):
    r = cord.put("/cord/v1/users/123", {"shortName": "Alice", "metadata": {"team": "red", "level": 2}})
    assert r.data == {"success": True, "message": "✅ You successfully updated user 123"}
    cord.put("/cord/v1/users/123", {"email": "alice@example.com", "status": "active"})
    cord.post(NOTIFY, SEED_002_EXAMPLE_1)
    [n] = listing(cord, "456")
    assert n["header"][0] == user_node("123", "Alice Applegate", short="Alice", metadata={"team": "red", "level": 2})


def test_user_upsert_snake_case_and_clearing(cord):
    cord.put("/cord/v1/users/123", {"short_name": "Al", "profile_picture_url": "https://img.example.com/a.png"})
    cord.put("/cord/v1/users/123", {"name": None})
    cord.post(NOTIFY, SEED_002_EXAMPLE_1)
    [n] = listing(cord, "456")
    assert n["header"][0] == user_node("123", None, short="Al", picture="https://img.example.com/a.png")


@pytest.mark.parametrize("payload,field", [
    ({"profilePictureURL": "ftp://x/y.png"}, "profilePictureURL"), ({"metadata": {"a": {"b": 1}}}, "metadata"),
    ({"status": "deleted"}, "status"), ({"nickname": "x"}, "nickname"), ({"name": 5}, "name"),
    ({"name": "n" * 257}, "name"),
])
def test_user_upsert_refusals(cord, payload, field):
    assert_error(cord.put("/cord/v1/users/123", payload), 400, "invalid_request", field)


def test_user_id_rules(cord):
    r = cord.put("/cord/v1/users/me", {"name": "x"})
    assert r.status_code == 400 and r.data["error"] == "invalid_request", r.data


# ---- delete -------------------------------------------------------------------------------------

def test_delete_notification(cord, as_user):
    nid = cord.post(NOTIFY, SEED_002_EXAMPLE_1).data["notificationID"]
    assert as_user("456").get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 1}
    r = cord.delete(f"{NOTIFY}/{nid}")
    assert r.status_code == 200
    assert r.data == {"success": True, "message": f"💀 You successfully deleted notification {nid}"}
    assert listing(cord, "456") == []
    assert as_user("456").get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 0}
    assert_error(cord.delete(f"{NOTIFY}/{nid}"), 404, "notification_not_found")
    assert_error(cord.delete(f"{NOTIFY}/garbage"), 404, "notification_not_found")


# ---- hostile input ------------------------------------------------------------------------------

@pytest.mark.parametrize("over", [
    {"template": "x" * 5000}, {"template": "{{foo}} did it"}, {"template": "   "},
    {"recipientID": "a\x00b"}, {"recipientID": " 456"}, {"actorID": "x" * 300}, {"recipientID": ""},
    {"extraClassnames": "a" * 600}, {"metadata": {f"k{i}": i for i in range(60)}}, {"url": "http://" + "a" * 3000},
])
def test_hostile_input_is_a_clean_4xx(cord, over):
    r = cord.post(NOTIFY, body(**over))
    assert r.status_code in (400, 401), (r.status_code, r.data)
    assert set(r.data) == {"error", "message"}


def test_hostile_paths(cord):
    for path in ("/cord/v1/users/%00/notifications", "/cord/v1/users/" + "a" * 400 + "/notifications"):
        r = cord.get(path)
        assert r.status_code in (400, 401) and "error" in r.data, (path, r.status_code, r.data)
    r = cord.get("/cord/v1/users/456/notifications?filter=" + "%5B" * 3000)
    assert r.status_code == 400, r.data
