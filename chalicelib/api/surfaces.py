"""Every HTTP surface of the service, listed here and nowhere else: app.py registers their routes (and the 405
and unknown-path fallbacks), openapi.py documents them, in this order."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from chalicelib.api import openapi, service
from chalicelib.api.dialects import api3, cord, spark, threatconnect
from chalicelib.api.http import fallback_routes
from chalicelib.api.kit.routing import Route, Surface
from chalicelib.api.native.routes import SURFACE as NATIVE


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The OpenAPI document of every surface, built once per process."""
    return openapi.build(SURFACES)


# Unauthenticated service routes at the root (an unknown path outside every surface is its 404), the native
# API, then the dialects.
SURFACES: list[Surface] = [service.surface(document), NATIVE, threatconnect.SURFACE, cord.SURFACE, api3.SURFACE,
                           spark.SURFACE]


def service_routes() -> list[Route]:
    """The documented routes of every surface."""
    return [route for surface in SURFACES for route in surface.routes()]


def all_routes() -> list[Route]:
    """What app.py registers: the documented routes, then the 405 and unknown-path fallbacks."""
    routes = service_routes()
    return routes + fallback_routes(routes, SURFACES)
