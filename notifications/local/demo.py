"""`GET /inbox` under `notifications dev` only: a page with the bell for a demo user of the dev tenant and a
button that sends that user a test notification. Registered on the app by the local runtime (never by
app.py, so it is not deployed)."""
from __future__ import annotations

import json
from pathlib import Path

from chalice import Chalice, Response

from chalicelib.auth.tokens import issue
from chalicelib.settings import DEV_TENANT, get_settings

PAGE = Path(__file__).with_name("demo.html")
DEMO_USER = "alice"  # the user of the curl examples `notifications dev` prints
TOKEN_TTL = 7 * 86400


def page(api: str, user: str = DEMO_USER) -> str:
    """The demo page for `api` (the base URL the browser reaches the API at), with fresh dev tokens."""
    if DEV_TENANT not in get_settings().tenant_keys:
        return f"<!doctype html><p>TENANT_KEYS has no key for the tenant {DEV_TENANT!r}: no demo tokens.</p>"
    config = {"api": api, "user": user, "userToken": issue(DEV_TENANT, user=user, ttl_seconds=TOKEN_TTL),
              "serverToken": issue(DEV_TENANT, ttl_seconds=TOKEN_TTL)}
    # JSON inside <script>: "</" must not end the element.
    return PAGE.read_text(encoding="utf-8").replace("__DEMO_CONFIG__", json.dumps(config).replace("</", "<\\/"))


def install(app: Chalice) -> None:
    """Add GET /inbox to `app` (the dev server's app object)."""

    @app.route("/inbox", methods=["GET"])
    def demo_inbox() -> Response:
        host = (app.current_request.headers or {}).get("host", "127.0.0.1:8000")
        return Response(body=page(f"http://{host}"), status_code=200,
                        headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})
