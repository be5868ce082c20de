"""CORS, decided per request from CORS_ALLOWED_ORIGINS.

Chalice's `cors=` gives a route one static origin and API Gateway answers its preflights with a mock
integration; a list of origins (with `*.example.com` and `localhost:*` patterns) has to be matched
against each request's `Origin`, so the app answers preflights itself (the OPTIONS route of every path,
see http.fallback_routes) and adds the headers to every response it makes, errors and 304s included.
Tokens travel in `Authorization`, never in cookies: no `Access-Control-Allow-Credentials`.
"""
from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Mapping

from chalice import Response

from chalicelib.domain.errors import Forbidden
from chalicelib.settings import SettingsError, get_settings

log = logging.getLogger(__name__)

# What a browser may send: the native API's headers, and what the dialects' clients send besides
# (Spark's SDKs add X-SparkApi-User-Agent; api3 clients may ask for XML with Accept).
ALLOW_HEADERS = ("Authorization", "Content-Type", "If-None-Match", "Idempotency-Key", "Accept",
                 "X-SparkApi-User-Agent")
# Response headers a page may read besides the CORS-safelisted ones (Content-Type, Cache-Control...).
EXPOSE_HEADERS = ("ETag", "X-Poll-Interval", "X-Next-Cursor", "Idempotent-Replayed", "WWW-Authenticate", "Allow")
MAX_AGE_SECONDS = 7200  # Chromium's ceiling; a preflight per path and method every two hours


@lru_cache(maxsize=16)
def _matcher(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for the configured origins (already validated and lower-cased by settings)."""
    if not patterns:
        return None
    alternatives = []
    for pattern in patterns:
        if pattern == "*":
            alternatives.append(r"https?://[^/]+")
            continue
        regex = re.escape(pattern)
        regex = regex.replace(r"://\*\.", r"://(?:[a-z0-9-]+\.)+")  # *.example.com: any subdomain
        regex = regex.replace(r":\*", r"(?::[0-9]{1,5})?")           # localhost:*: any port, or none
        alternatives.append(regex)
    return re.compile("(?:" + "|".join(alternatives) + ")")


def allowed_origin(origin: str | None) -> str | None:
    """`origin` if a browser page there may call the API, else None."""
    if not origin:
        return None
    try:
        patterns = get_settings().cors_allowed_origins
    except SettingsError:  # the runtime refuses this at start-up; on Lambda, no CORS rather than a 500
        log.exception("CORS_ALLOWED_ORIGINS is unusable: no origin is allowed")
        return None
    matcher = _matcher(patterns)
    return origin if matcher is not None and matcher.fullmatch(origin.lower()) else None


def add_vary(headers: dict[str, str], name: str) -> None:
    current = [v.strip() for v in headers.get("Vary", "").split(",") if v.strip()]
    if name.lower() not in {v.lower() for v in current}:
        headers["Vary"] = ", ".join(current + [name])


def decorate(response: Response, origin: str | None) -> Response:
    """Every response: `Vary: Origin`, and for an allowed origin the headers that let its page read it."""
    add_vary(response.headers, "Origin")
    allowed = allowed_origin(origin)
    if allowed is not None:
        response.headers["Access-Control-Allow-Origin"] = allowed
        response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSE_HEADERS)
    return response


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """A browser's CORS preflight: OPTIONS with Origin and Access-Control-Request-Method (a plain
    OPTIONS keeps its 405 with `Allow`)."""
    names = {k.lower() for k in headers}
    return method == "OPTIONS" and "origin" in names and "access-control-request-method" in names


def preflight(origin: str | None, methods: str) -> Response:
    """204 with what the path allows, for an allowed origin; a 403 (in the surface's shape, no CORS
    headers, so the browser refuses the request) otherwise."""
    if allowed_origin(origin) is None:
        raise Forbidden("origin_not_allowed", "this origin may not call the API from a browser "
                        "(CORS_ALLOWED_ORIGINS)", "Origin")
    return Response(body="", status_code=204, headers={
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": ", ".join(ALLOW_HEADERS),
        "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
    })
