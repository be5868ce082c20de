"""The Chalice app as a WSGI application, so schemathesis (and any WSGI client) can call it in-process.

Requests go through Chalice's own local gateway (what `chalice.test.Client` and `chalice local` use):
the same route matching (greedy `{proxy+}` included, see notifications.local.routing), Lambda event,
stage environment variables and view code as `make dev`, without a socket. The path is taken raw
(`RAW_URI`, before percent-decoding) because API Gateway hands the app undecoded path parameters.
"""
from __future__ import annotations

import threading
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]


class ChaliceWSGI:
    def __init__(self, app: Any, project_dir: Path = ROOT, stage: str = "dev",
                 on_response: Callable[[int, str], None] | None = None) -> None:
        from chalice.test import Client

        self._client = Client(app, stage_name=stage, project_dir=str(project_dir))
        self._lock = threading.Lock()
        self._on_response = on_response

    def request(self, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b""):
        """One request through Chalice's local gateway (Chalice's HTTPResponse)."""
        with self._lock:  # moto in-process is not thread-safe
            return self._client.http.request(method, target, headers=headers or {}, body=body)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        path = raw.split("?", 1)[0] if raw else quote(environ.get("PATH_INFO", "/"), safe="/%:@!$&'()*+,;=-._~")
        query = environ.get("QUERY_STRING") or (raw.split("?", 1)[1] if raw and "?" in raw else "")
        target = f"{path}?{query}" if query else path
        headers: dict[str, str] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").lower()] = value
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        response = self.request(method, target, headers=headers, body=body)
        payload = response.body if isinstance(response.body, bytes) else (response.body or "").encode()
        if self._on_response is not None:
            self._on_response(response.status_code,
                              f"{method} {target} {body[:300]!r} -> {response.status_code} {payload[:300]!r}")
        try:
            reason = HTTPStatus(response.status_code).phrase
        except ValueError:
            reason = "Unknown"
        out_headers = [(k, str(v)) for k, v in response.headers.items() if k.lower() != "content-length"]
        out_headers.append(("Content-Length", str(len(payload))))
        start_response(f"{response.status_code} {reason}", out_headers)
        return [payload]
