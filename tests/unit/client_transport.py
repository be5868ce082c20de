"""Transports for testing notifications.client: the in-process Chalice app (the real routes over moto),
and a scripted fake that answers from a list and records what was asked."""
from __future__ import annotations

import json
import threading
from typing import Any, Mapping
from urllib.parse import urlsplit

from notifications.client import ConnectionFailed, RawResponse


class ChaliceTransport:
    """Sends the client's requests to the app through Chalice's test client (as API Gateway would), one at
    a time (Chalice keeps the current request in the app object: concurrent calls would mix them up)."""

    def __init__(self, test_client) -> None:
        self.test_client = test_client
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                 timeout: float) -> RawResponse:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        with self.lock:
            self.requests.append((method, path))
            r = self.test_client.http.request(method, path, headers=dict(headers), body=body or b"")
        return RawResponse(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.body or b"")


class ScriptedTransport:
    """Answers each request with the next scripted (status, body, headers), or raises ConnectionFailed for
    the string "refused"; records every request as (method, url, headers, body)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.seen: list[tuple[str, str, dict[str, str], Any]] = []

    def __call__(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                 timeout: float) -> RawResponse:
        self.seen.append((method, url, dict(headers), json.loads(body) if body else None))
        answer = self.answers.pop(0)
        if answer == "refused":
            raise ConnectionFailed("cannot reach http://api.test: Connection refused")
        status, payload, *rest = answer
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return RawResponse(status, {k.lower(): v for k, v in (rest[0] if rest else {}).items()}, raw)
