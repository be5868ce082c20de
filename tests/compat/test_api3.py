"""api3 notification LIST / GET / DELETE (seed 003): the documented examples, every parameter,
limit and permission on both sides of its edge, XML, and hostile input (never a 500)."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from xml.etree import ElementTree as ET

import pytest

from chalicelib.api.dialects.api3 import relative_date
from tests.conftest import Api, auth

SEED_TOKEN = {"Authorization": "Bearer 85f7b2462570acdde9a458ba6495b8763dcd040c"}  # the documents' header
NO_ACCESS = "Invalid object ID or you don't have access to this object"
ITEM_KEYS = {"id", "tweet", "actiontype", "notification_type", "url", "profile", "screenname", "date", "datedue",
             "timestamp", "status_class", "statusclass", "read"}
PICTURE = "https://community.example.com/CT/getfile.php?a=OD3006&f=8585BB07-837B-48E0-9D82-FC5BB49B2BBF&thumb=100"
POST_URL = ("https://community.example.com/ct/ctviewpost.bix?c=1F93FD4F-F06D-456A-AFE9-825CE9B591F2"
            "&tid=F065DB08-1980-4334-BC3A-ECA770D39238")


@pytest.fixture
def admin(client):
    return Api(client, auth("dev", "ann", ("admin",)))


def send(server, recipients, type_="ideacommentdetails", message="Hey there @John Doe", **extra):
    r = server.post("/v1/notifications", {"recipients": recipients, "type": type_, "message": message, **extra})
    assert r.status_code == 201, r.data
    return [n["id"] for n in r.data["notifications"]]


def raw(client, method, path, headers):
    return getattr(client.http, method)(path, headers=headers)


def seed_like(server):
    """The documented GET example's notification: David mentions John Doe on a post."""
    assert server.put("/v1/users/david", {"name": "David", "profilePictureURL": PICTURE}).status_code in (200, 201)
    return send(server, ["john"], message="Hey there @John Doe", actor="david", url=POST_URL,
                metadata={"actiontype": 18})[0]


# ---- the documented examples --------------------------------------------------------------------

def test_seed_get_example(server, admin):
    nid = seed_like(server)
    r = admin.get(f"/api3/notification/{nid}")
    assert r.status_code == 200, r.data
    assert list(r.data) == ["notification"]
    n = r.data["notification"]
    assert set(n) == ITEM_KEYS
    assert n["id"] == nid
    assert n["tweet"] == "Hey there @John Doe"
    assert n["actiontype"] == 18
    assert n["url"] == POST_URL
    assert n["profile"] == PICTURE
    assert n["screenname"] == ["David"]
    assert n["date"] == "just now"
    assert n["datedue"] == ""
    assert isinstance(n["timestamp"], int) and abs(n["timestamp"] - time.time()) < 60
    assert n["status_class"] == "notifcation-item-unread"  # sic, as documented
    assert n["read"] is False


def test_seed_list_example(server, admin):
    nid = seed_like(server)
    r = admin.get("/api3/notification")
    assert r.status_code == 200
    assert list(r.data) == ["notificationlist", "stats"]
    [item] = r.data["notificationlist"]
    assert item["id"] == nid and item["statusclass"] == "notifcation-item-unread" and item["read"] is False
    assert item["screenname"] == ["David"] and item["actiontype"] == 18
    assert r.data["stats"] == {"total": "1", "pagecount": 1, "currentpage": 1}  # total is a string


def test_seed_stats_shape_18_items_page_3_of_9(server, admin):
    send(server, [f"user{i}" for i in range(18)])
    r = admin.get("/api3/notification?page_size=2&page=3")
    assert r.data["stats"] == {"total": "18", "pagecount": 9, "currentpage": 3}
    assert len(r.data["notificationlist"]) == 2


def test_seed_delete_example(server, client):
    nid = send(server, ["john"])[0]
    r = Api(client, auth("dev", "john")).delete(f"/api3/notification/{nid}")
    assert r.status_code == 200
    assert r.data == {"message": "success", "code": 200}


def test_seed_token_is_not_a_valid_token_here(client):
    for method, path in (("get", "/api3/notification"), ("get", "/api3/notification/x"),
                         ("delete", "/api3/notification/x")):
        r = raw(client, method, path, SEED_TOKEN)
        assert r.status_code == 401
        body = json.loads(r.body)
        assert body["code"] == 401 and body["message"]


def test_relative_dates_match_the_documented_examples():
    # 1387482233 (Dec 19 2013) shown as "3 weeks ago"; 1385052456 (Nov 21 2013) shown as "Nov 21 2013".
    now = (1387482233 + 22 * 86400) * 1000
    assert relative_date(1387482233 * 1000, now) == "3 weeks ago"
    assert relative_date(1385052456 * 1000, now) == "Nov 21 2013"
    assert relative_date(now - 30_000, now) == "just now"
    assert relative_date(now - 60_000, now) == "1 minute ago"
    assert relative_date(now - 5 * 3600_000, now) == "5 hours ago"
    assert relative_date(now - 86400_000, now) == "1 day ago"
    assert relative_date(now + 5000, now) == "just now"  # clock skew


# ---- permissions ------------------------------------------------------------------------------

@pytest.mark.parametrize("roles,ok", [(("admin",), True), (("Admin",), True), (("ADMIN",), True),
                                      (("Private",), False), ((), False), (("administrator",), False)])
def test_list_and_get_need_an_admin(server, client, roles, ok):
    nid = send(server, ["bob"])[0]
    api = Api(client, auth("dev", "bob", roles))  # even the recipient is refused without the role
    r_list, r_get = api.get("/api3/notification"), api.get(f"/api3/notification/{nid}")
    if ok:
        assert r_list.status_code == 200 and r_get.status_code == 200
    else:
        assert r_list.status_code == 403 and r_list.data == {"message": NO_ACCESS, "code": 403}
        assert r_get.status_code == 404 and r_get.data == {"message": NO_ACCESS, "code": 404}


def test_server_token_is_an_admin(server):
    nid = send(server, ["bob"])[0]
    assert server.get("/api3/notification").data["stats"]["total"] == "1"
    assert server.get(f"/api3/notification/{nid}").data["notification"]["id"] == nid


@pytest.mark.parametrize("bad_id", ["3DA28600-9BA5-4750-A8EE-0D2D16F3D5ED", "1695", "x" * 5000, "%00", "..",
                                    "bh9ib2IfMDFNODRa"])
def test_get_missing_ids_look_like_forbidden_ones(admin, bad_id):
    r = admin.get(f"/api3/notification/{bad_id}")
    assert r.status_code == 404 and r.data == {"message": NO_ACCESS, "code": 404}


def test_get_does_not_cross_tenants(server, client):
    nid = send(server, ["bob"])[0]
    r = Api(client, auth("acme", "ann", ("admin",))).get(f"/api3/notification/{nid}")
    assert r.status_code == 404 and r.data["message"] == NO_ACCESS
    assert Api(client, auth("acme", "ann", ("admin",))).get("/api3/notification").data["stats"]["total"] == "0"


# ---- LIST parameters --------------------------------------------------------------------------

@pytest.mark.parametrize("page_size,ok", [("0", False), ("1", True), ("100", True), ("101", False),
                                          ("-1", False), ("abc", False), ("1e3", False), ("", True),
                                          ("99999999999999999999", False)])
def test_page_size_limits(server, admin, page_size, ok):
    send(server, ["a", "b"])
    r = admin.get(f"/api3/notification?page_size={page_size}")
    if ok:
        assert r.status_code == 200
    else:
        assert r.status_code == 400 and r.data["code"] == 400 and "page_size" in r.data["message"]


def test_page_size_default_is_20_and_max_100(server, admin):
    send(server, [f"u{i}" for i in range(101)][:100])
    send(server, ["u100"])
    r = admin.get("/api3/notification")
    assert len(r.data["notificationlist"]) == 20
    assert r.data["stats"] == {"total": "101", "pagecount": 6, "currentpage": 1}
    r = admin.get("/api3/notification?page_size=100")
    assert len(r.data["notificationlist"]) == 100 and r.data["stats"]["pagecount"] == 2
    r = admin.get("/api3/notification?page_size=100&page=2")
    assert len(r.data["notificationlist"]) == 1


@pytest.mark.parametrize("page,ok", [("0", False), ("1", True), ("3", True), ("4", False), ("-2", False),
                                     ("x", False)])
def test_page_must_be_between_1_and_pagecount(server, admin, page, ok):
    send(server, [f"u{i}" for i in range(5)])
    r = admin.get(f"/api3/notification?page_size=2&page={page}")
    if ok:
        assert r.status_code == 200 and r.data["stats"]["currentpage"] == int(page)
    else:
        assert r.status_code == 400 and "page" in r.data["message"]


def test_empty_listing_has_page_1(admin):
    r = admin.get("/api3/notification")
    assert r.data == {"notificationlist": [], "stats": {"total": "0", "pagecount": 0, "currentpage": 1}}
    assert admin.get("/api3/notification?page=2").status_code == 400


def test_newest_first_across_shards_and_pages(server, admin):
    ids = [send(server, [f"user{i}"])[0] for i in range(23)]  # one send each: distinct, ordered times
    newest_first = list(reversed(ids))
    seen = []
    for page in (1, 2, 3):
        seen += [n["id"] for n in admin.get(f"/api3/notification?page_size=10&page={page}").data["notificationlist"]]
    assert seen == newest_first
    asc = [n["id"] for n in admin.get("/api3/notification?page_size=100&order=date_started%20ASC")
           .data["notificationlist"]]
    assert asc == ids


def test_order_by_documented_attributes(server, admin):
    a = send(server, ["bob"], type_="beta")[0]
    b = send(server, ["bob"], type_="alpha")[0]
    c = send(server, ["bob"], type_="beta")[0]
    order = "notification_type%20DESC,%20date_started%20ASC"
    got = [n["id"] for n in admin.get(f"/api3/notification?order={order}").data["notificationlist"]]
    assert got == [a, c, b]
    got = [n["id"] for n in admin.get("/api3/notification?order=notification_type").data["notificationlist"]]
    assert got[0] == b
    for attr in ("id", "datecreated", "datemodified", "date_completed", "title", "notification_code",
                 "DATE_STARTED desc", "id asc, title desc"):
        assert admin.get(f"/api3/notification?order={attr}").status_code == 200, attr


def test_order_accepts_every_documented_attribute(server, admin):
    # The seed lists visible, anonymous and score too: equal for every notification, so they keep
    # the default order (newest first) and may be combined with the others.
    a, b = send(server, ["bob"])[0], send(server, ["bob"])[0]
    for order in ("score", "visible DESC", "anonymous ASC", "score DESC, id ASC", "SCORE"):
        r = admin.get(f"/api3/notification?order={order.replace(' ', '%20')}")
        assert r.status_code == 200, (order, r.data)
    got = [n["id"] for n in admin.get("/api3/notification?order=score").data["notificationlist"]]
    assert got == [b, a]


@pytest.mark.parametrize("order", ["password", "tweet", "date_started UP",
                                  "date_started ASC DESC", ",", "id;DROP TABLE", "1", "x" * 600])
def test_unknown_order_attributes_are_refused(server, admin, order):
    send(server, ["bob"])
    r = admin.get(f"/api3/notification?order={order}")
    assert r.status_code == 400 and "order" in r.data["message"], r.data


def test_order_by_title_and_completion(server, admin, client):
    a = send(server, ["bob"], message="banana")[0]
    b = send(server, ["bob"], message="apple")[0]
    c = send(server, ["bob"], message="cherry")[0]
    got = [n["id"] for n in admin.get("/api3/notification?order=title%20ASC").data["notificationlist"]]
    assert got == [b, a, c]
    Api(client, auth("dev", "bob")).patch(f"/v1/notifications/{c}", {"read": True})
    got = [n["id"] for n in admin.get("/api3/notification?order=date_completed%20DESC").data["notificationlist"]]
    assert got[0] == c  # read ones first descending; never-read last


def test_filters(server, admin, client):
    ann = send(server, ["ann"], type_="ideacommentdetails", metadata={"campaign_id": "11111111-1111-1111-1111-111111111111"})[0]
    bob = send(server, ["bob"], type_="ideapost")[0]
    both = send(server, ["ann", "bob"], type_="ideapost")

    def ids(query):
        r = admin.get(f"/api3/notification?{query}")
        assert r.status_code == 200, r.data
        assert r.data["stats"]["total"] == str(len(r.data["notificationlist"]))
        return sorted(n["id"] for n in r.data["notificationlist"])

    assert ids("member_id=ann") == sorted([ann, both[0]])
    assert ids("member_id=nobody") == []
    assert ids("notification_type=ideapost") == sorted([bob] + both)
    assert ids("notification_type=ideapost&member_id=bob") == sorted([bob, both[1]])
    assert ids("campaign_id=11111111-1111-1111-1111-111111111111") == [ann]
    assert ids(f"id={bob}") == [bob]
    assert ids(f"id={bob}&member_id=ann") == []
    assert ids("id=45564") == []  # the documented sample value: not an id here
    today = datetime.now(timezone.utc).strftime("%m/%d/%Y")
    assert len(ids(f"date_started={today}")) == 4
    assert ids("date_started=12/06/2009") == []
    assert ids(f"date_completed={today}") == []
    Api(client, auth("dev", "bob")).patch(f"/v1/notifications/{bob}", {"read": True})
    assert ids(f"date_completed={today}") == [bob]
    assert ids(f"date_completed={today}&member_id=bob") == [bob]
    assert ids("date_completed=12/06/2009") == []
    assert ids(f"id={bob}&date_completed={today}") == [bob]


@pytest.mark.parametrize("query", ["date_started=2009-13-45", "date_started=yesterday", "date_completed=12/32/2009",
                                   "date_started=" + "1" * 300])
def test_bad_dates_are_refused(admin, query):
    r = admin.get(f"/api3/notification?{query}")
    assert r.status_code == 400 and "date" in r.data["message"]


def test_with_member(server, admin):
    server.put("/v1/users/bob", {"name": "Bob Builder", "profilePictureURL": PICTURE})
    nid = send(server, ["bob"])[0]
    n = admin.get(f"/api3/notification/{nid}?with=member").data["notification"]
    assert n["member"] == {"id": "bob", "screenname": "Bob Builder", "photourl": PICTURE}
    n = admin.get(f"/api3/notification/{nid}?with=member_count").data["notification"]
    assert n["member_count"] == 1 and "member" not in n
    [item] = admin.get("/api3/notification?with=member").data["notificationlist"]
    assert item["member"]["id"] == "bob"
    r = admin.get(f"/api3/notification/{nid}?with=comments")
    assert r.status_code == 400 and "with" in r.data["message"]


# ---- XML --------------------------------------------------------------------------------------

def test_xml_list_get_delete_and_errors(server, client):
    nid = seed_like(server)
    headers = auth("dev", "ann", ("admin",))
    r = raw(client, "get", "/api3/notification?format=xml", headers)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(r.body)
    assert root.tag == "response"
    [item] = root.find("notificationlist").findall("notification")
    assert item.findtext("id") == nid and item.findtext("tweet") == "Hey there @John Doe"
    assert item.findtext("actiontype") == "18" and item.findtext("read") == "false"
    assert [e.text for e in item.find("screenname")] == ["David"]
    assert item.findtext("url") == POST_URL  # & escaped in the document, restored by the parser
    assert root.find("stats").findtext("total") == "1" and root.find("stats").findtext("pagecount") == "1"
    r = raw(client, "get", f"/api3/notification/{nid}?format=XML&with=member", headers)
    root = ET.fromstring(r.body)
    assert root.find("notification").findtext("status_class") == "notifcation-item-unread"
    assert root.find("notification").find("member").findtext("id") == "john"
    for path, status, message in ((f"/api3/notification/nope?format=xml", 404, NO_ACCESS),
                                  ("/api3/notification?format=xml&page_size=0", 400, None)):
        r = raw(client, "get", path, headers)
        assert r.status_code == status and r.headers["Content-Type"].startswith("application/xml")
        root = ET.fromstring(r.body)
        assert root.findtext("code") == str(status)
        assert message is None or root.findtext("message") == message
    r = raw(client, "get", "/api3/notification?format=xml", SEED_TOKEN)
    assert r.status_code == 401 and ET.fromstring(r.body).findtext("code") == "401"
    r = raw(client, "delete", f"/api3/notification/{nid}?format=xml", auth("dev", "john"))
    assert r.status_code == 200
    root = ET.fromstring(r.body)
    assert root.findtext("message") == "success" and root.findtext("code") == "200"


def test_xml_survives_hostile_text(server, client):
    # Messages may not hold control characters any more (rules.check_message); U+FFFE is still no XML.
    send(server, ["bob"], message="<b>&amp;</b> ]]> \ufffe end\t")
    r = raw(client, "get", "/api3/notification?format=xml", auth("dev"))
    root = ET.fromstring(r.body)  # well-formed
    assert "<b>&amp;</b> ]]>" in root.find("notificationlist/notification").findtext("tweet")


@pytest.mark.parametrize("fmt", ["yaml", "html", "jsonp", "x" * 200])
def test_unknown_format_is_refused(server, admin, fmt):
    nid = send(server, ["bob"])[0]
    for r in (admin.get(f"/api3/notification?format={fmt}"), admin.get(f"/api3/notification/{nid}?format={fmt}"),
              admin.delete(f"/api3/notification/{nid}?format={fmt}")):
        assert r.status_code == 400 and r.data == {"message": 'format must be "json" or "xml"', "code": 400}


# ---- DELETE -----------------------------------------------------------------------------------

def test_recipient_deletes_own(server, client):
    nid = send(server, ["bob"])[0]
    bob = Api(client, auth("dev", "bob"))
    assert bob.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 1}
    assert bob.delete(f"/api3/notification/{nid}").data == {"message": "success", "code": 200}
    assert bob.get("/v1/users/me/notifications").data["notifications"] == []
    assert bob.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 0}
    r = bob.delete(f"/api3/notification/{nid}")
    assert r.status_code == 404 and r.data == {"message": "Invalid ID received", "code": 404}


def test_sender_deletes_what_they_sent(server, client):
    for user in ("alice", "bob", "carol"):
        server.put(f"/v1/organizations/org1/members/{user}", {"role": "Standard User"})
    alice = Api(client, auth("dev", "alice"))
    r = alice.post("/v1/notifications", {"recipients": ["bob"], "type": "Comment", "message": "hi"})
    assert r.status_code == 201, r.data
    nid = r.data["notifications"][0]["id"]
    carol = Api(client, auth("dev", "carol", ("admin",)))  # an admin who neither sent nor received it
    assert carol.delete(f"/api3/notification/{nid}").data == {"message": "Invalid ID received", "code": 404}
    assert alice.delete(f"/api3/notification/{nid}").data == {"message": "success", "code": 200}
    assert Api(client, auth("dev", "bob")).get("/v1/users/me/notifications/unread-count").data["unreadCount"] == 0


def test_server_token_deletes_anything_in_its_tenant(server, client):
    nid = send(server, ["bob"])[0]
    r = Api(client, auth("acme")).delete(f"/api3/notification/{nid}")
    assert r.status_code == 404 and r.data["message"] == "Invalid ID received"
    assert server.delete(f"/api3/notification/{nid}").data == {"message": "success", "code": 200}


@pytest.mark.parametrize("bad_id", ["1695", "x" * 5000, "%00", "bh9ib2IfMDFNODRa", "..", "a b"])
def test_delete_invalid_ids(client, bad_id):
    r = Api(client, auth("dev", "bob")).delete(f"/api3/notification/{bad_id}")
    assert r.status_code == 404 and r.data == {"message": "Invalid ID received", "code": 404}


@pytest.mark.parametrize("query,status", [
    ("member_id=" + "x" * 5000, 400), ("member_id=me", 400), ("member_id=%01", 400),
    ("campaign_id=" + "x" * 5000, 400), ("notification_type=" + "x" * 5000, 400), ("id=" + "x" * 5000, 200),
    ("id=" + "bh9" * 600, 200), ("campaign_id=%00", 200), ("notification_type=%00", 200),
    ("page=99999999999", 400), ("with=", 200), ("format=", 200), ("order=", 200), ("unknown=1", 200),
])
def test_hostile_list_parameters_never_500(server, admin, query, status):
    send(server, ["bob"])
    r = admin.get(f"/api3/notification?{query}")
    assert r.status_code == status, (r.status_code, r.data)
    assert set(r.data) == ({"message", "code"} if status >= 400 else {"notificationlist", "stats"})


def test_custom_order_is_bounded(server, admin, monkeypatch):
    from chalicelib.domain import admin_listing

    send(server, ["a", "b", "c"])
    monkeypatch.setattr(admin_listing, "MAX_SORTED", 2)
    r = admin.get("/api3/notification?order=notification_type")
    assert r.status_code == 400 and "narrow" in r.data["message"]
    assert admin.get("/api3/notification?order=notification_type&member_id=a").status_code == 200
    assert admin.get("/api3/notification?order=date_started%20ASC").status_code == 200  # the index order
