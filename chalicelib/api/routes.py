"""Every HTTP route of the service: app.py registers them, openapi.py documents them."""
from __future__ import annotations

from typing import Any, Literal

from chalice import Response
from pydantic import BaseModel

from chalicelib.api import native
from chalicelib.api.dialects import api3, cord, spark, threatconnect
from chalicelib.api.schemas import ErrorBody
from chalicelib.api.http import Call, Route, Surface, fallback_routes, json_response


def health(call: Call) -> Response:
    return json_response({"status": "ok"})


def openapi(call: Call) -> Response:
    from chalicelib.api.openapi import document

    return json_response(document())


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
                  response_model=OpenApiDocument, error_statuses=())]


# Unauthenticated service routes at the root; an unknown path outside every surface is its 404.
SERVICE = Surface("service", "", "Service", native.error_response, _service_routes, error_model=ErrorBody)

# Every surface, in the order the OpenAPI document lists them.
SURFACES: list[Surface] = [SERVICE, native.SURFACE, threatconnect.SURFACE, cord.SURFACE, api3.SURFACE,
                           spark.SURFACE]


def service_routes() -> list[Route]:
    """The documented routes of every surface."""
    return [route for surface in SURFACES for route in surface.routes()]


def all_routes() -> list[Route]:
    """What app.py registers: the documented routes, then the 405 and unknown-path fallbacks."""
    routes = service_routes()
    return routes + fallback_routes(routes, SURFACES)
