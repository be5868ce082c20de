"""CORS from CORS_ALLOWED_ORIGINS (preflights and every response), X-Poll-Interval, and the bell's script."""
from __future__ import annotations

import json

import pytest

from chalicelib.settings import reset_settings

from tests.conftest import auth

APP = "http://localhost:5173"
ORIGINS = "http://localhost:*, https://app.example.com, https://*.example.org"


@pytest.fixture(autouse=True)
def origins(monkeypatch):
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", ORIGINS)
    reset_settings()


def preflight(client, path: str, origin: str = APP, method: str = "GET", headers: str = "authorization"):
    return client.http.request("OPTIONS", path, headers={
        "Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
        body=b"")


@pytest.mark.parametrize("path,methods", [
    ("/v1/users/me/notifications", "GET"),
    ("/v1/notifications/abc", "DELETE, GET, PATCH"),
    ("/v1/users/me/notifications/read", "POST"),
    ("/spark/v1/notifications", "GET, POST"),
    ("/cord/v1/users/u1/notifications", "GET"),
    ("/api3/notification", "GET"),
    ("/spark/v9/unknown/path", "GET, POST, PUT, PATCH, DELETE"),
])
def test_a_preflight_from_an_allowed_origin_is_204_with_what_the_path_allows(client, path, methods):
    r = preflight(client, path)
    assert r.status_code == 204, (r.status_code, r.body)
    h = r.headers
    assert h["Access-Control-Allow-Origin"] == APP
    assert h["Access-Control-Allow-Methods"] == methods
    allowed = {x.strip().lower() for x in h["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "if-none-match", "idempotency-key"} <= allowed
    assert int(h["Access-Control-Max-Age"]) > 0
    assert "Origin" in h["Vary"]
    assert "Access-Control-Allow-Credentials" not in h  # bearer tokens, never cookies


@pytest.mark.parametrize("origin,allowed", [
    ("http://localhost:5173", True), ("http://localhost", True), ("http://localhost:1", True),
    ("https://localhost:5173", False), ("http://localhost.evil.com", False), ("http://127.0.0.1:5173", False),
    ("https://app.example.com", True), ("https://app.example.com:8443", False), ("http://app.example.com", False),
    ("https://a.example.org", True), ("https://a.b.example.org", True), ("https://example.org", False),
    ("https://evil-example.org", False), ("https://a.example.org.evil.com", False), ("null", False),
])
def test_origins_match_the_configured_patterns(client, origin, allowed):
    r = client.http.get("/v1/users/me/notifications/unread-count", headers={**auth("dev", "alice"), "Origin": origin})
    assert r.status_code == 200
    assert (r.headers.get("Access-Control-Allow-Origin") == origin) is allowed, r.headers
    assert ("Access-Control-Expose-Headers" in r.headers) is allowed
    assert "Origin" in r.headers["Vary"] and "Authorization" in r.headers["Vary"]
    p = preflight(client, "/v1/users/me/notifications", origin)
    assert p.status_code == (204 if allowed else 403), p.body


def test_a_disallowed_preflight_is_403_in_the_surface_shape_without_cors_headers(client):
    r = preflight(client, "/spark/v1/notifications", "https://evil.example.com")
    assert r.status_code == 403 and json.loads(r.body)["D"]["Success"] is False, r.body
    assert not [h for h in r.headers if h.lower().startswith("access-control-")], r.headers
    r = preflight(client, "/v1/users/me/notifications", "https://evil.example.com")
    assert json.loads(r.body)["error"] == "origin_not_allowed"


def test_any_origin_with_a_star(client, monkeypatch):
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "*")
    reset_settings()
    r = preflight(client, "/v1/users/me/notifications", "https://anywhere.example")
    assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == "https://anywhere.example"


def test_no_cors_headers_without_configured_origins(client, monkeypatch):
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS")
    reset_settings()
    r = client.http.get("/v1/users/me/notifications", headers={**auth("dev", "alice"), "Origin": APP})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
    assert preflight(client, "/v1/users/me/notifications").status_code == 403


def _expose(r) -> set[str]:
    return {x.strip() for x in r.headers["Access-Control-Expose-Headers"].split(",")}


def test_errors_and_304s_carry_cors_headers_too(client, server):
    listing = "/v1/users/me/notifications"
    alice = {**auth("dev", "alice"), "Origin": APP}
    r = client.http.get(listing, headers=alice)
    assert {"ETag", "X-Poll-Interval", "X-Next-Cursor"} <= _expose(r)
    again = client.http.get(listing, headers={**alice, "If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and again.headers["Access-Control-Allow-Origin"] == APP
    for status, path, headers in ((401, listing, {"Origin": APP}), (404, "/v1/notifications/nope", alice),
                                  (404, "/cord/v9/nothing", alice), (405, "/v1/notification-types", alice)):
        method = "DELETE" if status == 405 else "GET"
        r = client.http.request(method, path, headers=headers, body=b"")
        assert r.status_code == status, (path, r.status_code, r.body)
        assert r.headers["Access-Control-Allow-Origin"] == APP, (path, r.headers)
        assert "WWW-Authenticate" in _expose(r)
    sent = client.http.post("/v1/notifications", headers={**auth("dev"), "Origin": APP, "Idempotency-Key": "k1"},
                            body=json.dumps({"recipients": ["alice"], "type": "T", "message": "m"}))
    assert sent.status_code == 201 and "Idempotent-Replayed" in _expose(sent)


@pytest.mark.parametrize("path", ["/v1/users/me/notifications", "/v1/users/me/notifications/unread-count"])
def test_polled_listings_send_x_poll_interval(client, monkeypatch, path):
    alice = auth("dev", "alice")
    assert client.http.get(path, headers=alice).headers["X-Poll-Interval"] == "30"
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "7")
    reset_settings()
    r = client.http.get(path, headers=alice)
    assert r.headers["X-Poll-Interval"] == "7"
    unchanged = client.http.get(path, headers={**alice, "If-None-Match": r.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.headers["X-Poll-Interval"] == "7"


def test_the_openapi_document_describes_x_poll_interval_and_the_script(client):
    doc = json.loads(client.http.get("/openapi.json").body)
    for path in ("/v1/users/{userId}/notifications", "/v1/users/{userId}/notifications/unread-count"):
        responses = doc["paths"][path]["get"]["responses"]
        assert "X-Poll-Interval" in responses["200"]["headers"] and "X-Poll-Interval" in responses["304"]["headers"]
    script = doc["paths"]["/static/notification-bell.js"]["get"]
    assert "security" not in script and "text/javascript" in script["responses"]["200"]["content"]


def test_the_bell_script_is_served_public_and_cacheable(client):
    r = client.http.get("/static/notification-bell.js")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/javascript")
    assert "customElements.define" in r.body.decode()
    assert "public" in r.headers["Cache-Control"] and "max-age" in r.headers["Cache-Control"]
    again = client.http.get("/static/notification-bell.js", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and not again.body
