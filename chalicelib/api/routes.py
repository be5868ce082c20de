"""Every HTTP route of the service: app.py registers them, openapi.py documents them."""
from __future__ import annotations

from chalice import Response

from chalicelib.api import native
from chalicelib.api.http import Call, Route, json_response


def health(call: Call) -> Response:
    return json_response({"status": "ok"})


def openapi(call: Call) -> Response:
    from chalicelib.api.openapi import document

    return json_response(document())


def dialect_routes() -> list[Route]:
    from chalicelib.api import dialects

    return dialects.routes()


def all_routes() -> list[Route]:
    return [
        Route("/health", "GET", health, "health", "Liveness", "Service", native.error_response, auth=False),
        Route("/openapi.json", "GET", openapi, "openapi", "This document", "Service", native.error_response,
              auth=False),
        *native.routes(),
        *dialect_routes(),
    ]
