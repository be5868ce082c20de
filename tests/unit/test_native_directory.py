"""Native API: users, settings, notification types, memberships, OpenAPI."""
from __future__ import annotations

import pytest

from tests.conftest import Api


def test_put_and_get_user(server, as_user):
    r = server.put("/v1/users/bob", {"name": "Bob B", "shortName": "Bob",
                                     "profilePictureURL": "https://img.example/b.png", "metadata": {"t": 1}})
    assert r.status_code == 201, r.data
    assert r.data == {"id": "bob", "name": "Bob B", "shortName": "Bob",
                      "profilePictureURL": "https://img.example/b.png", "metadata": {"t": 1}, "isApiUser": False}
    assert server.put("/v1/users/bob", {"name": "Bobby"}).status_code == 200
    got = as_user("bob").get("/v1/users/me")
    assert got.status_code == 200 and got.data["name"] == "Bobby" and got.data["shortName"] is None
    assert server.get("/v1/users/bob").data == got.data
    assert as_user("eve").get("/v1/users/bob").status_code == 403
    assert server.get("/v1/users/nobody").status_code == 404
    assert server.get("/v1/users/nobody").data["error"] == "user_not_found"


@pytest.mark.parametrize("payload,field", [
    ({"name": 5}, "name"), ({"name": "x" * 257}, "name"), ({"shortName": "x" * 129}, "shortName"),
    ({"profilePictureURL": "javascript:alert(1)"}, "profilePictureURL"),
    ({"profilePictureURL": "ftp://x.example/a"}, "profilePictureURL"), ({"metadata": {"a": {"b": 1}}}, "metadata.a"),
    ({"metadata": "x"}, "metadata"), ({"isApiUser": "yes"}, "isApiUser"), ({"extra": 1}, "extra"),
    ([], "body"), ("null", "body"), ("{", "body"),
])
def test_put_user_bad_input(server, payload, field):
    r = server.put("/v1/users/bob", payload)
    assert r.status_code == 400, (payload, r.body)
    assert r.data["field"] == field, r.data
    assert server.get("/v1/users/bob").status_code == 404


@pytest.mark.parametrize("uid", ["me", "x" * 300])
def test_put_user_bad_ids(server, uid):
    r = server.put(f"/v1/users/{uid}", {"name": "x"})
    assert r.status_code == 400, (uid, r.body)
    assert r.data["error"] == "invalid_user_id" and r.data["field"] == "userId"


@pytest.mark.parametrize("uid", ["a\x00b", "a\nb", " bob", "bob ", "", "me", "x" * 257, 5, None])
def test_user_id_rule(uid):
    # Path parameters arrive URL-decoded from API Gateway; Chalice's test client does not decode them,
    # so the rule is exercised directly.
    from chalicelib.domain.errors import InvalidInput
    from chalicelib.domain.rules import check_user_id

    with pytest.raises(InvalidInput) as err:
        check_user_id(uid, "userId")
    assert err.value.code == "invalid_user_id" and err.value.field == "userId"


def test_settings_round_trip_and_defaults(as_user):
    bob = as_user("bob")
    assert bob.get("/v1/users/me/settings").data == {"mutedTypes": [], "minPriority": "low"}
    r = bob.put("/v1/users/me/settings", {"mutedTypes": ["Like", "Like", "Mention"], "minPriority": "MEDIUM"})
    assert r.status_code == 200, r.data
    assert bob.get("/v1/users/bob/settings").data == {"mutedTypes": ["Like", "Mention"], "minPriority": "medium"}
    assert bob.put("/v1/users/me/settings", {}).status_code == 200
    assert bob.get("/v1/users/me/settings").data == {"mutedTypes": [], "minPriority": "low"}


@pytest.mark.parametrize("payload,field,code", [
    ({"mutedTypes": "Like"}, "mutedTypes", "invalid_field"), ({"mutedTypes": [1]}, "mutedTypes", "invalid_field"),
    ({"mutedTypes": [""]}, "mutedTypes", "invalid_type"), ({"mutedTypes": ["x" * 51]}, "mutedTypes", "invalid_type"),
    ({"mutedTypes": ["a\x00"]}, "mutedTypes", "invalid_type"),
    ({"mutedTypes": [f"t{i}" for i in range(201)]}, "mutedTypes", "invalid_field"),
    ({"minPriority": "urgent"}, "minPriority", "invalid_priority"), ({"minPriority": 2}, "minPriority", "invalid_field"),
    ({"muted": []}, "muted", "invalid_field"), ([], "body", "invalid_body"),
])
def test_settings_bad_input(as_user, payload, field, code):
    r = as_user("bob").put("/v1/users/me/settings", payload)
    assert r.status_code == 400, (payload, r.body)
    assert (r.data["field"], r.data["error"]) == (field, code), r.data


def test_server_settings_need_a_named_user(server):
    assert server.get("/v1/users/me/settings").status_code == 404
    assert server.put("/v1/users/bob/settings", {"minPriority": "high"}).status_code == 200
    assert server.get("/v1/users/bob/settings").data["minPriority"] == "high"


def test_notification_types_registered_on_first_use(server, as_user):
    assert server.get("/v1/notification-types").data == {"types": []}
    for t in ("Comment", "comment", "Like"):
        assert server.post("/v1/notifications", {"recipients": ["bob"], "type": t, "message": "x"}).status_code == 201
    names = sorted(t["name"] for t in as_user("bob").get("/v1/notification-types").data["types"])
    assert names == ["Comment", "Like"]


def test_types_refused_sends_register_nothing(server):
    server.post("/v1/notifications", {"recipients": ["bob"], "type": "Ghost", "message": "x", "url": "ftp://x"})
    assert server.get("/v1/notification-types").data == {"types": []}


def test_membership_routes(server, as_user):
    r = server.put("/v1/organizations/o1/members/bob", {"role": "standard user"})
    assert r.status_code == 201 and r.data["role"] == "Standard User" and r.data["userId"] == "bob"
    assert server.put("/v1/organizations/o1/members/bob", {"role": "Organization Administrator"}).status_code == 200
    assert as_user("bob").get("/v1/organizations/o1/members/me").data["role"] == "Organization Administrator"
    assert as_user("eve").get("/v1/organizations/o1/members/bob").status_code == 403
    page = server.get("/v1/organizations/o1/members")
    assert [m["userId"] for m in page.data["members"]] == ["bob"] and page.data["cursor"] is None
    assert server.delete("/v1/organizations/o1/members/bob").status_code == 204
    assert server.delete("/v1/organizations/o1/members/bob").status_code == 404
    assert server.get("/v1/organizations/o1/members/bob").status_code == 404


def test_membership_pagination(server):
    for u in ("a", "b", "c"):
        server.put(f"/v1/communities/c1/members/{u}", {"role": "Subscriber"})
    seen, cursor = [], None
    for _ in range(5):
        r = server.get("/v1/communities/c1/members?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [m["userId"] for m in r.data["members"]]
        cursor = r.data["cursor"]
        if not cursor:
            break
    assert sorted(seen) == ["a", "b", "c"] and len(seen) == 3


@pytest.mark.parametrize("path,payload,field", [
    ("/v1/organizations/o1/members/bob", {"role": "King"}, "role"),
    ("/v1/organizations/o1/members/bob", {"role": "Standard User", "banned": True}, "banned"),
    ("/v1/communities/c1/members/bob", {"role": "Subscriber", "banned": "no"}, "banned"),
    ("/v1/communities/c1/members/bob", {}, "role"),
    ("/v1/communities/c1/members/bob", {"role": 3}, "role"),
    ("/v1/organizations/bad%20id/members/bob", {"role": "Standard User"}, "orgId"),
    ("/v1/communities/c1/members/me", {"role": "Subscriber"}, "userId"),
])
def test_membership_bad_input(server, path, payload, field):
    r = server.put(path, payload)
    assert r.status_code == 400, (path, payload, r.body)
    assert r.data["field"] == field, r.data


@pytest.mark.parametrize("q,field", [("limit=0", "limit"), ("limit=x", "limit"), ("cursor=garbage", "cursor"),
                                     ("cursor=" + "A" * 4000, "cursor")])
def test_membership_listing_bad_params(server, q, field):
    r = server.get(f"/v1/organizations/o1/members?{q}")
    assert r.status_code == 400, r.body
    assert r.data["field"] == field


def test_openapi_lists_every_route(client):
    from app import app
    from chalicelib.api.surfaces import all_routes

    doc = Api(client, {}).get("/openapi.json")
    assert doc.status_code == 200
    documented = {(p, m.upper()) for p, ops in doc.data["paths"].items() for m in ops}
    registered = {(p, m) for p, entry in app.routes.items() for m in entry}
    # Every registered route is documented, except the fallbacks: 405 for a method a path does not
    # serve, and the greedy catch-alls answering an unknown path with 404.
    fallbacks = {(r.path, r.method) for r in all_routes() if not r.documented}
    assert fallbacks and all(p.endswith("{proxy+}") or (p, m) not in documented for p, m in fallbacks)
    served = registered - fallbacks
    assert served - documented == set()
    assert documented - served == set()
    native = {x for x in served if x[0].startswith("/v1/")}
    assert ("/v1/notifications", "POST") in native and len(native) >= 20
    for (path, method) in native:
        op = doc.data["paths"][path][method.lower()]
        assert op["security"] == [{"bearer": []}]
        assert "400" in op["responses"]
    assert "security" not in doc.data["paths"]["/health"]["get"]


def test_unknown_route_is_not_a_500(server):
    r = server.get("/v1/nothing-here")
    assert r.status_code in (403, 404)


@pytest.mark.parametrize("method,suffix,payload", [
    ("get", "/notifications", None), ("get", "/notifications/unread-count", None), ("get", "/settings", None),
    ("put", "/settings", {"minPriority": "high"}), ("post", "/notifications/read", {"all": True}),
    ("get", "", None),
])
def test_server_naming_an_impossible_user_is_400(server, method, suffix, payload):
    path = "/v1/users/" + "x" * 5000 + suffix
    r = getattr(server, method)(path, body=payload) if payload is not None else getattr(server, method)(path)
    assert r.status_code == 400, (path[-30:], r.status_code, r.body[:200])
    assert r.data["error"] == "invalid_user_id" and r.data["field"] == "userId"


def test_delete_member_validates_the_user_id(server):
    r = server.delete("/v1/organizations/o1/members/" + "x" * 5000)
    assert r.status_code == 400 and r.data["error"] == "invalid_user_id" and r.data["field"] == "userId"


def test_hand_built_broadcast_ids_with_impossible_keys_are_404(server):
    from chalicelib import ids

    for owner, sk in [("org#o1", "A" * 1100), ("org#" + "o" * 2000, "01ARZ3NDEKTSV4RRFFQ69G5FAV")]:
        r = server.get(f"/v1/broadcasts/{ids.broadcast_id(owner, sk)}")
        assert r.status_code == 404 and r.data["error"] == "broadcast_not_found"
