"""Native API: hostile input to every write route never produces a 500 and always names a field."""
from __future__ import annotations

import pytest

WRITES = [
    ("post", "/v1/notifications"),
    ("post", "/v1/users/bob/notifications/read"),
    ("put", "/v1/users/bob"),
    ("put", "/v1/users/bob/settings"),
    ("put", "/v1/organizations/o1/members/bob"),
    ("put", "/v1/communities/c1/members/bob"),
]
HOSTILE = ["", "not json", "[]", '"s"', "null", "1", "{" * 3, "[" * 5000 + "]" * 5000,
           '{"a":' * 3000 + "1" + "}" * 3000, "\xff\xfe", '{"x": "\\ud800"}', '{"' + "k" * 10000 + '": 1}']


@pytest.mark.parametrize("method,path", WRITES)
@pytest.mark.parametrize("raw", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_bodies_are_4xx_with_a_field(server, method, path, raw):
    r = getattr(server, method)(path, raw)
    assert 400 <= r.status_code < 500, (path, raw[:20], r.status_code, r.body[:200])
    assert set(r.data) >= {"error", "message", "field"}, r.data


def test_patch_hostile(server):
    nid = server.post("/v1/notifications", {"recipients": ["bob"], "type": "T", "message": "x"}).data[
        "notifications"][0]["id"]
    for raw in HOSTILE:
        r = server.patch(f"/v1/notifications/{nid}", raw)
        assert r.status_code == 400 and r.data["field"], (raw[:20], r.body)


@pytest.mark.parametrize("query", ["limit=%00", "status=%00", "type=" + "x" * 5000, "priority=%F0%9F%92%A1",
                                   "since=1e400", "before=-1e400", "since=nan", "before=inf",
                                   "filter=%7B%22metadata%22%3A%7B%22a%22%3A1e999%7D%7D", "cursor=%FF%FE",
                                   "filter=" + "%5B" * 3000])
def test_hostile_queries_are_not_500(as_user, query):
    r = as_user("bob").get(f"/v1/users/me/notifications?{query}")
    assert r.status_code in (200, 400), (query, r.status_code, r.body[:300])
    if r.status_code == 400:
        assert r.data["field"]


@pytest.mark.parametrize("field", ["metadata", "location"])
@pytest.mark.parametrize("number", ["1e999", "-1e999"])
def test_non_finite_map_numbers_are_400(server, field, number):
    raw = '{"recipients":["bob"],"type":"T","message":"x","%s":{"a":%s}}' % (field, number)
    r = server.post("/v1/notifications", raw)
    assert r.status_code == 400, r.body
    assert r.data["field"].startswith(field)
    assert server.get("/v1/users/bob/notifications/unread-count").data == {"unreadCount": 0}


def test_non_finite_filter_numbers_are_400(as_user):
    r = as_user("bob").get("/v1/users/me/notifications?filter=%7B%22metadata%22%3A%7B%22a%22%3A1e999%7D%7D")
    assert r.status_code == 400 and r.data["field"] == "filter.metadata"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "1" + "0" * 40, "1e200", "1e-200"])
def test_unstorable_metadata_numbers_are_400(server, number):
    raw = '{"recipients":["bob"],"type":"T","message":"x","metadata":{"a":%s}}' % number
    r = server.post("/v1/notifications", raw)
    assert r.status_code == 400, r.body
    assert r.data["error"] == "invalid_map" and r.data["field"] == "metadata"


def test_storable_extreme_numbers_round_trip(server):
    md = {"big": 10 ** 37, "neg": -1.5e100, "tiny": 1e-100, "zero": 0.0}
    assert server.post("/v1/notifications", {"recipients": ["bob"], "type": "T", "message": "x",
                                             "metadata": md}).status_code == 201
    got = server.get("/v1/users/bob/notifications").data["notifications"][0]["metadata"]
    assert got == md


@pytest.mark.parametrize("ct", ["application/octet-stream", "multipart/form-data", ""])
def test_unsupported_content_type_is_415_not_500(server, ct):
    # Refused before anything is sent, in the native error shape.
    r = server.post("/v1/notifications", '{"recipients":["bob"],"type":"T","message":"x"}',
                    headers={"Content-Type": ct})
    assert r.status_code == 415
    assert r.data["error"] == "unsupported_media_type" and r.data["field"] == "Content-Type"
    assert server.get("/v1/users/bob/notifications/unread-count").data == {"unreadCount": 0}


@pytest.mark.parametrize("ct", ["application/json; charset=utf-8", "APPLICATION/JSON", "text/plain"])
def test_json_content_types_are_accepted(server, ct):
    r = server.post("/v1/notifications", '{"recipients":["bob"],"type":"T","message":"x"}',
                    headers={"Content-Type": ct})
    assert r.status_code == 201, r.body
