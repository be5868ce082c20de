"""The OpenAPI 3.1 document, generated from the route table and its pydantic models."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic.json_schema import models_json_schema

from chalicelib.api.http import Route
from chalicelib.api.schemas import ErrorBody


def build(routes: list[Route]) -> dict[str, Any]:
    models = {ErrorBody}
    for r in routes:
        models.update(m for m in (r.request_model, r.response_model) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, top = models_json_schema([(m, "validation") for m in ordered],
                                ref_template="#/components/schemas/{model}")
    schemas = top.get("$defs", {})
    paths: dict[str, Any] = {}
    for r in routes:
        op: dict[str, Any] = {"operationId": r.name, "summary": r.summary, "tags": [r.tag]}
        params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in re.findall(r"{(\w+)}", r.path)]
        params += [{"name": n, "in": "query", "required": False, "description": d, "schema": {"type": "string"}}
                   for n, d in r.query_params]
        if params:
            op["parameters"] = params
        if r.request_model is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{r.request_model.__name__}"}}}}
        ok: dict[str, Any] = {"description": "Success"}
        if r.response_model is not None:
            ok["content"] = {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{r.response_model.__name__}"}}}
        responses: dict[str, Any] = {str(r.success_status): ok}
        if r.path == "/v1/notifications" and r.method == "POST":
            responses["202"] = {"description": "Broadcast queued", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/SendResponse"}}}}
        err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
        for code, text in (("400", "Invalid input"), ("401", "Missing or invalid token"),
                           ("403", "Not allowed"), ("404", "Not found")):
            responses[code] = {"description": text, **(err if r.tag not in ("Dialects",) else {})}
        op["responses"] = responses
        if r.auth:
            op["security"] = [{"bearer": []}]
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Inbox notifications API", "version": "1.0.0",
                 "description": "Native /v1 API plus drop-in dialects of ThreatConnect v2, Cord v1, api3 and "
                                "Spark notifications. Every route except /health and /openapi.json needs "
                                "`Authorization: Bearer <JWT>`."},
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    from chalicelib.api.routes import service_routes

    return build([r for r in service_routes() if r.documented])
