"""Polling with If-None-Match: 304 until the inbox changes, whatever changes it."""
from __future__ import annotations

LIST = "/v1/users/me/notifications"
COUNT = "/v1/users/me/notifications/unread-count"


def poll(api, path, etag):
    return api.get(path, headers={"If-None-Match": etag})


def test_etag_changes_with_every_kind_of_change(server, as_user):
    cy = as_user("cy")
    first = cy.get(LIST)
    etag = first.headers["ETag"]
    assert poll(cy, LIST, etag).status_code == 304
    assert poll(cy, LIST, etag).headers["ETag"] == etag
    count_tag = cy.get(COUNT).headers["ETag"]
    assert poll(cy, COUNT, count_tag).status_code == 304

    def changed(action) -> None:
        nonlocal etag
        action()
        r = poll(cy, LIST, etag)
        assert r.status_code == 200, action
        assert r.headers["ETag"] != etag
        etag = r.headers["ETag"]
        assert poll(cy, LIST, etag).status_code == 304

    changed(lambda: server.post("/v1/notifications", {"recipients": ["cy"], "type": "T", "message": "a",
                                                      "groupKey": "g", "actor": "x"}))
    nid = cy.get(LIST).data["notifications"][0]["id"]
    changed(lambda: server.post("/v1/notifications", {"recipients": ["cy"], "type": "T", "message": "b",
                                                      "groupKey": "g", "actor": "y"}))  # aggregation
    assert len(cy.get(LIST).data["notifications"]) == 1
    changed(lambda: cy.patch(f"/v1/notifications/{nid}", {"read": True}))
    changed(lambda: cy.patch(f"/v1/notifications/{nid}", {"read": False}))
    changed(lambda: cy.post("/v1/users/me/notifications/read", {"all": True}))
    changed(lambda: cy.delete(f"/v1/notifications/{nid}"))
    assert poll(cy, COUNT, count_tag).status_code == 200


def test_etag_depends_on_the_query_and_the_user(server, as_user):
    server.post("/v1/notifications", {"recipients": ["dee", "eve"], "type": "T", "message": "m"})
    dee = as_user("dee")
    all_tag = dee.get(LIST).headers["ETag"]
    unread_tag = dee.get(LIST + "?status=unread").headers["ETag"]
    assert all_tag != unread_tag
    assert poll(dee, LIST + "?status=unread", all_tag).status_code == 200
    eve = poll(as_user("eve"), LIST, all_tag)  # same version, same query, another inbox
    assert eve.status_code == 200 and eve.headers["ETag"] != all_tag
    assert eve.headers["Vary"] == "Authorization, Origin" and "private" in eve.headers["Cache-Control"]
    assert poll(dee, LIST, 'W/"nope", ' + all_tag).status_code == 304
