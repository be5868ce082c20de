"""Conditional polling of an inbox: a weak ETag from its change counter, 304 while it is unchanged, and the
headers a polled listing answers with."""
from __future__ import annotations

import hashlib
import json

from chalice import Response

from chalicelib.api.http import Call, not_modified
from chalicelib.settings import get_settings

PRIVATE = {"Cache-Control": "private, no-cache", "Vary": "Authorization"}


def inbox_etag(version: int, call: Call, with_query: bool) -> str:
    """A weak ETag from the inbox's change counter, bound to the inbox (tenant and user, so a
    shared browser cache never answers one user with another's list) and the query string."""
    caller = call.require_caller()
    scope = [caller.tenant, caller.resolve_user(call.params["userId"])]
    if with_query:
        scope.append(json.dumps(sorted(call.query.items()), separators=(",", ":")))
    digest = hashlib.sha256("\x1f".join(scope).encode()).hexdigest()[:16]
    return f'W/"v{version}-{digest}"'


def poll_headers(etag: str | None = None) -> dict[str, str]:
    """What a polled listing answers with: its ETag, private caching, and X-Poll-Interval (the seconds a
    client should wait before asking again, as GitHub's notifications API sends)."""
    headers = {**PRIVATE, "X-Poll-Interval": str(get_settings().poll_interval_seconds)}
    if etag is not None:
        headers["ETag"] = etag
    return headers


def unchanged(call: Call, etag: str) -> Response | None:
    """304 when the client's If-None-Match names the current ETag: polling costs one GetItem."""
    return not_modified(call, etag, poll_headers(etag))
