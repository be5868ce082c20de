"""Cross-dialect: Cord, ThreatConnect and the native API read and write the same inboxes."""
from __future__ import annotations

import json

from tests.streams_helper import fanout  # noqa: F401  (fixture)

CORD = "/cord/v1/notifications"
TC = "/threatconnect/api/v2/notifications"
SANDWICH = ('{"actorID": "123", "recipientID": "456", "template": "{{actor}} sent {{recipient}} a delicious sandwich",'
            ' "url": "http://www.example.com/", "type": "url"}')


def setup_users(server):
    for uid, name in (("123", "Alice Applegate"), ("456", "Bob Bloke"), ("789", "Carol Capable")):
        assert server.put(f"/cord/v1/users/{uid}", {"name": name}).status_code == 200
    for uid, role in (("123", "Organization Administrator"), ("456", "Standard User"), ("789", "Standard User")):
        assert server.put(f"/v1/organizations/acme/members/{uid}", {"role": role}).status_code in (200, 201)


def cord_list(server, user):
    r = server.get(f"/cord/v1/users/{user}/notifications")
    assert r.status_code == 200, r.data
    return r.data


def unread(as_user, user):
    return as_user(user).get("/v1/users/me/notifications/unread-count").data["unreadCount"]


def test_cord_send_is_visible_natively(server, as_user):
    setup_users(server)
    nid = server.post(CORD, SANDWICH).data["notificationID"]
    bob = as_user("456")
    [n] = bob.get("/v1/users/me/notifications").data["notifications"]
    assert n["id"] == nid
    assert n["template"] == "{{actor}} sent {{recipient}} a delicious sandwich"
    assert n["actor"] == "123" and n["senders"] == ["123"]
    assert n["url"] == "http://www.example.com/"
    assert n["header"] == cord_list(server, "456")[0]["header"]
    assert bob.get(f"/v1/notifications/{nid}").data["id"] == nid
    assert unread(as_user, "456") == 1
    assert bob.patch(f"/v1/notifications/{nid}", {"read": True}).data["read"] is True
    assert cord_list(server, "456")[0]["readStatus"] == "read"
    assert unread(as_user, "456") == 0


def test_native_send_is_visible_through_cord(server):
    setup_users(server)
    r = server.post("/v1/notifications", {
        "recipients": ["456"], "type": "Comment", "template": "{{actor}} commented on your doc", "actor": "123",
        "url": "https://docs.example.com/1", "metadata": {"doc": 1}, "extraClassnames": "c1",
        "iconUrl": "https://img.example.com/i.png"})
    assert r.status_code == 201, r.data
    [n] = cord_list(server, "456")
    assert n["id"] == r.data["notifications"][0]["id"]
    assert n["header"][0]["user"]["name"] == "Alice Applegate"
    assert n["header"][1] == {"type": "text", "text": " commented on your doc", "bold": False}
    assert n["attachment"] == {"type": "url", "url": "https://docs.example.com/1"}
    assert (n["metadata"], n["extraClassnames"], n["iconUrl"]) == ({"doc": 1}, "c1", "https://img.example.com/i.png")
    assert n["senderUserIDs"] == ["123"]


def test_native_message_attachment_and_aggregation_through_cord(server):
    setup_users(server)
    message = {"id": "m1", "authorID": "123", "threadID": "t1", "plaintext": "hi"}
    for actor in ("123", "789"):
        r = server.post("/v1/notifications", {"recipients": ["456"], "type": "Reaction", "actor": actor,
                                              "template": "{{actor}} reacted", "groupKey": "m1-reactions",
                                              "attachment": {"type": "message", "message": message}})
        assert r.status_code == 201, r.data
    [n] = cord_list(server, "456")
    assert n["senderUserIDs"] == ["123", "789"]  # aggregated: one notification, two senders
    assert n["attachment"] == {"type": "message", "message": message}
    assert n["header"][0]["user"]["id"] == "789"  # the newest sender leads


def test_threatconnect_send_is_visible_through_cord_and_natively(server, as_user):
    setup_users(server)
    r = as_user("123").post(TC, json.dumps({"message": "Patch **now**", "notificationType": "Alert",
                                            "priority": "HIGH", "recipients": "456,789"}))
    assert (r.status_code, r.data) == (200, {"status": "Success"})
    for user in ("456", "789"):
        [n] = cord_list(server, user)
        assert n["header"] == [{"type": "text", "text": "Patch **now**", "bold": False}]
        assert n["senderUserIDs"] == ["123"] and n["attachment"] is None and n["readStatus"] == "unread"
        [native] = as_user(user).get("/v1/users/me/notifications").data["notifications"]
        assert (native["type"], native["priority"], native["html"]) == ("Alert", "high",
                                                                        "<p>Patch <strong>now</strong></p>\n")


def test_threatconnect_organization_broadcast_through_cord(server, as_user, fanout):
    setup_users(server)
    r = as_user("123").post(TC, json.dumps({"message": "all", "notificationType": "Ops", "priority": "low",
                                            "isOrganization": True}))
    assert r.status_code == 200, r.data
    assert cord_list(server, "456") == []  # queued until the stream fans it out
    fanout.drain()
    for user in ("123", "456", "789"):
        assert [n["header"][0]["text"] for n in cord_list(server, user)] == ["all"]
        assert unread(as_user, user) == 1


def test_unread_count_is_consistent_across_dialects(server, as_user):
    setup_users(server)
    ids = [server.post(CORD, SANDWICH).data["notificationID"] for _ in range(2)]
    as_user("123").post(TC, json.dumps({"message": "m", "notificationType": "T", "priority": "low",
                                        "recipients": "456"}))
    server.post("/v1/notifications", {"recipients": ["456"], "type": "N", "message": "native"})

    def cord_unread():
        return sum(n["readStatus"] == "unread" for n in cord_list(server, "456"))

    assert unread(as_user, "456") == cord_unread() == 4
    assert server.delete(f"{CORD}/{ids[0]}").status_code == 200
    assert unread(as_user, "456") == cord_unread() == 3
    assert as_user("456").patch(f"/v1/notifications/{ids[1]}", {"read": True}).status_code == 200
    assert unread(as_user, "456") == cord_unread() == 2
    r = as_user("456").post("/v1/users/me/notifications/read", {"all": True})
    assert r.status_code == 200, r.data
    assert unread(as_user, "456") == cord_unread() == 0
    assert len(cord_list(server, "456")) == 3


def test_cord_send_to_a_recipient_who_muted_the_type(server, as_user):
    setup_users(server)
    assert as_user("456").put("/v1/users/me/settings", {"mutedTypes": ["Cord"]}).status_code == 200
    r = server.post(CORD, SANDWICH)
    assert r.status_code == 200
    assert r.data == {"success": True, "message": "Notification created.", "notificationID": None}
    assert cord_list(server, "456") == []


def test_recipient_known_only_by_membership(server):
    """A directory member without a profile (e.g. added for ThreatConnect) is a known Cord user."""
    setup_users(server)
    assert server.put("/v1/organizations/acme/members/dave", {"role": "Standard User"}).status_code == 201
    assert server.post(CORD, SANDWICH.replace('"456"', '"dave"')).status_code == 200
    [n] = cord_list(server, "dave")
    assert n["header"][2] == {"type": "user", "user": {"id": "dave", "name": None, "shortName": None,
                                                       "profilePictureURL": None, "metadata": {}}}
