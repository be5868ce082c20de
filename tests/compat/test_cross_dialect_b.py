"""One notification, four surfaces: sent natively, read by Spark and api3, marked read by Spark,
and the unread counts of the native API and Spark's /unread agree throughout."""
from __future__ import annotations

from tests.conftest import Api, auth


def test_native_send_read_by_spark_and_api3(server, client):
    r = server.post("/v1/notifications", {"recipients": ["bob"], "type": "OperationComplete",
                                          "message": "Your PDF generation has completed!",
                                          "url": "http://myapplication.com/cmas/19581825.pdf",
                                          "resourceUri": "http://myapplication.com/cmas/19581825.json"})
    assert r.status_code == 201, r.data
    nid = r.data["notifications"][0]["id"]
    other = server.post("/v1/notifications", {"recipients": ["bob"], "type": "General", "message": "second"})
    other_id = other.data["notifications"][0]["id"]

    native = Api(client, auth("dev", "bob"))
    spark = Api(client, auth("dev", "bob", ("Private",)))
    admin = Api(client, auth("dev", "ann", ("admin",)))

    def counts():
        n = native.get("/v1/users/bob/notifications/unread-count").data["unreadCount"]
        s = spark.get("/spark/v1/notifications/unread").data["D"]["Pagination"]["TotalRows"]
        assert n == s
        return n

    assert counts() == 2
    spark_items = {i["Id"]: i for i in spark.get("/spark/v1/notifications").data["D"]["Results"]}
    assert set(spark_items) == {nid, other_id}
    item = spark_items[nid]
    assert item["Message"] == "Your PDF generation has completed!"
    assert item["BrowserUri"] == "http://myapplication.com/cmas/19581825.pdf"
    assert item["ResourceUri"] == "http://myapplication.com/cmas/19581825.json"
    assert item["Read"] is False and item["RecipientId"] == "bob"

    a = admin.get(f"/api3/notification/{nid}").data["notification"]
    assert a["id"] == nid and a["tweet"] == "Your PDF generation has completed!" and a["read"] is False
    assert a["url"] == "http://myapplication.com/cmas/19581825.pdf"
    assert {n["id"] for n in admin.get("/api3/notification?member_id=bob").data["notificationlist"]} == \
        {nid, other_id}

    assert spark.put(f"/spark/v1/notifications/{nid}", {"D": {"Read": True}}).status_code == 200
    assert counts() == 1
    v1 = native.get(f"/v1/notifications/{nid}").data
    assert v1["read"] is True and v1["readAt"]
    a = admin.get(f"/api3/notification/{nid}").data["notification"]
    assert a["read"] is True and a["status_class"] == "notifcation-item-read"
    [listed] = [n for n in admin.get("/api3/notification").data["notificationlist"] if n["id"] == nid]
    assert listed["statusclass"] == "notifcation-item-read"
    s = [i for i in spark.get("/spark/v1/notifications").data["D"]["Results"] if i["Id"] == nid][0]
    assert s["Read"] is True and s["ReadTimestamp"] == v1["readAt"][:19]

    # native unread → Spark sees it; api3 delete → both counts drop
    native.patch(f"/v1/notifications/{nid}", {"read": False})
    assert counts() == 2
    assert native.delete(f"/api3/notification/{other_id}").data == {"message": "success", "code": 200}
    assert counts() == 1
    assert spark.get("/spark/v1/notifications?_pagination=1").data["D"]["Pagination"]["TotalRows"] == 1
    assert admin.get("/api3/notification").data["stats"]["total"] == "1"


def test_template_only_notifications_read_as_text(server, client):
    server.put("/v1/users/alice", {"name": "Alice Liddell"})
    r = server.post("/v1/notifications", {"recipients": ["bob"], "type": "Comment",
                                          "template": "{{actor}} commented on your idea", "actor": "alice"})
    nid = r.data["notifications"][0]["id"]
    [s] = Api(client, auth("dev", "bob")).get("/spark/v1/notifications").data["D"]["Results"]
    assert s["Message"] == "Alice Liddell commented on your idea" and s["SenderId"] == "alice"
    a = Api(client, auth("dev")).get(f"/api3/notification/{nid}").data["notification"]
    assert a["tweet"] == "Alice Liddell commented on your idea" and a["screenname"] == ["Alice Liddell"]


def test_spark_post_for_a_user_who_muted_the_type(client):
    bob = Api(client, auth("dev", "bob", ("Private",)))
    assert bob.put("/v1/users/me/settings", {"mutedTypes": ["General"]}).status_code == 200
    r = bob.post("/spark/v1/notifications", {"D": {"Type": "General", "Message": "muted"}})
    assert r.status_code == 200 and r.data == {"D": {"Results": [], "Success": True}}
    assert bob.post("/spark/v1/notifications", {"D": {"Type": "OperationComplete", "Message": "ok"}}).status_code == 201
    assert bob.get("/spark/v1/notifications/unread").data["D"]["Pagination"]["TotalRows"] == 1
