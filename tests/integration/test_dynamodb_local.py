"""The full native API over real HTTP against DynamoDB Local, and a 2,000-member broadcast
fanned out by the local stream poller reading DynamoDB Local's real stream."""
from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.integration.conftest import wait_for

ORG_SIZE = 1000  # two chunks of 500: the coordinator cuts, two writers deliver
# Unique ids per run, so the tier can run again against a deployed stack's tables.
RUN = os.environ.get("IT_RUN_ID") or uuid.uuid4().hex[:6]
CAROL, DAVE = f"carol-{RUN}", f"dave-{RUN}"


def _ok(r, *codes):
    assert r.status_code in codes, (r.status_code, r.text)
    return r.json() if r.content else None


def test_users_settings_types_and_inbox_api(service):
    srv = service.session()
    u = lambda user: service.session(user=user)  # noqa: E731
    _ok(srv.put(service.url(f"/v1/users/{CAROL}"), json={"name": "Carol C", "shortName": "Carol"}), 201)
    assert _ok(u(CAROL).get(service.url("/v1/users/me")), 200)["name"] == "Carol C"
    _ok(u(CAROL).put(service.url("/v1/users/me/settings"), json={"mutedTypes": ["Spam"], "minPriority": "low"}),
        200)
    assert _ok(u(CAROL).get(service.url("/v1/users/me/settings")), 200)["mutedTypes"] == ["Spam"]
    sent = _ok(srv.post(service.url("/v1/notifications"),
                        json={"recipients": [CAROL, DAVE], "type": "Spam", "message": "buy"}), 201)
    assert {s["recipient"] for s in sent["skipped"]} == {CAROL}
    ids = []
    for i in range(3):
        body = _ok(srv.post(service.url("/v1/notifications"), headers={"Idempotency-Key": f"k-{RUN}-{i}"},
                            json={"recipients": [CAROL], "type": "Comment", "message": f"m{i}"}), 201)
        ids.append(body["notifications"][0]["id"])
    replay = srv.post(service.url("/v1/notifications"), headers={"Idempotency-Key": f"k-{RUN}-0"},
                      json={"recipients": [CAROL], "type": "Comment", "message": "m0"})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["notifications"][0]["id"] == ids[0]
    assert "Comment" in {t["name"] for t in _ok(srv.get(service.url("/v1/notification-types")), 200)["types"]}
    carol = u(CAROL)
    page = _ok(carol.get(service.url("/v1/users/me/notifications?limit=2")), 200)
    assert [n["id"] for n in page["notifications"]] == ids[::-1][:2] and page["cursor"]
    rest = _ok(carol.get(service.url(f"/v1/users/me/notifications?limit=2&cursor={page['cursor']}")), 200)
    assert [n["id"] for n in rest["notifications"]] == [ids[0]]
    assert _ok(carol.get(service.url("/v1/users/me/notifications/unread-count")), 200) == {"unreadCount": 3}
    assert _ok(carol.post(service.url("/v1/users/me/notifications/read"), json={"ids": [ids[0]]}), 200)["marked"] == 1
    unread = _ok(carol.get(service.url("/v1/users/me/notifications?status=unread")), 200)
    assert {n["id"] for n in unread["notifications"]} == set(ids[1:])
    assert _ok(carol.get(service.url(f"/v1/notifications/{ids[1]}")), 200)["read"] is False
    assert carol.delete(service.url(f"/v1/notifications/{ids[1]}")).status_code == 204
    assert carol.get(service.url(f"/v1/notifications/{ids[1]}")).status_code == 404
    assert _ok(carol.get(service.url("/v1/users/me/notifications/unread-count")), 200) == {"unreadCount": 1}
    _ok(carol.post(service.url("/v1/users/me/notifications/read"), json={"all": True}), 200, 202)
    wait_for(lambda: carol.get(service.url("/v1/users/me/notifications/unread-count")).json()["unreadCount"] == 0,
             timeout=30)
    # another user's inbox is not carol's to read
    assert u(DAVE).get(service.url(f"/v1/notifications/{ids[0]}")).status_code in (403, 404)


def test_memberships_api(service):
    srv = service.session()
    base = service.url(f"/v1/communities/c-int-{RUN}/members")
    assert _ok(srv.put(base + f"/x1-{RUN}", json={"role": "Subscriber"}), 201)["userId"] == f"x1-{RUN}"
    _ok(srv.put(base + f"/x2-{RUN}", json={"role": "Subscriber", "banned": True}), 201)
    assert _ok(srv.put(base + f"/x1-{RUN}", json={"role": "Editor"}), 200)["role"] == "Editor"
    listing = _ok(srv.get(base + "?limit=1"), 200)
    assert [m["userId"] for m in listing["members"]] == [f"x1-{RUN}"] and listing["cursor"]
    assert [m["userId"] for m in _ok(srv.get(base + f"?limit=1&cursor={listing['cursor']}"), 200)["members"]] == \
        [f"x2-{RUN}"]
    assert service.session(user=f"x1-{RUN}").get(base + "/me").status_code == 200
    assert srv.delete(base + f"/x2-{RUN}").status_code == 204
    assert srv.get(base + f"/x2-{RUN}").status_code == 404
    assert service.session(user=f"x1-{RUN}").put(base + f"/x3-{RUN}", json={"role": "Subscriber"}).status_code == 403


def test_broadcast_to_1000_members_through_dynamodb_local_stream(service):
    srv = service.session()
    headers = dict(srv.headers)
    users = [f"big{i:05d}-{RUN}" for i in range(ORG_SIZE)]

    def join(user: str) -> int:
        with requests.Session() as s:
            return s.put(service.url(f"/v1/organizations/org-1k-{RUN}/members/{user}"), json={"role": "Standard User"},
                         headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(join, users)) == {201}
    r = srv.post(service.url("/v1/notifications"),
                 json={"organization": f"org-1k-{RUN}", "type": "Announcement", "message": "Everyone: **hello**"})
    assert r.status_code == 202, r.text
    bid = r.json()["broadcastId"]
    final = wait_for(lambda: (lambda b: b if b["status"] in ("complete", "failed") else None)(
        srv.get(service.url(f"/v1/broadcasts/{bid}")).json()), timeout=300, interval=0.5)
    assert final["status"] == "complete", final
    assert final["eligible"] == ORG_SIZE and final["delivered"] == ORG_SIZE

    def count(user: str) -> int:
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {service.token(user=user)}"
            return s.get(service.url("/v1/users/me/notifications/unread-count")).json()["unreadCount"]

    with ThreadPoolExecutor(8) as pool:
        counts = dict(zip(users, pool.map(count, users)))
    assert {u: c for u, c in counts.items() if c != 1} == {}
    page = service.session(user=users[-1]).get(service.url("/v1/users/me/notifications")).json()
    assert [n["broadcastId"] for n in page["notifications"]] == [bid]
