"""Native API: edges between rules (expiry, deleted aggregation targets, broadcast replay)."""
from __future__ import annotations

import time

SEND = "/v1/notifications"


def test_expired_notification_disappears_from_reads(server, as_user):
    r = server.post(SEND, {"recipients": ["bob"], "type": "T", "message": "x", "expiresAt": int(time.time()) + 1})
    nid = r.data["notifications"][0]["id"]
    keep = server.post(SEND, {"recipients": ["bob"], "type": "T", "message": "y"}).data["notifications"][0]["id"]
    time.sleep(2.1)
    bob = as_user("bob")
    assert [n["id"] for n in bob.get("/v1/users/me/notifications").data["notifications"]] == [keep]
    assert bob.get(f"/v1/notifications/{nid}").status_code == 404
    assert bob.patch(f"/v1/notifications/{nid}", {"read": True}).status_code == 404


def test_send_after_aggregation_target_deleted_starts_new_item(server, as_user):
    first = server.post(SEND, {"recipients": ["bob"], "type": "T", "message": "x", "groupKey": "g"}).data[
        "notifications"][0]["id"]
    bob = as_user("bob")
    assert bob.delete(f"/v1/notifications/{first}").status_code == 204
    r = server.post(SEND, {"recipients": ["bob"], "type": "T", "message": "y", "groupKey": "g", "actor": "al"})
    assert r.status_code == 201
    second = r.data["notifications"][0]
    assert second["id"] != first and second["aggregated"] is False
    assert bob.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 1}
    assert [n["id"] for n in bob.get("/v1/users/me/notifications").data["notifications"]] == [second["id"]]


def test_aggregation_after_mark_unread_again(server, as_user):
    first = server.post(SEND, {"recipients": ["bob"], "type": "T", "message": "x", "groupKey": "g"}).data[
        "notifications"][0]["id"]
    bob = as_user("bob")
    bob.patch(f"/v1/notifications/{first}", {"read": True})
    bob.patch(f"/v1/notifications/{first}", {"read": False})
    r = server.post(SEND, {"recipients": ["bob"], "type": "T", "message": "y", "groupKey": "g", "actor": "al"})
    assert r.data["notifications"][0] == {"id": first, "recipient": "bob", "aggregated": True}
    assert bob.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 1}
    # the unread index and the activity index agree on the bumped item
    assert [n["id"] for n in bob.get("/v1/users/me/notifications?status=unread").data["notifications"]] == [first]


def test_broadcast_send_is_idempotent(server):
    server.put("/v1/organizations/o1/members/bob", {"role": "Standard User"})
    h = {"Idempotency-Key": "b-1"}
    payload = {"organization": "o1", "type": "News", "message": "x"}
    r1 = server.post(SEND, payload, headers=h)
    r2 = server.post(SEND, payload, headers=h)
    assert r1.status_code == r2.status_code == 202
    assert r2.data == r1.data and r2.headers["Idempotent-Replayed"] == "true"
    st = server.get(f"/v1/broadcasts/{r1.data['broadcastId']}")
    assert st.status_code == 200 and st.data["audience"] == {"organization": "o1"}
    assert st.data["status"] == "queued"


def test_mark_read_before_accepts_iso(server, as_user):
    server.post(SEND, {"recipients": ["bob"], "type": "T", "message": "x"})
    r = as_user("bob").post("/v1/users/me/notifications/read", {"before": "2999-01-01T00:00:00Z"})
    assert r.status_code == 200 and r.data["marked"] == 1
    r = as_user("bob").post("/v1/users/me/notifications/read", {"before": "2000-01-01T00:00:00Z"})
    assert r.data["marked"] == 0


def test_html_and_header_for_plain_message(server):
    server.post(SEND, {"recipients": ["bob"], "type": "T", "message": "**b** & <i>"})
    n = server.get("/v1/users/bob/notifications").data["notifications"][0]
    assert n["html"] == "<p><strong>b</strong> &amp; &lt;i&gt;</p>\n"
    assert n["header"] == [{"type": "text", "text": "**b** & <i>", "bold": False}]
    assert n["senders"] == [] and n["actor"] is None and n["read"] is False and n["readAt"] is None


import pytest  # noqa: E402


@pytest.mark.xfail(strict=True, reason="between expiresAt and DynamoDB's TTL deletion the unread count still "
                                       "includes the item; the expiry Lambda (inbox stream) corrects the counter "
                                       "when TTL deletes it (tests/unit/test_expiry.py). moto never deletes.")
def test_expired_unread_item_leaves_the_unread_count(server, as_user):
    server.post(SEND, {"recipients": ["bob"], "type": "T", "message": "x", "expiresAt": int(time.time()) + 1})
    time.sleep(2.1)
    assert as_user("bob").get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 0}
