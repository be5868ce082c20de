"""The bell in a real browser: Debian's Chromium driven by Playwright for Python (no browser download), against
`notifications dev` (default engine, polls every second, an identity provider's JWKS served here), with the
pages served from another origin (http://localhost:<port>) than the API (http://127.0.0.1:<port>), so every
call is a CORS call.

Without Chromium (`make test` installs Debian's `chromium` when it can) or Playwright the tier is skipped with
the reason; on CI (CI=true) that is a failure.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import pytest

from tests.idp import Provider, ec_key, rsa_key

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# What works for Debian's Chromium on these machines (root, no GPU, no network beyond loopback).
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ON_CI = os.environ.get("CI", "").lower() == "true"
POLL_SECONDS = 1
ROOT = Path(__file__).resolve().parents[2]


def _missing() -> str | None:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} not found (apt-get install chromium; `make test` does it where it can)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright for Python is not installed ({exc}); pip install -e '.[dev,test]'"
    return None


@pytest.fixture(scope="session")
def chromium():
    reason = _missing()
    if reason:
        if ON_CI:
            pytest.fail(f"the browser tests are required on CI: {reason}", pytrace=False)
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def provider():
    """An identity provider's JWKS (an RSA and an EC key), served on loopback for the service to fetch."""
    idp = Provider([rsa_key(), ec_key()]).start()
    yield idp
    idp.stop()


@pytest.fixture(scope="session")
def service(chromium, provider):
    """`notifications dev` as `make dev` starts it, polling every second, trusting the provider for tenant acme."""
    from tests.integration.conftest import start_service

    svc = start_service({"TENANT_KEYS": os.environ["TENANT_KEYS"], "POLL_INTERVAL_SECONDS": str(POLL_SECONDS),
                         "TENANT_JWKS": json.dumps(provider.config("acme"))})
    yield svc
    # Everything it holds is in memory: the whole process group goes at once (a graceful stop takes seconds).
    os.killpg(svc.process.pid, signal.SIGKILL)
    svc.process.wait(10)


class Pages:
    """A static web server on another origin than the API: `add(path, html)` serves a page; any other path
    answers a small "landed" page (where notifications' urls lead)."""

    def __init__(self) -> None:
        pages = self.pages = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = urlsplit(self.path).path
                body = (pages[path]() if path in pages else f"<!doctype html><title>landed</title><p>{path}</p>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        # "localhost" here, "127.0.0.1" for the API: another origin (host and port), as a host app's page is.
        self.origin = f"http://localhost:{self.server.server_address[1]}"

    def add(self, path: str, html: Callable[[], str] | str) -> str:
        self.pages[path] = html if callable(html) else (lambda: html)
        return self.origin + path

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def pages():
    server = Pages()
    yield server
    server.stop()


@pytest.fixture
def page(chromium, request):
    """A fresh browser context (light scheme, 1024x700) whose page fails the test on any script error or dialog."""
    context = chromium.new_context(viewport={"width": 1024, "height": 700}, color_scheme="light")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    pg.on("dialog", lambda dialog: (errors.append(f"dialog opened: {dialog.message}"), dialog.dismiss()))
    pg.errors = errors
    yield pg
    context.close()
    assert not errors, errors
