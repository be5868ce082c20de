"""Native API: inbox listing, filters, pagination, read state and exact counters."""
from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from chalicelib.settings import reset_settings

from tests.streams_helper import StreamDriver

SEND = "/v1/notifications"
LIST = "/v1/users/me/notifications"
COUNT = "/v1/users/me/notifications/unread-count"


def send(server, user="bob", **kw):
    b = {"recipients": [user], "type": "Comment", "message": "hi"}
    b.update(kw)
    r = server.post(SEND, b)
    assert r.status_code == 201, r.data
    return r.data["notifications"][0]["id"]


def ids_of(r):
    assert r.status_code == 200, r.body
    return [n["id"] for n in r.data["notifications"]]


def count(api):
    return api.get(COUNT).data["unreadCount"]


def test_newest_first_and_pagination_visits_each_once(server, as_user):
    sent = [send(server, message=f"m{i}") for i in range(7)]
    bob = as_user("bob")
    seen, cursor, pages = [], None, 0
    while True:
        r = bob.get(LIST + "?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        seen += ids_of(r)
        pages += 1
        cursor = r.data["cursor"]
        if not cursor:
            break
    assert seen == list(reversed(sent))
    assert pages == 3
    assert ids_of(bob.get(LIST)) == list(reversed(sent))  # default limit 20
    assert bob.get(LIST).data["cursor"] is None


def test_exact_page_boundary_has_no_dangling_cursor(server, as_user):
    for _ in range(3):
        send(server)
    r = as_user("bob").get(LIST + "?limit=3")
    assert len(ids_of(r)) == 3 and r.data["cursor"] is None


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5", "1e2"])
def test_bad_limit(as_user, limit):
    r = as_user("bob").get(LIST + f"?limit={limit}")
    assert r.status_code == 400 and r.data["error"] == "invalid_limit" and r.data["field"] == "limit"


def test_limit_bounds_accepted(server, as_user):
    send(server)
    assert as_user("bob").get(LIST + "?limit=1").status_code == 200
    assert as_user("bob").get(LIST + "?limit=100").status_code == 200


@pytest.mark.parametrize("status", ["bogus", "UNREADX", "1"])
def test_bad_status(as_user, status):
    r = as_user("bob").get(LIST + f"?status={status}")
    assert r.status_code == 400 and r.data["error"] == "invalid_status" and r.data["field"] == "status"


@pytest.mark.parametrize("param,value,code", [("priority", "urgent", "invalid_priority"),
                                              ("since", "yesterday", "invalid_time"),
                                              ("before", "2024-13-45", "invalid_time"),
                                              ("filter", "{bad", "invalid_filter"),
                                              ("filter", quote("[1]"), "invalid_filter"),
                                              ("filter", quote('{"colour":1}'), "invalid_filter"),
                                              ("filter", quote('{"metadata":{"a":{"b":1}}}'), "invalid_map"),
                                              ("filter", quote('{"metadata":[1]}'), "invalid_map"),
                                              ("filter", quote('{"organizationID":5}'), "invalid_filter"),
                                              ("filter", quote("[" * 5000 + "]" * 5000), "invalid_filter")])
def test_bad_query_params(as_user, param, value, code):
    r = as_user("bob").get(LIST + f"?{param}={value}")
    assert r.status_code == 400, (r.status_code, r.body)
    assert r.data["error"] == code
    assert r.data["field"].split(".")[0] == param


def test_status_type_priority_filters(server, as_user):
    a = send(server, type="Comment", priority="high")
    b = send(server, type="Like", priority="low")
    c = send(server, type="Comment", priority="low")
    bob = as_user("bob")
    bob.patch(f"/v1/notifications/{b}", {"read": True})
    assert ids_of(bob.get(LIST + "?status=unread")) == [c, a]
    assert ids_of(bob.get(LIST + "?status=UNREAD")) == [c, a]
    assert ids_of(bob.get(LIST + "?status=read")) == [b]
    assert ids_of(bob.get(LIST + "?status=all")) == [c, b, a]
    assert ids_of(bob.get(LIST + "?type=Comment")) == [c, a]
    assert ids_of(bob.get(LIST + "?type=comment")) == []
    assert ids_of(bob.get(LIST + "?priority=LOW")) == [c, b]
    assert ids_of(bob.get(LIST + "?type=Comment&priority=high&status=unread")) == [a]


def test_since_before(server, as_user):
    old = send(server)
    time.sleep(0.02)
    mid_ms = int(time.time() * 1000)
    time.sleep(0.02)
    new = send(server)
    bob = as_user("bob")
    assert ids_of(bob.get(LIST + f"?since={mid_ms}")) == [new]
    assert ids_of(bob.get(LIST + f"?before={mid_ms}")) == [old]
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(mid_ms / 1000)) + f".{mid_ms % 1000:03d}Z"
    assert ids_of(bob.get(LIST + f"?since={quote(iso)}")) == [new]
    assert ids_of(bob.get(LIST + f"?since={mid_ms / 1000}")) == [new]  # epoch seconds
    assert ids_of(bob.get(LIST + "?before=100")) == []


def test_metadata_location_org_filter(server, as_user):
    a = send(server, metadata={"repo": "x", "n": 1, "ok": True}, location={"page": "p1"}, organizationID="o1")
    b = send(server, metadata={"repo": "y", "n": 2}, location={"page": "p1", "section": "s"})
    send(server)
    bob = as_user("bob")

    def f(obj, twice=False):
        text = quote(json.dumps(obj))
        return ids_of(bob.get(LIST + "?filter=" + (quote(text) if twice else text)))

    assert f({"metadata": {"repo": "x"}}) == [a]
    assert f({"metadata": {"n": 2}}) == [b]
    assert f({"metadata": {"ok": True}}) == [a]
    assert f({"metadata": {"repo": "x", "n": 2}}) == []
    assert f({"location": {"page": "p1"}}) == [a]  # location matches exactly
    assert f({"location": {"page": "p1", "section": "s"}}) == [b]
    assert f({"organizationID": "o1"}) == [a]
    assert f({"metadata": {"repo": "x"}}, twice=True) == [a]
    assert f({}) == ids_of(bob.get(LIST))


def test_filtered_pagination_visits_each_once(server, as_user):
    want = []
    for i in range(9):
        nid = send(server, metadata={"k": "yes" if i % 3 == 0 else "no"})
        if i % 3 == 0:
            want.append(nid)
    bob = as_user("bob")
    seen, cursor = [], None
    flt = quote(json.dumps({"metadata": {"k": "yes"}}))
    for _ in range(10):
        r = bob.get(LIST + f"?limit=1&filter={flt}" + (f"&cursor={cursor}" if cursor else ""))
        seen += ids_of(r)
        cursor = r.data["cursor"]
        if not cursor:
            break
    assert seen == list(reversed(want))


def test_cursor_from_another_listing_is_refused(server, as_user):
    for _ in range(3):
        send(server)
    bob = as_user("bob")
    cursor = bob.get(LIST + "?limit=1").data["cursor"]
    r = bob.get(LIST + f"?limit=1&status=unread&cursor={cursor}")
    assert r.status_code == 400 and r.data["error"] == "invalid_cursor"


# ---- read state --------------------------------------------------------------------------------

def test_patch_read_is_idempotent_and_counter_exact(server, as_user):
    nid = send(server)
    send(server)
    bob = as_user("bob")
    assert count(bob) == 2
    r = bob.patch(f"/v1/notifications/{nid}", {"read": True})
    assert r.status_code == 200 and r.data["read"] is True and r.data["readAt"]
    read_at = r.data["readAt"]
    assert bob.patch(f"/v1/notifications/{nid}", {"read": True}).data["readAt"] == read_at
    assert count(bob) == 1
    r = bob.patch(f"/v1/notifications/{nid}", {"read": False})
    assert r.data["read"] is False and r.data["readAt"] is None
    bob.patch(f"/v1/notifications/{nid}", {"read": False})
    assert count(bob) == 2


@pytest.mark.parametrize("payload", [{}, {"read": "true"}, {"read": 1}, {"read": None}, {"read": True, "x": 1},
                                     [True], "null"])
def test_patch_bad_body(server, as_user, payload):
    nid = send(server)
    r = as_user("bob").patch(f"/v1/notifications/{nid}", payload)
    assert r.status_code == 400, r.body
    assert r.data["field"] in ("read", "x", "body")
    assert count(as_user("bob")) == 1


def test_server_can_read_and_delete_any_recipients_item(server, as_user):
    nid = send(server)
    assert server.get(f"/v1/notifications/{nid}").data["recipient"] == "bob"
    assert server.patch(f"/v1/notifications/{nid}", {"read": True}).data["read"] is True
    assert count(as_user("bob")) == 0
    assert server.delete(f"/v1/notifications/{nid}").status_code == 204
    assert server.get(f"/v1/notifications/{nid}").status_code == 404


def test_delete_keeps_counter_exact(server, as_user):
    a, b = send(server), send(server)
    bob = as_user("bob")
    bob.patch(f"/v1/notifications/{b}", {"read": True})
    assert bob.delete(f"/v1/notifications/{a}").status_code == 204
    assert count(bob) == 0
    assert bob.delete(f"/v1/notifications/{a}").status_code == 404
    assert bob.delete(f"/v1/notifications/{b}").status_code == 204
    assert count(bob) == 0
    assert ids_of(bob.get(LIST)) == []
    assert bob.patch(f"/v1/notifications/{a}", {"read": False}).status_code == 404
    assert count(bob) == 0


def test_mark_ids_read(server, as_user):
    a, b, c = send(server), send(server), send(server)
    bob = as_user("bob")
    r = bob.post("/v1/users/me/notifications/read", {"ids": [a, b, a]})
    assert r.status_code == 200 and r.data == {"marked": 2, "jobId": None, "status": "complete"}
    assert bob.post("/v1/users/me/notifications/read", {"ids": [a, b]}).data["marked"] == 0
    assert count(bob) == 1
    assert ids_of(bob.get(LIST + "?status=unread")) == [c]


def test_mark_ids_with_unknown_id_marks_nothing_extra(server, as_user):
    a = send(server)
    bob = as_user("bob")
    r = bob.post("/v1/users/me/notifications/read", {"ids": ["garbage"]})
    assert r.status_code == 404 and r.data["field"] == "ids"
    assert count(bob) == 1


@pytest.mark.parametrize("payload,field", [
    ({}, "ids"), ({"ids": []}, "ids"), ({"ids": "x"}, "ids"), ({"ids": [1]}, "ids"), ({"all": False}, "all"),
    ({"all": "yes"}, "all"), ({"ids": ["x"], "all": True}, "ids"), ({"before": "nope"}, "before"),
    ({"before": True}, "before"), ({"everything": True}, "everything"), ([1], "body"),
    ({"ids": ["x"] * 1001}, "ids"),
])
def test_mark_read_bad_bodies(server, as_user, payload, field):
    send(server)
    r = as_user("bob").post("/v1/users/me/notifications/read", payload)
    assert r.status_code == 400, (payload, r.body)
    assert r.data["field"] == field, r.data
    assert count(as_user("bob")) == 1


def test_mark_all_and_before_inline(server, as_user):
    old = [send(server) for _ in range(3)]
    time.sleep(0.02)
    cut = int(time.time() * 1000)
    time.sleep(0.02)
    new = send(server)
    bob = as_user("bob")
    r = bob.post("/v1/users/me/notifications/read", {"before": cut})
    assert r.status_code == 200 and r.data == {"marked": 3, "jobId": None, "status": "complete"}
    assert ids_of(bob.get(LIST + "?status=unread")) == [new]
    r = bob.post("/v1/users/me/notifications/read", {"all": True})
    assert r.data["marked"] == 1
    assert count(bob) == 0
    assert all(n["readAt"] for n in bob.get(LIST).data["notifications"])
    assert old


def test_server_marks_a_users_inbox(server, as_user):
    send(server)
    assert server.post("/v1/users/bob/notifications/read", {"all": True}).data["marked"] == 1
    assert count(as_user("bob")) == 0


def test_mark_all_many_goes_through_the_stream(server, as_user, monkeypatch):
    monkeypatch.setenv("INLINE_READ_ALL_LIMIT", "3")
    reset_settings()
    r = server.post(SEND, {"recipients": ["bob"], "type": "T", "message": "x"})
    for _ in range(11):
        send(server)
    bob = as_user("bob")
    assert count(bob) == 12
    r = bob.post("/v1/users/me/notifications/read", {"all": True})
    assert r.status_code == 202, r.data
    assert r.data["status"] == "queued" and r.data["jobId"]
    job = r.data["jobId"]
    st = bob.get(f"/v1/broadcasts/{job}")
    assert st.status_code == 200 and st.data["status"] in ("queued", "running")
    assert as_user("eve").get(f"/v1/broadcasts/{job}").status_code == 404
    StreamDriver().drain()
    assert count(bob) == 0
    assert ids_of(bob.get(LIST + "?status=unread")) == []
    st = bob.get(f"/v1/broadcasts/{job}")
    assert st.data["status"] == "complete", st.data
    assert server.get(f"/v1/broadcasts/{job}").status_code == 200


def test_unread_count_counts_each_notification_once_with_retries(server, as_user):
    h = {"Idempotency-Key": "once"}
    for _ in range(3):
        server.post(SEND, {"recipients": ["bob"], "type": "T", "message": "x"}, headers=h)
    assert count(as_user("bob")) == 1


@pytest.mark.parametrize("bid", ["nope", "A" * 5000, "YmFk"])
def test_unknown_broadcast_is_404(server, bid):
    r = server.get(f"/v1/broadcasts/{bid}")
    assert r.status_code == 404 and r.data["error"] == "broadcast_not_found"
