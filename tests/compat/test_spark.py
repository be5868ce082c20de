"""Spark notifications (seed 004): the documented examples verbatim, every limit and role rule
on both sides of its edge, and hostile input (never a 500)."""
from __future__ import annotations

import json
import re

import pytest

from tests.conftest import Api, auth

BASE = "/spark/v1/notifications"
SPARK_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")  # e.g. 2011-11-18T16:35:43

# The seed's POST request body, verbatim.
SEED_POST = """{
    "D": {
      "Type":              "OperationComplete",
      "Message":           "Your PDF generation has completed!",
      "BrowserUri":        "http://myapplication.com/cmas/19581825.pdf",
      "ResourceUri":       "http://myapplication.com/cmas/19581825.json"
    }
}"""
# The seed's PUT request body, verbatim.
SEED_PUT = """{
    "D": {
        "Read": true
    }
}"""
FIELDS = ["Id", "Type", "SenderApplication", "SenderId", "RecipientId", "Message", "BrowserUri", "ResourceUri",
          "Read", "CreatedTimestamp", "ReadTimestamp"]


@pytest.fixture
def spark(client):
    def make(user: str | None = "bob", roles=("Private",), app: str | None = "My Application") -> Api:
        return Api(client, auth("dev", user, roles, application=app))

    return make


def fail(r, status: int, code: int):
    assert r.status_code == status, (r.status_code, r.body)
    assert r.data["D"]["Success"] is False, r.data
    assert r.data["D"]["Code"] == code, r.data
    assert isinstance(r.data["D"]["Message"], str) and r.data["D"]["Message"]
    assert set(r.data["D"]) == {"Success", "Code", "Message"}
    return r.data["D"]["Message"]


def create(api: Api, message: str = "Hi", type_: str = "General", **extra) -> str:
    r = api.post(BASE, {"D": {"Type": type_, "Message": message, **extra}})
    assert r.status_code == 201, r.body
    return r.data["D"]["Results"][0]["Id"]


# ---- the documented examples --------------------------------------------------------------------

def test_seed_post_then_get_field_by_field(spark):
    bob = spark()
    r = bob.post(BASE, SEED_POST)
    assert r.status_code == 201, r.body
    assert r.data["D"]["Success"] is True
    nid = r.data["D"]["Results"][0]["Id"]
    r = bob.get(BASE)
    assert r.status_code == 200
    assert list(r.data) == ["D"] and r.data["D"]["Success"] is True
    [item] = r.data["D"]["Results"]
    assert list(item) == FIELDS  # the documented attributes, in the documented order
    assert item["Id"] == nid
    assert item["Type"] == "OperationComplete"
    assert item["SenderApplication"] == "My Application"  # from the calling application
    assert item["SenderId"] is None  # not triggered by another end-user
    assert item["RecipientId"] == "bob"  # the active user
    assert item["Message"] == "Your PDF generation has completed!"
    assert item["BrowserUri"] == "http://myapplication.com/cmas/19581825.pdf"
    assert item["ResourceUri"] == "http://myapplication.com/cmas/19581825.json"
    assert item["Read"] is False
    assert SPARK_TIME.match(item["CreatedTimestamp"])
    assert item["ReadTimestamp"] is None
    assert "Pagination" not in r.data["D"]  # _pagination defaults to 0


def test_seed_put_marks_read_and_sets_read_timestamp(spark):
    bob = spark()
    nid = create(bob)
    r = bob.put(f"{BASE}/{nid}", SEED_PUT)
    assert r.status_code == 200, r.body
    assert r.data == {"D": {"Success": True}}
    [item] = bob.get(BASE).data["D"]["Results"]
    assert item["Read"] is True and SPARK_TIME.match(item["ReadTimestamp"])


def test_put_marks_several_ids(spark):
    bob = spark()
    ids = [create(bob, f"m{i}") for i in range(3)]
    assert bob.put(f"{BASE}/{ids[0]},{ids[2]}", SEED_PUT).status_code == 200
    read = {i["Id"]: i["Read"] for i in bob.get(BASE).data["D"]["Results"]}
    assert read == {ids[0]: True, ids[1]: False, ids[2]: True}
    assert bob.get(f"{BASE}/unread?").data["D"]["Pagination"]["TotalRows"] == 1
    # URL-encoded commas work too, and Read false marks unread again.
    assert bob.put(f"{BASE}/{ids[0]}%2C{ids[2]}", {"D": {"Read": False}}).status_code == 200
    assert bob.get(f"{BASE}/unread").data["D"]["Pagination"]["TotalRows"] == 3


def test_unread_returns_the_pagination_block(spark):
    bob = spark()
    r = bob.get(f"{BASE}/unread")
    assert r.status_code == 200
    assert r.data == {"D": {"Results": [], "Success": True,
                            "Pagination": {"TotalRows": 0, "PageSize": 10, "TotalPages": 0, "CurrentPage": 1}}}
    ids = [create(bob, f"m{i}") for i in range(12)]
    bob.put(f"{BASE}/{ids[0]}", SEED_PUT)
    assert bob.get(f"{BASE}/unread").data["D"]["Pagination"] == {"TotalRows": 11, "PageSize": 10,
                                                                 "TotalPages": 2, "CurrentPage": 1}


# ---- pagination -------------------------------------------------------------------------------

def test_pagination_parameters(spark):
    bob = spark()
    ids = [create(bob, f"m{i}") for i in range(12)]
    newest_first = list(reversed(ids))
    r = bob.get(f"{BASE}?_pagination=1")
    assert [i["Id"] for i in r.data["D"]["Results"]] == newest_first[:10]  # default _limit 10
    assert r.data["D"]["Pagination"] == {"TotalRows": 12, "PageSize": 10, "TotalPages": 2, "CurrentPage": 1}
    r = bob.get(f"{BASE}?_pagination=1&_limit=5&_page=3")
    assert [i["Id"] for i in r.data["D"]["Results"]] == newest_first[10:]
    assert r.data["D"]["Pagination"] == {"TotalRows": 12, "PageSize": 5, "TotalPages": 3, "CurrentPage": 3}
    seen = []
    for page in (1, 2, 3):
        seen += [i["Id"] for i in bob.get(f"{BASE}?_limit=5&_page={page}").data["D"]["Results"]]
    assert seen == newest_first
    # beyond the last page: an empty page, not an error
    r = bob.get(f"{BASE}?_pagination=1&_limit=5&_page=4")
    assert r.status_code == 200 and r.data["D"]["Results"] == []
    assert r.data["D"]["Pagination"]["CurrentPage"] == 4
    # count: the Pagination block, never records
    r = bob.get(f"{BASE}?_pagination=count&_limit=5")
    assert r.data["D"]["Results"] == [] and r.data["D"]["Pagination"]["TotalRows"] == 12
    assert "Pagination" not in bob.get(f"{BASE}?_pagination=0").data["D"]


@pytest.mark.parametrize("query,ok", [("_limit=1", True), ("_limit=25", True), ("_limit=0", False),
                                      ("_limit=26", False), ("_limit=-1", False), ("_limit=abc", False),
                                      ("_limit=99999999999999999999", False), ("_page=1", True),
                                      ("_page=100000", True), ("_page=0", False), ("_page=100001", False),
                                      ("_page=1.5", False), ("_pagination=2", False), ("_pagination=COUNT", True)])
def test_pagination_limits(spark, query, ok):
    r = spark().get(f"{BASE}?{query}")
    if ok:
        assert r.status_code == 200 and r.data["D"]["Success"] is True, r.body
    else:
        fail(r, 400, 1053)


def test_limit_one_and_twenty_five_page_sizes(spark):
    bob = spark()
    for i in range(26):
        create(bob, f"m{i}")
    assert len(bob.get(f"{BASE}?_limit=1").data["D"]["Results"]) == 1
    r = bob.get(f"{BASE}?_limit=25&_pagination=1")
    assert len(r.data["D"]["Results"]) == 25 and r.data["D"]["Pagination"]["TotalPages"] == 2


# ---- POST rules -------------------------------------------------------------------------------

def test_message_is_at_most_140_characters(spark):
    bob = spark()
    create(bob, "x" * 140)
    message = fail(bob.post(BASE, {"D": {"Type": "General", "Message": "x" * 141}}), 400, 1053)
    assert "140" in message
    create(bob, "é" * 140)  # characters, not bytes


def test_message_is_required(spark):
    bob = spark()
    assert "Message" in fail(bob.post(BASE, {"D": {"Type": "General"}}), 400, 1050)
    fail(bob.post(BASE, {"D": {"Type": "General", "Message": ""}}), 400, 1053)
    fail(bob.post(BASE, {"D": {"Type": "General", "Message": "   "}}), 400, 1053)
    fail(bob.post(BASE, {"D": {"Type": "General", "Message": None}}), 400, 1053)


@pytest.mark.parametrize("type_,ok", [("General", True), ("OperationComplete", True), ("general", True),
                                      ("Message", False), ("message", False), ("Other", False), ("", False)])
def test_only_manual_types_can_be_created(spark, type_, ok):
    r = spark().post(BASE, {"D": {"Type": type_, "Message": "hi"}})
    if ok:
        assert r.status_code == 201, r.body
    else:
        message = fail(r, 400, 1053)
        assert "General" in message


def test_type_is_required(spark):
    assert "Type" in fail(spark().post(BASE, {"D": {"Message": "hi"}}), 400, 1050)


def test_uris_are_optional_but_must_be_uris(spark):
    bob = spark()
    create(bob, "no uris")
    fail(bob.post(BASE, {"D": {"Type": "General", "Message": "m", "BrowserUri": "not a uri"}}), 400, 1053)
    fail(bob.post(BASE, {"D": {"Type": "General", "Message": "m", "ResourceUri": "javascript:alert(1)"}}),
         400, 1053)
    fail(bob.post(BASE, {"D": {"Type": "General", "Message": "m", "BrowserUri": 5}}), 400, 1053)


def test_sender_application_is_set_automatically(spark):
    bob = spark(app="Report Builder")
    create(bob)
    assert bob.get(BASE).data["D"]["Results"][0]["SenderApplication"] == "Report Builder"
    fail(bob.post(BASE, {"D": {"Type": "General", "Message": "m", "SenderApplication": "Spoof"}}), 400, 1053)
    anonymous_app = spark(user="carol", app=None)
    create(anonymous_app)
    # without an app claim, the tenant names the application
    assert anonymous_app.get(BASE).data["D"]["Results"][0]["SenderApplication"] == "dev"


@pytest.mark.parametrize("body,code", [
    ("{not json", 1035), ("[1, 2]", 1035), ('"D"', 1035), ("", 1035), ("{}", 1050),
    ('{"D": []}', 1053), ('{"D": "x"}', 1053), ('{"D": {"Type": "General", "Message": "m"}, "X": 1}', 1053),
    ('{"D": {"Type": 1, "Message": "m"}}', 1053), ('{"D": {"Type": "General", "Message": ["m"]}}', 1053),
    ('{"D": {"Type": "General", "Message": "m", "Read": "yes"}}', 1053),
    ('{"D": {"Type": "General", "Message": "m", "Id": "x"}}', 1053),
    ('{"D": {"Type": "General", "Message": "m", "Color": "red"}}', 1053),
])
def test_hostile_post_bodies(spark, body, code):
    fail(spark().post(BASE, body), 400, code)


def test_post_with_read_true_creates_a_read_notification(spark):
    bob = spark()
    create(bob, Read=True)
    [item] = bob.get(BASE).data["D"]["Results"]
    assert item["Read"] is True and item["ReadTimestamp"]


# ---- PUT rules --------------------------------------------------------------------------------

@pytest.mark.parametrize("body,code", [("{bad", 1035), ("{}", 1050), ('{"D": {}}', 1050),
                                       ('{"D": {"Read": "true"}}', 1053), ('{"D": {"Read": 1}}', 1053),
                                       ('{"D": {"Read": true, "Message": "x"}}', 1053)])
def test_hostile_put_bodies(spark, body, code):
    bob = spark()
    nid = create(bob)
    fail(bob.put(f"{BASE}/{nid}", body), 400, code)
    assert bob.get(BASE).data["D"]["Results"][0]["Read"] is False


@pytest.mark.parametrize("bad_id", ["nope", "x" * 5000, "20100000000000000000000000", "%00", "a,,b", "..",
                                    "bh9ib2IfMDFNODRa"])
def test_put_unknown_ids(spark, bad_id):
    r = spark().put(f"{BASE}/{bad_id}", SEED_PUT)
    assert r.status_code in (400, 404), r.body
    assert r.data["D"]["Success"] is False and r.data["D"]["Code"] in (404, 1053)


def test_put_is_all_or_nothing_and_only_for_own_notifications(spark):
    bob, carol = spark("bob"), spark("carol")
    mine = create(bob)
    theirs = create(carol)
    fail(bob.put(f"{BASE}/{mine},{theirs}", SEED_PUT), 404, 404)
    assert bob.get(BASE).data["D"]["Results"][0]["Read"] is False
    assert carol.get(BASE).data["D"]["Results"][0]["Read"] is False


def test_put_accepts_at_most_100_ids(spark):
    bob = spark()
    nid = create(bob)
    assert bob.put(f"{BASE}/" + ",".join([nid] * 100), SEED_PUT).status_code == 200  # duplicates fold
    fail(bob.put(f"{BASE}/" + ",".join(f"id{i}" for i in range(101)), SEED_PUT), 400, 1053)


# ---- 405s -------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path,allowed", [
    ("put", BASE, "GET, POST"), ("delete", BASE, "GET, POST"),
    ("get", f"{BASE}/abc", "PUT"), ("post", f"{BASE}/abc", "PUT"), ("delete", f"{BASE}/abc", "PUT"),
    ("post", f"{BASE}/unread", "GET"), ("put", f"{BASE}/unread", "GET"), ("delete", f"{BASE}/unread", "GET"),
])
def test_methods_not_implemented_return_405(spark, client, method, path, allowed):
    r = getattr(spark(), method)(path, **({} if method in ("get", "delete") else {"body": SEED_PUT}))
    fail(r, 405, 405)
    assert r.headers["Allow"] == allowed
    r = getattr(client.http, method)(path)  # no token at all: still 405
    assert r.status_code == 405 and json.loads(r.body)["D"]["Code"] == 405


def test_unread_wins_over_id(spark):
    bob = spark()
    r = bob.put(f"{BASE}/unread", SEED_PUT)
    fail(r, 405, 405)  # /unread is its own resource, not an id
    assert bob.get(f"{BASE}/unread").data["D"]["Pagination"]["TotalRows"] == 0


# ---- roles and tokens -------------------------------------------------------------------------

@pytest.mark.parametrize("roles,ok", [
    (("Private",), True), ((), True), (("private",), True), (("PRIVATE",), True), (("admin",), True),
    (("IDX",), False), (("idx",), False), (("VOW",), False), (("vow",), False), (("Private", "IDX"), False),
    (("Private", "Vow"), False),
])
def test_roles(spark, roles, ok):
    api = spark(roles=roles)
    calls = [api.get(BASE), api.get(f"{BASE}/unread"), api.post(BASE, SEED_POST), api.put(f"{BASE}/x", SEED_PUT)]
    for r in calls:
        if ok:
            assert r.status_code in (200, 201, 404), r.body  # 404: the made-up id of the PUT
        else:
            fail(r, 403, 1500)


def test_server_token_must_name_the_user(spark):
    server = spark(user=None, roles=())
    fail(server.get(BASE), 403, 1015)
    fail(server.post(BASE, SEED_POST), 403, 1015)
    fail(server.get(f"{BASE}/unread"), 403, 1015)
    r = server.post(f"{BASE}?_apiuser=dave", SEED_POST)
    assert r.status_code == 201, r.body
    nid = r.data["D"]["Results"][0]["Id"]
    [item] = server.get(f"{BASE}?_apiuser=dave").data["D"]["Results"]
    assert item["Id"] == nid and item["RecipientId"] == "dave"
    assert server.put(f"{BASE}/{nid}?_apiuser=dave", SEED_PUT).status_code == 200
    assert spark("dave").get(f"{BASE}/unread").data["D"]["Pagination"]["TotalRows"] == 0
    fail(server.get(f"{BASE}?_apiuser=" + "x" * 300), 400, 1053)
    fail(spark(user=None, roles=("IDX",)).get(f"{BASE}?_apiuser=dave"), 403, 1500)


def test_user_token_cannot_act_for_another_user(spark):
    fail(spark("bob").get(f"{BASE}?_apiuser=carol"), 403, 1015)
    assert spark("bob").get(f"{BASE}?_apiuser=bob").status_code == 200


def test_bad_tokens(client):
    fail(Api(client, {"Authorization": "Bearer 85f7b2462570acdde9a458ba6495b8763dcd040c"}).get(BASE), 401, 1000)
    # No Authorization header at all: API Gateway (and Chalice) refuse before the authorizer or any
    # route runs, in the gateway's own shape; only the status is ours to promise.
    assert Api(client, {}).get(BASE).status_code == 401
    expired = Api(client, auth("dev", "bob", ("Private",), ttl_seconds=-60))
    fail(expired.get(BASE), 401, 1020)
    fail(expired.post(BASE, SEED_POST), 401, 1020)


def test_other_tenants_are_invisible(client, spark):
    nid = create(spark("bob"))
    acme_bob = Api(client, auth("acme", "bob", ("Private",)))
    assert acme_bob.get(BASE).data["D"]["Results"] == []
    fail(acme_bob.put(f"{BASE}/{nid}", SEED_PUT), 404, 404)


def test_notifications_from_other_users_carry_sender_id(server, spark):
    r = server.post("/v1/notifications", {"recipients": ["bob"], "type": "Message", "message": "New message",
                                          "actor": "alice"})
    assert r.status_code == 201
    [item] = spark("bob").get(BASE).data["D"]["Results"]
    assert item["SenderId"] == "alice" and item["Type"] == "Message" and item["SenderApplication"] is None


def test_huge_bodies_and_paths_never_500(spark):
    bob = spark()
    fail(bob.post(BASE, '{"D": {"Type": "General", "Message": "' + "x" * (1024 * 1024 + 10) + '"}}'), 400, 1053)
    fail(bob.post(BASE, '{"D": ' * 5000 + "}" * 5000), 400, 1035)  # nesting deeper than the parser allows
    r = bob.put(f"{BASE}/" + ",".join(["y" * 3000] * 3), SEED_PUT)
    assert r.status_code == 404 and r.data["D"]["Code"] == 404
    message = fail(bob.put(f"{BASE}/{create(bob)}", {"D": {"Read": True, "Message": "x"}}), 400, 1053)
    assert "only Read" in message
