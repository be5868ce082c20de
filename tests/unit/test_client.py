"""notifications.client against the in-process app (the real native routes over moto) and against a
scripted transport (retries, Retry-After, errors by status), and its urllib transport over a socket."""
from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.auth.tokens import verify
from notifications.client import (BadRequest, Broadcast, Conflict, ConnectionFailed, Forbidden, NotFound, RawResponse,
                                  NotificationsClient, RateLimited, ServerError, Unauthorized, UrllibTransport,
                                  mint_token)
from notifications.local.ports import free_port
from tests.conftest import token
from tests.unit.client_transport import ChaliceTransport, ScriptedTransport

BASE = "http://api.test"
DEV_KEY = "dev-signing-key-change-me-0123456789abcdef"  # tests/conftest.py's TENANT_KEYS


@pytest.fixture
def api(client) -> NotificationsClient:
    """A server-token client of the in-process app."""
    return NotificationsClient(BASE, token("dev"), transport=ChaliceTransport(client), sleep=lambda s: None)


@pytest.fixture
def as_user_api(client):
    def make(user: str) -> NotificationsClient:
        return NotificationsClient(BASE, token("dev", user), transport=ChaliceTransport(client))
    return make


def scripted(*answers, **kw) -> tuple[NotificationsClient, ScriptedTransport, list[float]]:
    transport = ScriptedTransport(*answers)
    slept: list[float] = []
    return NotificationsClient(BASE, "tok", transport=transport, sleep=slept.append, **kw), transport, slept


SENT = {"notifications": [{"id": "n1", "recipient": "bob", "aggregated": False}], "skipped": [],
        "broadcastId": None, "status": "delivered"}


# ---- against the app ------------------------------------------------------------------------------

def test_send_generates_an_idempotency_key_and_a_repeat_is_replayed(api, as_user_api):
    first = api.send(to=["alice", "bob"], type="Welcome", message="Hello **you**", priority="high",
                     metadata={"thread": "1"})
    assert first.status == "delivered" and not first.replayed and len(first.idempotency_key) == 32
    assert sorted(n.recipient for n in first.notifications) == ["alice", "bob"]
    again = api.send(to=["alice", "bob"], type="Welcome", message="Hello **you**", priority="high",
                     metadata={"thread": "1"}, idempotency_key=first.idempotency_key)
    assert again.replayed and again.notifications == first.notifications
    assert api.unread_count("alice") == 1  # the repeat delivered nothing
    n = as_user_api("alice").list_inbox().notifications[0]
    assert (n.type, n.priority, n.metadata, n.read) == ("Welcome", "high", {"thread": "1"}, False)
    assert "<strong>you</strong>" in n.html


def test_each_send_without_a_key_gets_its_own(api):
    a = api.send(to="bob", type="Ping", message="1")
    b = api.send(to="bob", type="Ping", message="1")
    assert a.idempotency_key != b.idempotency_key and not b.replayed
    assert api.unread_count("bob") == 2


def test_inbox_pages_by_cursor_and_read_state(api, as_user_api):
    ids = [api.send(to="carol", type="Step", message=f"step {i}").notifications[0].id for i in range(5)]
    first = api.list_inbox("carol", limit=2)
    assert len(first.notifications) == 2 and first.cursor
    assert [n.id for n in api.iter_inbox("carol", page_size=2)] == ids[::-1]  # newest first, every page
    carol = as_user_api("carol")
    assert carol.unread_count() == 5
    assert carol.mark_read("me", ids[:2]).marked == 2
    assert carol.set_read(ids[2]).read is True
    assert carol.get_notification(ids[2]).read_at is not None
    assert [n.id for n in carol.iter_inbox(status="unread")] == ids[3:][::-1]
    done = carol.mark_all_read()
    assert (done.status, done.marked) == ("complete", 2)
    assert carol.unread_count() == 0
    carol.delete_notification(ids[0])
    with pytest.raises(NotFound) as refused:
        carol.get_notification(ids[0])
    assert (refused.value.status, refused.value.code) == (404, "notification_not_found")


def test_users_and_memberships(api):
    user, created = api.put_user("ann+x@example.com", name="Ann", short_name="A", metadata={"team": "red"})
    assert created and user.id == "ann+x@example.com"  # the path segment is percent-encoded
    assert api.put_user("ann+x@example.com", name="Ann B")[1] is False
    assert api.get_user("ann+x@example.com").name == "Ann B"
    for i in range(5):
        m, new = api.put_member("organization", "acme", f"u{i}", "Standard User")
        assert new and m.role == "Standard User"
    assert api.put_member("organization", "acme", "u0", "organization administrator")[0].role == \
        "Organization Administrator"
    assert len(api.list_members("organization", "acme", limit=2).members) == 2
    assert sorted(m.user_id for m in api.iter_members("organization", "acme", page_size=2)) == \
        [f"u{i}" for i in range(5)]
    banned, _ = api.put_member("community", "club", "u1", "Subscriber", banned=True)
    assert banned.banned
    api.remove_member("organization", "acme", "u4")
    with pytest.raises(NotFound):
        api.get_member("organization", "acme", "u4")


def test_settings_mute_a_type(api, as_user_api):
    bob = as_user_api("bob")
    assert bob.put_settings(muted_types=["Spam"], min_priority="medium").muted_types == ["Spam"]
    assert api.get_settings("bob").min_priority == "medium"
    sent = api.send(to="bob", type="Spam", message="buy")
    assert [s.recipient for s in sent.skipped] == ["bob"] and sent.notifications == []


def test_a_page_that_is_not_the_api_is_one_clear_error():
    from notifications.client import UnexpectedResponse

    api, _, _ = scripted((200, b"<html>Welcome to nginx</html>", {"Content-Type": "text/html"}))
    with pytest.raises(UnexpectedResponse, match="answered 200 with text/html, not the API's JSON"):
        api.unread_count("bob")


def test_a_broadcast_is_queued_and_its_progress_readable(api):
    api.put_member("organization", "acme", "u1", "Standard User")
    sent = api.send(organization="acme", type="Announcement", message="Maintenance tonight")
    assert sent.status == "queued" and sent.broadcast_id and not sent.notifications
    b = api.get_broadcast(sent.broadcast_id)
    assert isinstance(b, Broadcast) and b.id == sent.broadcast_id and b.audience == {"organization": "acme"}
    assert b.status in ("queued", "running") and not b.finished


def test_refusals_raise_the_error_of_their_status(api, as_user_api, client):
    with pytest.raises(BadRequest) as bad:
        api.send(to="bob", type="T", message="x", priority="urgent")
    assert (bad.value.status, bad.value.code, bad.value.field) == (400, "invalid_priority", "priority")
    with pytest.raises(Forbidden):
        as_user_api("bob").put_user("bob", name="Bob")
    with pytest.raises(NotFound):
        api.get_broadcast("nope")
    key = api.send(to="bob", type="T", message="x").idempotency_key
    with pytest.raises(Conflict):
        api.send(to="bob", type="T", message="another body", idempotency_key=key)
    stranger = NotificationsClient(BASE, mint_token("dev", "not-the-key-0123456789abcdef0123456789"), transport=ChaliceTransport(client))
    with pytest.raises(Unauthorized) as unauthorized:
        stranger.unread_count("bob")
    assert unauthorized.value.code == "unauthorized" and "not-the-key" not in str(unauthorized.value)


def test_minted_tokens_are_accepted_by_the_service(as_user_api):
    user = verify("Bearer " + mint_token("dev", DEV_KEY, "alice", roles=["admin"], application="app"))
    assert (user.tenant, user.user, user.has_role("admin"), user.application) == ("dev", "alice", True, "app")
    server = verify("Bearer " + mint_token("dev", DEV_KEY))
    assert server.is_server and server.user is None


def test_a_token_function_is_called_for_each_request(client):
    calls = []

    def fresh() -> str:
        calls.append(1)
        return token("dev")

    api = NotificationsClient(BASE, fresh, transport=ChaliceTransport(client))
    api.unread_count("bob")
    api.unread_count("bob")
    assert len(calls) == 2


# ---- retries and errors (scripted transport) ------------------------------------------------------

def test_a_5xx_is_retried_with_the_same_idempotency_key():
    api, transport, slept = scripted((503, {"error": "unavailable", "message": "busy"}), (500, b"oops"), (201, SENT))
    result = api.send(to="bob", type="T", message="x")
    assert result.notifications[0].id == "n1"
    keys = {h["Idempotency-Key"] for _, _, h, _ in transport.seen}
    assert keys == {result.idempotency_key} and len(transport.seen) == 3
    assert len(slept) == 2 and all(0 <= s <= 1.0 for s in slept)  # backoff 0.5, 1.0 with full jitter
    assert (api.calls, api.retries) == (3, 2)


def test_retry_after_is_honoured_in_seconds_and_as_a_date():
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=5), usegmt=True)
    api, _, slept = scripted((429, {"message": "slow down"}, {"Retry-After": "2"}),
                             (503, b"", {"Retry-After": when}), (200, {"unreadCount": 3}))
    assert api.unread_count("bob") == 3
    assert slept[0] == 2.0 and 3.0 <= slept[1] <= 5.0


def test_a_retry_after_beyond_max_wait_raises_at_once():
    api, transport, slept = scripted((429, {"message": "Too Many Requests"}, {"Retry-After": "120"}), max_wait=30)
    with pytest.raises(RateLimited) as limited:
        api.unread_count("bob")
    assert limited.value.retry_after == 120.0 and slept == [] and len(transport.seen) == 1


def test_retries_are_bounded():
    api, transport, slept = scripted(*[(502, {"message": "Bad gateway"})] * 3, attempts=3)
    with pytest.raises(ServerError) as failed:
        api.get_broadcast("b1")
    assert failed.value.status == 502 and failed.value.message == "Bad gateway"
    assert len(transport.seen) == 3 and len(slept) == 2


def test_a_4xx_is_not_retried():
    api, transport, _ = scripted((400, {"error": "invalid_field", "message": "type: bad", "field": "type"}))
    with pytest.raises(BadRequest):
        api.send(to="bob", type="", message="x")
    assert len(transport.seen) == 1


def test_an_unreachable_service_is_retried_then_raised():
    api, transport, slept = scripted("refused", "refused", (200, {"unreadCount": 0}))
    assert api.unread_count("bob") == 0 and len(slept) == 2
    api, _, _ = scripted("refused", "refused", attempts=2)
    with pytest.raises(ConnectionFailed):
        api.unread_count("bob")


def test_requests_carry_the_token_json_and_encoded_paths():
    api, transport, _ = scripted((200, {"notifications": [], "cursor": None}))
    page = api.list_inbox("a b/c", limit=5, status="unread")
    method, url, headers, body = transport.seen[0]
    assert page.notifications == [] and page.cursor is None and body is None
    assert url == f"{BASE}/v1/users/a%20b%2Fc/notifications?limit=5&status=unread"
    assert headers["Authorization"] == "Bearer tok" and headers["Accept"] == "application/json"


def test_a_gateway_body_that_is_not_native_becomes_the_message():
    api, _, _ = scripted((403, b"<html>Forbidden by WAF</html>"))
    with pytest.raises(Forbidden) as refused:
        api.unread_count("bob")
    assert refused.value.message == "<html>Forbidden by WAF</html>" and refused.value.code == "error"


def test_send_needs_exactly_one_audience():
    api, transport, _ = scripted()
    with pytest.raises(ValueError):
        api.send(to="a", organization="o", type="T")
    with pytest.raises(ValueError):
        api.send(type="T")
    with pytest.raises(ValueError):
        NotificationsClient("ftp://x", "t")
    assert transport.seen == []


# ---- urllib over a socket -------------------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        status = 404 if "missing" in self.path else 200
        body = (b'{"error":"not_found","message":"no such user","field":"userId"}' if status == 404
                else b'{"unreadCount":7}')
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_urllib_transport_over_a_socket():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = NotificationsClient(f"http://127.0.0.1:{server.server_port}", "tok", transport=UrllibTransport())
        assert api.unread_count("bob") == 7
        with pytest.raises(NotFound) as missing:
            api.unread_count("missing")
        assert (missing.value.code, missing.value.field) == ("not_found", "userId")
    finally:
        server.shutdown()
        server.server_close()
    closed = NotificationsClient(f"http://127.0.0.1:{free_port()}", "tok", attempts=2, sleep=lambda s: None)
    with pytest.raises(ConnectionFailed) as refused:
        closed.unread_count("bob")
    assert str(refused.value).startswith("cannot reach http://127.0.0.1:") and "\n" not in str(refused.value)


def test_the_client_imports_neither_the_service_nor_pyjwt():
    """A backend can vendor the one file: nothing of chalicelib, and PyJWT only when minting."""
    code = ("import sys, notifications.client as c; "
            "assert not [m for m in sys.modules if m.split('.')[0] in ('chalicelib', 'jwt', 'chalice')], "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('chalicelib', 'jwt', 'chalice'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_send_whose_first_attempt_is_still_running_is_retried():
    api, transport, slept = scripted(
        "refused", (409, {"error": "idempotency_in_progress", "message": "still in progress",
                          "field": "Idempotency-Key"}), (201, SENT, {"Idempotent-Replayed": "true"}))
    result = api.send(to="bob", type="T", message="x")
    assert result.replayed and len(transport.seen) == 3 and len(slept) == 2
    api, transport, _ = scripted((409, {"error": "idempotency_key_reused", "message": "another body"}))
    with pytest.raises(Conflict):
        api.send(to="bob", type="T", message="x", idempotency_key="k")
    assert len(transport.seen) == 1  # a key reused with another body is the caller's mistake: not retried


def test_a_delete_retried_after_an_unanswered_attempt_is_done():
    api, transport, _ = scripted("refused", (404, {"error": "notification_not_found", "message": "gone"}))
    api.delete_notification("n1")
    assert len(transport.seen) == 2
    api, _, _ = scripted((404, {"error": "notification_not_found", "message": "gone"}))
    with pytest.raises(NotFound):  # answered at once: it was never there
        api.delete_notification("n1")


# ---- the client against the served OpenAPI document ------------------------------------------------

def _every_client_call() -> list[tuple[str, str, dict]]:
    """Each public method of the client called once with every optional argument: (method, path, query)."""
    from urllib.parse import parse_qs, urlsplit

    seen: list[tuple[str, str, dict]] = []

    def record(method, url, headers, body, timeout):
        parts = urlsplit(url)
        seen.append((method, parts.path, parse_qs(parts.query)))
        return RawResponse(204, {}, b"")

    api = NotificationsClient(BASE, "t", transport=record)
    calls = [
        lambda: api.send(to="u", type="T", message="m", priority="low", template="t", actor="a", url="https://x",
                         icon_url="https://x", metadata={"k": 1}, location={"k": 1}, group_key="g", expires_at=1),
        lambda: api.list_inbox("u", limit=5, cursor="c", status="unread", type="T", priority="low", since=1, before=2),
        lambda: api.unread_count("u"), lambda: api.get_notification("n"), lambda: api.set_read("n"),
        lambda: api.delete_notification("n"), lambda: api.mark_read("u", ["n"]), lambda: api.mark_all_read("u"),
        lambda: api.put_user("u", name="n"), lambda: api.get_user("u"), lambda: api.get_settings("u"),
        lambda: api.put_settings("u", muted_types=["T"]),
        lambda: api.put_member("organization", "o", "u", "r"), lambda: api.get_member("community", "c", "u"),
        lambda: api.remove_member("organization", "o", "u"),
        lambda: api.list_members("community", "c", limit=5, cursor="x"),
        lambda: api.get_broadcast("b"), lambda: api.list_types(),
    ]
    for call in calls:
        try:
            call()
        except (TypeError, AttributeError, KeyError):  # a 204 has no body to read: only the request matters
            pass
    return seen


def test_every_call_of_the_client_is_a_documented_operation(client):
    """Drift guard: the paths, methods and query parameters the client uses are in the served document."""
    import re

    paths = json.loads(client.http.get("/openapi.json").body)["paths"]
    calls = _every_client_call()
    assert len(calls) == 18 and all(query for m, p, query in calls if p.endswith("/notifications") and m == "GET")
    for method, path, query in calls:
        matches = [(template, ops) for template, ops in paths.items()
                   if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path)]
        assert matches, f"{method} {path} is not in /openapi.json"
        template, ops = matches[0]
        assert method.lower() in ops, f"{method} {template} is not documented"
        documented = {p["name"] for p in ops[method.lower()].get("parameters", []) if p["in"] == "query"}
        assert set(query) <= documented, (method, template, set(query) - documented)
