"""Every HTTP route of the service: app.py registers them, openapi.py documents them."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from chalice import Response
from pydantic import BaseModel

from dataclasses import replace

from chalicelib.api import native, realtime
from chalicelib.api.dialects import api3, cord, spark, threatconnect
from chalicelib.api.schemas import ErrorBody
from chalicelib.api.http import Call, Reply, Route, Surface, fallback_routes, json_response, not_modified


def health(call: Call) -> Response:
    return json_response({"status": "ok"})


def openapi(call: Call) -> Response:
    from chalicelib.api.openapi import document

    return json_response(document())


STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
BELL_SCRIPT = "notification-bell.js"


@lru_cache(maxsize=4)
def static_file(name: str) -> tuple[str, str]:
    """A file shipped in chalicelib/static/ and its strong ETag, read once per process."""
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    return text, '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


def bell_script(call: Call) -> Response:
    """The <notification-bell> web component: public, cached for an hour, then revalidated by ETag."""
    text, etag = static_file(BELL_SCRIPT)
    headers = {"Cache-Control": "public, max-age=3600", "ETag": etag}
    return not_modified(call, etag, headers) or Response(
        body=text, status_code=200, headers={**headers, "Content-Type": "text/javascript; charset=utf-8"})


class Health(BaseModel):
    status: Literal["ok"]


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


def _service_routes() -> list[Route]:
    e = native.error_response
    return [Route("/health", "GET", health, "health", "Liveness", "Service", e, auth=False, response_model=Health,
                  error_statuses=()),
            Route("/openapi.json", "GET", openapi, "openapi", "This document", "Service", e, auth=False,
                  response_model=OpenApiDocument, error_statuses=()),
            Route(f"/static/{BELL_SCRIPT}", "GET", bell_script, "notification_bell_script",
                  "The <notification-bell> web component (plain JavaScript; see the README)", "Service", e,
                  auth=False, media_type="text/javascript", error_statuses=(),
                  replies=[Reply(304, "Not Modified: the script has not changed since that ETag")])]


# Unauthenticated service routes at the root; an unknown path outside every surface is its 404.
SERVICE = Surface("service", "", "Service", native.error_response, _service_routes, error_model=ErrorBody)

# The native surface with the realtime ticket route (its own module) beside its routes.
NATIVE = replace(native.SURFACE, routes=lambda: native.SURFACE.routes() + realtime.routes())

# Every surface, in the order the OpenAPI document lists them.
SURFACES: list[Surface] = [SERVICE, NATIVE, threatconnect.SURFACE, cord.SURFACE, api3.SURFACE,
                           spark.SURFACE]


def service_routes() -> list[Route]:
    """The documented routes of every surface."""
    return [route for surface in SURFACES for route in surface.routes()]


def all_routes() -> list[Route]:
    """What app.py registers: the documented routes, then the 405 and unknown-path fallbacks."""
    routes = service_routes()
    return routes + fallback_routes(routes, SURFACES)
