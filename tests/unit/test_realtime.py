"""Realtime push: ticket rules, the WebSocket handlers and the push handler (moto in-process).

The push handler is fed the inbox table's real stream records (read from moto's stream and shaped as
Lambda delivers them) and posts through a recording poster installed in chalicelib.sockets.
"""
from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from botocore.config import Config

from chalicelib import sockets
from chalicelib.api import realtime as realtime_api
from chalicelib.domain import realtime, tickets
from chalicelib.domain.errors import Unauthorized
from chalicelib.domain.principal import Caller
from chalicelib.settings import SettingsError, get_realtime_settings, get_settings, reset_settings
from chalicelib.store import connections
from notifications.local.poller import to_lambda_record
from tests.conftest import Api, LambdaContext, auth

WS = "ws://127.0.0.1:9999"


class RecordingPoster:
    """Messages per connection id; ids in `gone` raise ConnectionGone, ids in `broken` fail otherwise."""

    def __init__(self) -> None:
        self.sent: dict[str, list[dict]] = {}
        self.gone: set[str] = set()
        self.broken: set[str] = set()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = 0.0

    def post(self, connection_id: str, data: bytes) -> None:
        if connection_id in self.gone:
            raise sockets.ConnectionGone(connection_id)
        if connection_id in self.broken:
            raise RuntimeError("LimitExceededException")
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
            self.sent.setdefault(connection_id, []).append(json.loads(data))

    def events(self, connection_id: str) -> list[str]:
        return [m["event"] for m in self.sent.get(connection_id, [])]


@pytest.fixture
def poster(aws, monkeypatch):
    monkeypatch.setenv("REALTIME_WEBSOCKET_URL", WS)
    reset_settings()
    recording = RecordingPoster()
    sockets.install(recording)
    yield recording
    sockets.install(None)


class InboxStream:
    """Reads the inbox table's stream from where it was last read, as Lambda-shaped records."""

    def __init__(self) -> None:
        s = get_settings()
        ddb = boto3.client("dynamodb", region_name=s.region)
        self.arn = ddb.describe_table(TableName=s.table_name("inbox"))["Table"]["LatestStreamArn"]
        self.streams = boto3.client("dynamodbstreams", region_name=s.region,
                                    config=Config(account_id_endpoint_mode="disabled"))
        self.iterators: dict[str, str] = {}

    def records(self) -> list[dict]:
        out = []
        for shard in self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]:
            sid = shard["ShardId"]
            if sid not in self.iterators:
                self.iterators[sid] = self.streams.get_shard_iterator(
                    StreamArn=self.arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while True:
                response = self.streams.get_records(ShardIterator=self.iterators[sid], Limit=1000)
                self.iterators[sid] = response["NextShardIterator"]
                if not response["Records"]:
                    break
                out += [to_lambda_record(r, self.arn, "us-east-1") for r in response["Records"]]
        return out

    def push(self) -> dict:
        return realtime_api.handle_push_stream({"Records": self.records()})


@pytest.fixture
def stream(poster):
    s = InboxStream()
    s.records()  # start after whatever the fixtures wrote
    return s


def open_socket(client, connection_id: str, user: str | None, tenant: str = "dev", on_behalf: str | None = None) -> int:
    """POST a ticket (as the user, or as the tenant's server for `on_behalf`) and `$connect` with it."""
    path = "/v1/realtime/tickets" + (f"?userId={on_behalf}" if on_behalf else "")
    response = Api(client, auth(tenant, user)).post(path)
    assert response.status_code == 201, response.body
    ticket = response.data["url"].split("ticket=", 1)[1]
    return realtime_api.connect(connection_id, {"ticket": ticket})


def send(server, *users, **extra) -> list[str]:
    r = server.post("/v1/notifications", {"recipients": list(users), "type": "T", "message": "hi", **extra})
    assert r.status_code == 201, r.body
    return [n["id"] for n in r.data["notifications"]]


# ---- tickets ---------------------------------------------------------------------------------------

def test_ticket_endpoint_needs_a_token_and_hands_out_a_short_single_use_url(client, poster):
    anonymous = client.http.post("/v1/realtime/tickets")
    assert anonymous.status_code == 401 and json.loads(anonymous.body)["error"] == "unauthorized"
    r = Api(client, auth("dev", "alice")).post("/v1/realtime/tickets")
    assert r.status_code == 201
    assert r.data["url"].startswith(WS + "/?ticket=") and r.headers["Cache-Control"] == "no-store"
    ticket = r.data["url"].split("ticket=", 1)[1]
    assert len(ticket) >= 40
    # only a hash is stored: the table never holds the ticket itself
    raw = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=get_settings().table_name("connections"))
    assert ticket not in json.dumps(raw["Items"])
    assert realtime_api.connect("c1", {"ticket": ticket}) == 200
    assert realtime_api.connect("c2", {"ticket": ticket}) == 401  # single use
    assert connections.connections_of([("dev", "alice")]) == {("dev", "alice"): ["c1"]}


def test_ticket_expires(client, poster, monkeypatch):
    monkeypatch.setenv("REALTIME_TICKET_TTL_SECONDS", "5")
    reset_settings()
    caller = Caller("dev", "alice")
    issued = tickets.issue_ticket(caller, now=1_000_000)
    assert issued.expires_at == 1_000_005
    ticket = issued.url.split("ticket=", 1)[1]
    with pytest.raises(Unauthorized):
        tickets.redeem_ticket(ticket, now=1_000_005)  # expired (TTL deletion is lazy: checked on use)
    fresh = tickets.issue_ticket(caller).url.split("ticket=", 1)[1]
    assert tickets.redeem_ticket(fresh) == ("dev", "alice")


def test_ticket_ttl_setting_is_bounded(monkeypatch):
    assert get_realtime_settings().ticket_ttl_seconds == 30
    monkeypatch.setenv("REALTIME_TICKET_TTL_SECONDS", "61")
    reset_settings()
    with pytest.raises(SettingsError, match="REALTIME_TICKET_TTL_SECONDS"):
        get_realtime_settings()
    monkeypatch.setenv("REALTIME_TICKET_TTL_SECONDS", "60")
    reset_settings()
    monkeypatch.setenv("REALTIME_WEBSOCKET_URL", "http://example.com")
    reset_settings()
    with pytest.raises(SettingsError, match="REALTIME_WEBSOCKET_URL"):
        get_realtime_settings()


def test_missing_unknown_and_tampered_tickets_are_refused(client, poster):
    for query in (None, {}, {"ticket": ""}, {"ticket": "x" * 500}, {"ticket": "not-a-ticket"}, {"ticket": ["a"]}):
        assert realtime_api.connect("c", query) == 401
    r = Api(client, auth("dev", "alice")).post("/v1/realtime/tickets")
    ticket = r.data["url"].split("ticket=", 1)[1]
    assert realtime_api.connect("c", {"ticket": ticket[:-1] + ("A" if ticket[-1] != "A" else "B")}) == 401
    assert realtime_api.connect("c", {"ticket": ticket}) == 200


def test_ticket_binds_tenant_and_user_and_server_asks_on_behalf(client, poster):
    assert open_socket(client, "alice-dev", "alice") == 200
    assert open_socket(client, "alice-acme", "alice", tenant="acme") == 200
    assert open_socket(client, "bob-by-server", None, on_behalf="bob") == 200
    assert connections.connections_of([("dev", "alice"), ("acme", "alice"), ("dev", "bob"), ("acme", "bob")]) == {
        ("dev", "alice"): ["alice-dev"], ("acme", "alice"): ["alice-acme"], ("dev", "bob"): ["bob-by-server"]}
    alice = Api(client, auth("dev", "alice"))
    assert alice.post("/v1/realtime/tickets?userId=bob").status_code == 403  # a user only for itself
    assert alice.post("/v1/realtime/tickets?userId=alice").status_code == 201
    server = Api(client, auth("dev"))
    assert server.post("/v1/realtime/tickets").status_code == 404  # a server token must name the user
    assert server.post("/v1/realtime/tickets?userId=%20bad").status_code == 400


def test_no_push_channel_configured_is_a_503(client, aws, monkeypatch):
    monkeypatch.delenv("REALTIME_WEBSOCKET_URL", raising=False)
    reset_settings()
    r = Api(client, auth("dev", "alice")).post("/v1/realtime/tickets")
    assert r.status_code == 503 and r.data["error"] == "realtime_unavailable"


def test_disconnect_forgets_the_socket(client, poster):
    open_socket(client, "a1", "alice")
    open_socket(client, "a2", "alice")
    realtime_api.disconnect("a1")
    realtime_api.disconnect("never-connected")
    assert connections.connections_of([("dev", "alice")]) == {("dev", "alice"): ["a2"]}


def test_ping_pong():
    assert realtime_api.message('{"action": "ping"}') == {"event": "pong"}
    assert realtime_api.message("nonsense")["event"] == "error"
    assert realtime_api.message(None)["event"] == "error"


# ---- the push handler --------------------------------------------------------------------------------

def test_created_read_unread_deleted_are_pushed_with_the_count(client, server, poster, stream):
    open_socket(client, "a1", "alice")
    open_socket(client, "a2", "alice")
    open_socket(client, "b1", "bob")
    nid, = send(server, "alice")
    assert stream.push() == {"batchItemFailures": []}
    for cid in ("a1", "a2"):
        message, = poster.sent[cid]
        assert message["event"] == "notification.created" and message["unreadCount"] == 1
        assert message["notification"]["id"] == nid and message["notification"]["message"] == "hi"
        assert message["notification"]["html"] and message["notification"]["read"] is False
    assert "b1" not in poster.sent  # isolation: bob hears nothing of alice's inbox
    alice = Api(client, auth("dev", "alice"))
    alice.patch(f"/v1/notifications/{nid}", {"read": True})
    stream.push()
    assert poster.sent["a1"][-1] == {"event": "notification.updated", "id": nid, "read": True, "unreadCount": 0}
    alice.patch(f"/v1/notifications/{nid}", {"read": False})
    alice.delete(f"/v1/notifications/{nid}")
    stream.push()
    assert poster.sent["a2"][-2:] == [
        {"event": "notification.updated", "id": nid, "read": False, "unreadCount": 0},
        {"event": "notification.deleted", "id": nid, "unreadCount": 0}]
    assert "b1" not in poster.sent


def test_aggregation_bump_is_an_update_with_the_new_view(client, server, poster, stream):
    open_socket(client, "a1", "alice")
    nid, = send(server, "alice", groupKey="g", actor="x")
    send(server, "alice", groupKey="g", actor="y")
    stream.push()
    created, bumped = poster.sent["a1"]
    assert created["event"] == "notification.created"
    assert bumped["event"] == "notification.updated" and bumped["id"] == nid and bumped["read"] is False
    assert bumped["notification"]["senders"] == ["x", "y"] and bumped["unreadCount"] == 1


def test_other_tenants_and_users_hear_nothing(client, server, poster, stream):
    open_socket(client, "dev-alice", "alice")
    open_socket(client, "acme-alice", "alice", tenant="acme")
    open_socket(client, "dev-bob", "bob")
    Api(client, auth("acme")).post("/v1/notifications", {"recipients": ["alice"], "type": "T", "message": "acme"})
    send(server, "bob")
    stream.push()
    assert poster.events("acme-alice") == ["notification.created"]
    assert poster.events("dev-bob") == ["notification.created"]
    assert "dev-alice" not in poster.sent
    assert poster.sent["acme-alice"][0]["notification"]["message"] == "acme"


def test_more_than_ten_changes_for_a_user_coalesce_into_one_reset(client, server, poster, stream):
    open_socket(client, "a1", "alice")
    open_socket(client, "b1", "bob")
    for _ in range(6):
        send(server, "alice", "bob")
    stream.push()
    assert poster.events("a1") == ["notification.created"] * 6
    Api(client, auth("dev", "alice")).post("/v1/users/me/notifications/read", {"all": True})
    send(server, "alice")
    stream.push()
    # 6 reads (and no more than 10 changes) are pushed one by one; then read-all of 11 coalesces
    assert poster.events("a1")[6:] == ["notification.updated"] * 6 + ["notification.created"]
    for _ in range(10):
        send(server, "alice")
    Api(client, auth("dev", "alice")).post("/v1/users/me/notifications/read", {"all": True})
    stream.push()
    assert poster.sent["a1"][-1] == {"event": "inbox.reset", "unreadCount": 0}
    assert poster.events("a1")[13:] == ["inbox.reset"]
    assert poster.events("b1") == ["notification.created"] * 6


def test_gone_connections_are_dropped_and_others_still_get_theirs(client, server, poster, stream):
    open_socket(client, "a-gone", "alice")
    open_socket(client, "a-live", "alice")
    poster.gone.add("a-gone")
    send(server, "alice")
    assert stream.push() == {"batchItemFailures": []}
    assert poster.events("a-live") == ["notification.created"]
    assert connections.connections_of([("dev", "alice")]) == {("dev", "alice"): ["a-live"]}


def test_a_failing_post_reports_only_that_users_records(client, server, poster, stream):
    open_socket(client, "a1", "alice")
    open_socket(client, "b1", "bob")
    poster.broken.add("b1")
    send(server, "alice")
    send(server, "bob")
    records = stream.records()
    result = realtime_api.handle_push_stream({"Records": records})
    bob_records = [r["dynamodb"]["SequenceNumber"] for r in records
                   if r["dynamodb"]["Keys"]["pk"]["S"] == "dev#bob" and not r["dynamodb"]["Keys"]["sk"]["S"].startswith("g#")]
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == bob_records
    assert poster.events("a1") == ["notification.created"]


def test_posts_run_with_bounded_concurrency(client, server, poster, stream, monkeypatch):
    monkeypatch.setenv("REALTIME_PUSH_CONCURRENCY", "4")
    reset_settings()
    for i in range(12):
        open_socket(client, f"a{i}", "alice")
    poster.delay = 0.02
    send(server, "alice")
    stream.push()
    assert all(poster.events(f"a{i}") == ["notification.created"] for i in range(12))
    assert 1 < poster.max_in_flight <= 4


def test_users_without_sockets_cost_one_batch_read(client, server, poster, stream):
    send(server, *[f"u{i}" for i in range(30)])
    records = stream.records()
    outcome = realtime.push_records(records, lambda n: {}, lambda m: b"")
    assert outcome.users == 30 and outcome.connected_users == 0 and outcome.posted == 0


def test_a_batch_reads_the_profiles_of_all_its_users_at_once_and_pushes_the_same_views(
        client, server, poster, stream, monkeypatch):
    """The views of a whole stream batch are hydrated together: one profile read per tenant (per 100
    profiles), not one per connected recipient; each view is exactly what GET returns, each only to its
    own user and tenant."""
    import botocore.client

    users = [f"p{i:02d}" for i in range(12)]
    server.put("/v1/users/al", {"name": "Alice Liddell", "profilePictureURL": "https://img.example/al.png"})
    server.put("/v1/users/p03", {"name": "Pat Three"})
    acme = Api(client, auth("acme"))
    acme.put("/v1/users/al", {"name": "Acme Al"})
    for u in users:
        open_socket(client, f"dev-{u}", None, on_behalf=u)
    open_socket(client, "acme-p03", None, tenant="acme", on_behalf="p03")
    r = server.post("/v1/notifications", {"recipients": users, "type": "T", "actor": "al",
                                          "template": "{{actor}} pinged {{recipient}}"})
    assert r.status_code == 201, r.body
    assert acme.post("/v1/notifications", {"recipients": ["p03"], "type": "T", "actor": "al",
                                           "template": "{{actor}} pinged {{recipient}}"}).status_code == 201
    records = stream.records()
    directory_reads: list[int] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation, params):
        if operation == "BatchGetItem" and any(t.endswith("directory") for t in params.get("RequestItems", {})):
            directory_reads.append(1)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    assert realtime_api.handle_push_stream({"Records": records}) == {"batchItemFailures": []}
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", original)
    assert len(directory_reads) == 2  # one per tenant in the batch, whatever the number of recipients
    for u in users:
        message, = poster.sent[f"dev-{u}"]
        view = message["notification"]
        assert view == Api(client, auth("dev", u)).get(f"/v1/notifications/{view['id']}").data
        assert view["recipient"] == u and view["iconUrl"] == "https://img.example/al.png"
        assert view["header"][0]["user"]["name"] == "Alice Liddell"
    assert poster.sent["dev-p03"][0]["notification"]["header"][2]["user"]["name"] == "Pat Three"
    acme_view = poster.sent["acme-p03"][0]["notification"]
    assert acme_view["header"][0]["user"]["name"] == "Acme Al"
    assert acme_view["header"][2]["user"]["name"] is None  # dev's profile of p03 is not acme's
    assert acme_view == Api(client, auth("acme", "p03")).get(f"/v1/notifications/{acme_view['id']}").data


def test_ttl_expiry_is_a_reset_and_group_pointers_are_nothing():
    base = {"eventSource": "aws:dynamodb", "dynamodb": {"Keys": {"pk": {"S": "dev#alice"}, "sk": {"S": "01ABC"}},
                                                        "OldImage": {"act": {"S": "01ABC"}}, "SequenceNumber": "1"}}
    ttl = dict(base, eventName="REMOVE", userIdentity={"type": "Service", "principalId": "dynamodb.amazonaws.com"})
    assert realtime.change_of(ttl).kind == realtime.RESET
    assert realtime.change_of(dict(base, eventName="REMOVE")).kind == realtime.DELETED
    pointer = {"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "dev#alice"}, "sk": {"S": "g#x"}},
                                                   "NewImage": {"target": {"S": "01ABC"}}}}
    assert realtime.change_of(pointer) is None
    same = {"eventName": "MODIFY", "dynamodb": {"Keys": {"pk": {"S": "dev#alice"}, "sk": {"S": "01ABC"}},
                                                "OldImage": {"act": {"S": "1"}}, "NewImage": {"act": {"S": "1"}}}}
    assert realtime.change_of(same) is None


def test_expiry_consumer_still_settles_ttl_deletions_with_both_images(client, server, poster):
    """The inbox stream now carries new images too; the expiry handler keeps reading OldImage."""
    from chalicelib.streams import handle_inbox_stream

    send(server, "alice")
    records = [r for r in InboxStream().records() if r["eventName"] == "INSERT"
               and not r["dynamodb"]["Keys"]["sk"]["S"].startswith("g#")]
    item = records[-1]["dynamodb"]["NewImage"]
    remove = {"eventName": "REMOVE", "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
              "dynamodb": {"Keys": records[-1]["dynamodb"]["Keys"], "OldImage": item, "SequenceNumber": "9"}}
    assert handle_inbox_stream({"Records": [remove]}) == {"batchItemFailures": []}
    assert Api(client, auth("dev", "alice")).get("/v1/users/me/notifications/unread-count").data["unreadCount"] == 0


# ---- app.py's wiring: the WebSocket handlers and the push function as Lambda invokes them --------------

def _ws_event(connection_id: str, **extra) -> dict:
    return {"requestContext": {"apiId": "abc123", "stage": "api", "connectionId": connection_id,
                               "domainName": "abc123.execute-api.us-east-1.amazonaws.com"}, **extra}


def test_app_websocket_handlers_and_push_function(client, server, poster, stream, monkeypatch):
    import app as app_module

    ticket = Api(client, auth("dev", "alice")).post("/v1/realtime/tickets").data["url"].split("ticket=", 1)[1]
    assert app_module.ws_connect(_ws_event("L1", queryStringParameters={"ticket": ticket}), None) == {"statusCode": 200}
    assert app_module.ws_connect(_ws_event("L2", queryStringParameters={"ticket": ticket}), None) == {"statusCode": 401}
    assert app_module.ws_connect(_ws_event("L3"), None) == {"statusCode": 401}
    sent = []
    monkeypatch.setattr(app_module.app.websocket_api, "send", lambda cid, text: sent.append((cid, json.loads(text))))
    app_module.ws_message(_ws_event("L1", body='{"action": "ping"}'), None)
    assert sent == [("L1", {"event": "pong"})]
    send(server, "alice")
    records = stream.records()
    assert app_module.push({"Records": records}, LambdaContext()) == {"batchItemFailures": []}
    assert poster.events("L1") == ["notification.created"]
    app_module.ws_disconnect(_ws_event("L1"), None)
    assert connections.connections_of([("dev", "alice")]) == {}


def test_dropping_connections_of_a_user_without_an_item_creates_nothing(aws):
    connections.drop_connections("dev", "nobody", ["c1"])
    raw = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=get_settings().table_name("connections"))
    assert raw["Items"] == []
