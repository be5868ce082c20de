def test_round_trip(server, as_user):
    r = server.post("/v1/notifications", {"recipients": ["bob"], "type": "Comment", "message": "Hi **bob**"})
    assert r.status_code == 201, r.data
    nid = r.data["notifications"][0]["id"]
    bob = as_user("bob")
    page = bob.get("/v1/users/me/notifications")
    assert page.status_code == 200, page.data
    assert [n["id"] for n in page.data["notifications"]] == [nid]
    assert page.data["notifications"][0]["html"] == "<p>Hi <strong>bob</strong></p>\n"
    assert bob.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 1}
    assert bob.patch(f"/v1/notifications/{nid}", {"read": True}).data["read"] is True
    assert bob.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 0}
