"""Native API: authentication, tenancy and ownership."""
from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from tests.conftest import Api, auth

DEV_KEY = "dev-signing-key-change-me-0123456789abcdef"


def _claims(**over):
    from chalicelib.settings import get_settings

    s = get_settings()
    now = int(time.time())
    c = {"iss": s.issuer, "aud": s.audience, "iat": now, "exp": now + 600, "tid": "dev", "sub": "bob",
         "roles": [], "kind": "user"}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def _hdr(token):
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _send(api, recipients=("bob",), **kw):
    body = {"recipients": list(recipients), "type": "Comment", "message": "hi"}
    body.update(kw)
    r = api.post("/v1/notifications", body)
    assert r.status_code == 201, r.data
    return r.data["notifications"][0]["id"]


def _assert_401(r):
    assert r.status_code == 401, (r.status_code, r.body)
    assert r.data["error"] == "unauthorized"


@pytest.mark.parametrize("path", ["/v1/users/me/notifications", "/v1/notification-types",
                                  "/v1/users/me/notifications/unread-count"])
def test_missing_token_is_401(client, path):
    # With no Authorization header at all, the gateway (API Gateway and Chalice's local emulation)
    # refuses before our authorizer runs, in its own shape {"message": "Unauthorized"}.
    r = Api(client, {}).get(path)
    assert r.status_code == 401
    assert r.data.get("error", "unauthorized") == "unauthorized"


def test_health_and_openapi_need_no_token(client):
    api = Api(client, {})
    assert api.get("/health").status_code == 200
    assert api.get("/openapi.json").status_code == 200


@pytest.mark.parametrize("make", [
    lambda: jwt.encode(_claims(exp=int(time.time()) - 10), DEV_KEY, algorithm="HS256"),  # expired
    lambda: jwt.encode(_claims(), "wrong-key-0123456789abcdef0123456789", algorithm="HS256"),
    lambda: jwt.encode(_claims(), None, algorithm="none"),
    lambda: jwt.encode(_claims(aud="someone-else"), DEV_KEY, algorithm="HS256"),
    lambda: jwt.encode(_claims(iss="https://evil.example"), DEV_KEY, algorithm="HS256"),
    lambda: jwt.encode(_claims(tid="nosuchtenant"), DEV_KEY, algorithm="HS256"),
    lambda: jwt.encode(_claims(exp=None), DEV_KEY, algorithm="HS256"),  # missing exp
    lambda: jwt.encode(_claims(tid=None), DEV_KEY, algorithm="HS256"),
    lambda: jwt.encode(_claims(), DEV_KEY, algorithm="HS512"),  # not on the allow-list
    lambda: jwt.encode(_claims(kind="admin"), DEV_KEY, algorithm="HS256"),
    lambda: jwt.encode(_claims(roles="admin"), DEV_KEY, algorithm="HS256"),
    lambda: jwt.encode(_claims(sub=None), DEV_KEY, algorithm="HS256"),  # kind user without sub
    lambda: jwt.encode(_claims(tid="acme"), DEV_KEY, algorithm="HS256"),  # acme tenant, dev key
    lambda: "not.a.jwt",
    lambda: "x" * 9000,
], ids=["expired", "wrong-key", "alg-none", "wrong-aud", "wrong-iss", "unknown-tenant", "no-exp", "no-tid",
        "hs512", "bad-kind", "roles-string", "user-no-sub", "tenant-key-mismatch", "garbage", "huge"])
def test_bad_tokens_are_401(client, make):
    _assert_401(Api(client, _hdr(make())).get("/v1/users/me/notifications"))


@pytest.mark.parametrize("value", ["Basic abc", "Bearer", "Bearer    ", "Token abc"])
def test_bad_authorization_scheme_is_401(client, value):
    _assert_401(Api(client, {"Authorization": value}).get("/v1/users/me/notifications"))


def test_valid_handmade_token_is_accepted(client):
    r = Api(client, _hdr(jwt.encode(_claims(), DEV_KEY, algorithm="HS256"))).get("/v1/users/me/notifications")
    assert r.status_code == 200, r.data


def test_user_cannot_read_another_users_inbox(server, as_user):
    _send(server, ["alice"])
    bob = as_user("bob")
    for path in ["/v1/users/alice/notifications", "/v1/users/alice/notifications/unread-count",
                 "/v1/users/alice/settings"]:
        r = bob.get(path)
        assert r.status_code == 403, (path, r.data)
        assert r.data["error"] == "forbidden" and r.data["field"] == "userId"
    r = bob.put("/v1/users/alice/settings", {"mutedTypes": ["Comment"]})
    assert r.status_code == 403
    r = bob.post("/v1/users/alice/notifications/read", {"all": True})
    assert r.status_code == 403
    # alice still has her unread one
    assert as_user("alice").get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 1}


def test_user_cannot_touch_another_users_notification(server, as_user):
    nid = _send(server, ["alice"])
    bob = as_user("bob")
    for r in (bob.get(f"/v1/notifications/{nid}"), bob.patch(f"/v1/notifications/{nid}", {"read": True}),
              bob.delete(f"/v1/notifications/{nid}")):
        assert r.status_code == 404, r.data
        assert r.data["error"] == "notification_not_found"
    alice = as_user("alice")
    assert alice.get(f"/v1/notifications/{nid}").data["read"] is False
    assert alice.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 1}


def test_user_cannot_mark_another_users_ids_through_own_inbox(server, as_user):
    nid = _send(server, ["alice"])
    r = as_user("bob").post("/v1/users/me/notifications/read", {"ids": [nid]})
    assert r.status_code == 404 and r.data["field"] == "ids"
    assert as_user("alice").get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 1}


def test_cross_tenant_notification_id_is_404(client, server):
    nid = _send(server, ["bob"])
    for tenant in ("acme", "other"):
        for api in (Api(client, auth(tenant)), Api(client, auth(tenant, "bob"))):
            assert api.get(f"/v1/notifications/{nid}").status_code == 404
            assert api.patch(f"/v1/notifications/{nid}", {"read": True}).status_code == 404
            assert api.delete(f"/v1/notifications/{nid}").status_code == 404
        assert Api(client, auth(tenant, "bob")).get("/v1/users/me/notifications").data["notifications"] == []
        assert Api(client, auth(tenant, "bob")).get(
            "/v1/users/me/notifications/unread-count").data == {"unreadCount": 0}
    assert Api(client, auth("dev", "bob")).get(f"/v1/notifications/{nid}").status_code == 200


def test_cross_tenant_types_users_and_broadcasts_do_not_leak(client, server):
    _send(server, ["bob"])
    server.put("/v1/users/bob", {"name": "Bob"})
    acme = Api(client, auth("acme"))
    assert acme.get("/v1/notification-types").data == {"types": []}
    assert acme.get("/v1/users/bob").status_code == 404
    server.put("/v1/organizations/o1/members/bob", {"role": "Standard User"})
    r = server.post("/v1/notifications", {"organization": "o1", "type": "News", "message": "x"})
    assert r.status_code == 202, r.data
    bid = r.data["broadcastId"]
    assert server.get(f"/v1/broadcasts/{bid}").status_code == 200
    assert acme.get(f"/v1/broadcasts/{bid}").status_code == 404


def test_forged_cursor_pointing_into_another_inbox_stays_in_own_inbox(server, as_user):
    for _ in range(3):
        _send(server, ["alice"])
    _send(server, ["bob"])
    bob = as_user("bob")
    page = as_user("alice").get("/v1/users/me/notifications?limit=1")
    cursor = page.data["cursor"]
    r = bob.get(f"/v1/users/me/notifications?limit=5&cursor={cursor}")
    # the cursor only carries a sort key; the partition comes from the token
    assert r.status_code in (200, 400)
    if r.status_code == 200:
        assert all(n["recipient"] == "bob" for n in r.data["notifications"])


@pytest.mark.parametrize("cursor", ["garbage", "AAAA", base64.urlsafe_b64encode(b'{"i":1}').decode(),
                                    base64.urlsafe_b64encode(json.dumps({"i": "unread", "s": "x", "r": "y"}).encode()).decode(),
                                    base64.urlsafe_b64encode(b"[1,2]").decode(), "%00%01", "x" * 5000])
def test_garbage_cursor_is_400(as_user, cursor):
    r = as_user("bob").get(f"/v1/users/me/notifications?cursor={cursor}")
    assert r.status_code == 400, (r.status_code, r.body)
    assert r.data["error"] == "invalid_cursor" and r.data["field"] == "cursor"


def test_server_me_is_404_and_server_reads_any_user(server):
    _send(server, ["bob"])
    r = server.get("/v1/users/me/notifications")
    assert r.status_code == 404 and r.data["field"] == "userId"
    assert len(server.get("/v1/users/bob/notifications").data["notifications"]) == 1


def test_user_cannot_put_profiles_or_members(as_user):
    bob = as_user("bob", roles=["admin"])
    r = bob.put("/v1/users/bob", {"name": "Bob"})
    assert r.status_code == 403 and r.data["error"] == "forbidden"
    assert bob.put("/v1/organizations/o1/members/bob", {"role": "admin"}).status_code == 403
    assert bob.get("/v1/organizations/o1/members").status_code == 403


def test_user_cannot_send_to_strangers(server, as_user):
    r = as_user("bob").post("/v1/notifications", {"recipients": ["carol"], "type": "Comment", "message": "x"})
    assert r.status_code == 403 and r.data["field"] == "recipients"
    assert server.get("/v1/users/carol/notifications/unread-count").data == {"unreadCount": 0}


def test_user_cannot_impersonate_actor(server, as_user):
    server.put("/v1/organizations/o1/members/bob", {"role": "Standard User"})
    server.put("/v1/organizations/o1/members/carol", {"role": "Standard User"})
    r = as_user("bob").post("/v1/notifications", {"recipients": ["carol"], "type": "Comment", "message": "x",
                                                  "actor": "carol"})
    assert r.status_code == 403 and r.data["field"] == "actor"
    r = as_user("bob").post("/v1/notifications", {"recipients": ["carol"], "type": "Comment", "message": "x"})
    assert r.status_code == 201, r.data
    n = as_user("carol").get("/v1/users/me/notifications").data["notifications"][0]
    assert n["actor"] == "bob" and n["senders"] == ["bob"]


def test_user_can_only_see_own_broadcast_jobs(server, as_user):
    _send(server, ["bob"])
    r = as_user("bob").post("/v1/users/me/notifications/read", {"all": True})
    assert r.status_code == 200 and r.data["marked"] == 1 and r.data["jobId"] is None


def test_random_and_huge_ids_are_404(as_user, server):
    bob = as_user("bob")
    for nid in ["abc", base64.urlsafe_b64encode(b"n\x1fbob\x1fnope").decode().rstrip("="), "A" * 5000,
                "%E2%98%83", "..%2F..%2Fetc"]:
        for api in (bob, server):
            r = api.get(f"/v1/notifications/{nid}")
            assert r.status_code == 404, (nid, r.status_code, r.body)
            assert r.data["error"] == "notification_not_found"


def test_forged_id_of_an_internal_item_is_404(server, as_user):
    """An id built by hand for the aggregation pointer (same partition) must not expose or change it."""
    from chalicelib import ids
    from chalicelib.store.inbox import group_sk

    server.post("/v1/notifications", {"recipients": ["bob"], "type": "T", "message": "x", "groupKey": "g"})
    forged = ids.notification_id("bob", group_sk("g"))
    bob = as_user("bob")
    assert bob.get(f"/v1/notifications/{forged}").status_code == 404
    assert bob.patch(f"/v1/notifications/{forged}", {"read": False}).status_code == 404
    assert bob.delete(f"/v1/notifications/{forged}").status_code == 404
    assert bob.post("/v1/users/me/notifications/read", {"ids": [forged]}).status_code == 404
    assert bob.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 1}
    # the pointer still works: the next send aggregates
    r = server.post("/v1/notifications", {"recipients": ["bob"], "type": "T", "message": "y", "groupKey": "g"})
    assert r.data["notifications"][0]["aggregated"] is True


def test_hand_built_ids_with_impossible_keys_are_404(server, as_user):
    """Sort keys are ULIDs and user ids at most 256 characters; DynamoDB refuses keys over 1 KB
    (moto does not), so such ids must be refused before the store."""
    from chalicelib import ids

    for user, sk in [("bob", "A" * 1100), ("u" * 1400, "01ARZ3NDEKTSV4RRFFQ69G5FAV"), ("bob", "not-a-ulid")]:
        nid = ids.notification_id(user, sk)
        assert server.get(f"/v1/notifications/{nid}").status_code == 404
        assert server.patch(f"/v1/notifications/{nid}", {"read": True}).status_code == 404
        r = as_user("bob").post("/v1/users/me/notifications/read", {"ids": [nid]})
        assert r.status_code == 404 and r.data["field"] == "ids", r.body
