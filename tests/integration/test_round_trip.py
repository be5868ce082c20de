"""Send → list → mark read → unread count, over HTTP against the service as `make dev` runs it."""
from __future__ import annotations

from tests.integration.conftest import wait_for


def test_send_list_read_count(service):
    srv = service.session()
    bob = service.session(user="bob")
    r = srv.post(service.url("/v1/notifications"),
                 json={"recipients": ["bob"], "type": "Comment", "message": "Hi *bob*", "priority": "HIGH"})
    assert r.status_code == 201, r.text
    nid = r.json()["notifications"][0]["id"]
    page = bob.get(service.url("/v1/users/me/notifications")).json()
    assert [n["id"] for n in page["notifications"]] == [nid]
    assert page["notifications"][0]["priority"] == "high"
    assert bob.get(service.url("/v1/users/me/notifications/unread-count")).json() == {"unreadCount": 1}
    r = bob.patch(service.url(f"/v1/notifications/{nid}"), json={"read": True})
    assert r.status_code == 200 and r.json()["read"] is True and r.json()["readAt"]
    assert bob.get(service.url("/v1/users/me/notifications/unread-count")).json() == {"unreadCount": 0}


def test_unauthenticated_is_refused(service):
    import requests

    r = requests.get(service.url("/v1/users/me/notifications"))
    assert r.status_code == 401  # no header: the app itself answers, in the native shape
    assert r.json()["error"] == "unauthorized"
    r = requests.get(service.url("/v1/users/me/notifications"), headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    assert requests.get(service.url("/health")).status_code == 200
    assert requests.get(service.url("/openapi.json")).json()["openapi"].startswith("3.1")


def test_broadcast_fans_out_through_local_stream(service):
    srv = service.session()
    for user in ("m1", "m2", "m3"):
        assert srv.put(service.url(f"/v1/organizations/int-org/members/{user}"),
                       json={"role": "Standard User"}).status_code in (200, 201)
    r = srv.post(service.url("/v1/notifications"),
                 json={"organization": "int-org", "type": "Announcement", "message": "All hands"})
    assert r.status_code == 202, r.text
    bid = r.json()["broadcastId"]
    status = wait_for(lambda: (lambda b: b if b["status"] == "complete" else None)(
        srv.get(service.url(f"/v1/broadcasts/{bid}")).json()), timeout=30)
    assert status["delivered"] == 3
    m2 = service.session(user="m2")
    assert m2.get(service.url("/v1/users/me/notifications/unread-count")).json() == {"unreadCount": 1}


def test_default_make_dev_engine_still_serves(moto_service):
    """`make dev` without options runs on the embedded moto server."""
    srv = moto_service.session()
    r = srv.post(moto_service.url("/v1/notifications"), json={"recipients": ["zed"], "type": "Ping", "message": "hi"})
    assert r.status_code == 201, r.text
    assert moto_service.session(user="zed").get(
        moto_service.url("/v1/users/me/notifications/unread-count")).json() == {"unreadCount": 1}
