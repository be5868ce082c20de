"""The native error body, `{"error", "message", "field"}`, and the native surface's route group."""
from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.api.http import json_response
from chalicelib.api.kit.routing import RouteGroup
from chalicelib.api.schemas import ErrorBody
from chalicelib.domain.errors import DomainError


def error_response(exc: DomainError, status: int) -> Response:
    body: dict[str, Any] = {"error": exc.code, "message": exc.message}
    if exc.field:
        body["field"] = exc.field
    return json_response(body, status)


GROUP = RouteGroup("native", "/v1", "Native", error_response, error_model=ErrorBody,
                   description="The native API: every feature, errors as `{\"error\", \"message\", \"field\"}`")
