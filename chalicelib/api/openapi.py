"""The OpenAPI 3.1 document, generated from the route table, its pydantic models and each surface's
error body.

For every documented route: its path, query and header parameters with their types and limits, the
bearer security scheme, every status it can answer (success, 202/304 and the like from `Route.replies`,
and its errors in its surface's own error body, api3's also as XML), links from a response to the
operations that take its ids, and the seeds' request examples. Methods a path does not serve (405) and
unknown paths (404) are answered in the same error bodies; they are no operations, so the document
lists those bodies once per surface under `components.responses`.

It is built from the surfaces it is handed (chalicelib.api.surfaces lists them): it imports none.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.kit.routing import Param, Route, Surface

OWNER_ID_PATTERN = r"^[A-Za-z0-9_.:@+\-]{1,128}$"
USER_ID = {"type": "string", "minLength": 1, "maxLength": 256}

# Path parameters by name; a route's `path_params` overrides one for that route.
PATH_PARAMS: dict[str, Param] = {
    "userId": Param("userId", "A user id (1-256 characters, no control characters or surrounding spaces); "
                              "`me` is the caller of a user token", USER_ID, ("alice", "me")),
    "orgId": Param("orgId", "An organization id: 1-128 letters, digits and _.:@+-",
                   {"type": "string", "pattern": OWNER_ID_PATTERN}, ("acme",)),
    "communityId": Param("communityId", "A community id: 1-128 letters, digits and _.:@+-",
                         {"type": "string", "pattern": OWNER_ID_PATTERN}, ("c1",)),
    "id": Param("id", "A notification id, as the send returned it", {"type": "string", "minLength": 1}),
    "proxy": Param("proxy", "", {"type": "string"}),
}

RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {"description": "Weak validator of the inbox (changes with any change to it); send it back in "
                            "If-None-Match", "required": True, "schema": {"type": "string"}},
    "Cache-Control": {"description": "private, no-cache", "required": True, "schema": {"type": "string"}},
    "Vary": {"description": "Authorization, Origin", "required": True, "schema": {"type": "string"}},
    "X-Poll-Interval": {"description": "Seconds to wait before polling again (POLL_INTERVAL_SECONDS); send "
                                       "If-None-Match with the ETag then", "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9]+$"}},
    "Idempotent-Replayed": {"description": "With Idempotency-Key: whether this is the stored first answer",
                            "required": False, "schema": {"type": "string", "enum": ["true", "false"]}},
    "WWW-Authenticate": {"description": 'Bearer realm="notifications"', "required": True,
                         "schema": {"type": "string"}},
    "X-Next-Cursor": {"description": "More items: pass as ?cursor= to continue", "required": False,
                      "schema": {"type": "string"}},
    "Allow": {"description": "The methods the path serves", "required": True, "schema": {"type": "string"}},
}

STATUS_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted: continues in the background", 204: "No Content",
    304: "Not Modified", 400: "Invalid input", 401: "Missing, malformed or expired token",
    403: "The token may not do this", 404: "Not found", 405: "Method not allowed",
    409: "Conflict", 413: "Too large", 415: "Unsupported request Content-Type",
}

JSON = "application/json"
XML = "application/xml"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _content(model: type[BaseModel] | None, xml: bool) -> dict[str, Any] | None:
    if model is None:
        return None
    content: dict[str, Any] = {JSON: {"schema": _ref(model)}}
    if xml:
        content[XML] = {"schema": _ref(model)}  # the same content under <response> (api3's to_xml)
    return content


def path_param_names(path: str) -> list[str]:
    return re.findall(r"{(\w+)\+?}", path)


def _param(p: Param | tuple[str, str]) -> Param:
    return p if isinstance(p, Param) else Param(p[0], p[1])


def error_statuses(route: Route) -> tuple[int, ...]:
    """The error statuses a route can answer: its own list, or what follows from what it takes: 400 for
    any input, 401 and 403 for a token, 404 for a path naming something, 415 for a body."""
    if route.error_statuses is not None:
        return tuple(sorted(route.error_statuses))
    takes_path = bool(path_param_names(route.path))
    out = set()
    if route.request_model is not None or route.query_params or takes_path or route.headers:
        out.add(400)
    if route.auth:
        out |= {401, 403}
    if takes_path:
        out.add(404)
    if route.request_model is not None:
        out.add(415)
    return tuple(sorted(out))


def _parameters(route: Route) -> list[dict[str, Any]]:
    overrides = {p.name: p for p in route.path_params}
    out = []
    for name in path_param_names(route.path):
        p = overrides.get(name) or PATH_PARAMS.get(name) or Param(name)
        out.append(_param_object(p, "path", required=True))
    out += [_param_object(_param(p), "query", empty=_param(p).empty_is_absent) for p in route.query_params]
    out += [_param_object(p, "header") for p in route.headers]
    return out


EMPTY = {"type": "string", "maxLength": 0}


def _accepts_empty(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and not ({"enum", "pattern", "minLength", "const"} & set(schema))


def _param_object(p: Param, where: str, required: bool = False, empty: bool = False) -> dict[str, Any]:
    schema = dict(p.schema)
    if empty and not _accepts_empty(schema):
        # Handlers read an empty query value (`?limit=`) as the parameter's absence.
        schema = {"anyOf": [schema, EMPTY], **({"default": schema["default"]} if "default" in schema else {})}
    obj: dict[str, Any] = {"name": p.name, "in": where, "required": required, "schema": schema}
    if p.description:
        obj["description"] = p.description
    if p.examples:
        obj["examples"] = {f"example{i + 1}": {"value": v} for i, v in enumerate(p.examples)}
    return obj


def _headers(names: Iterable[str]) -> dict[str, Any]:
    return {name: RESPONSE_HEADERS[name] for name in names}


def operation(surface: Surface, route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.name, "summary": route.summary, "tags": [route.tag]}
    params = _parameters(route)
    if params:
        op["parameters"] = params
    if route.request_model is not None:
        media: dict[str, Any] = {"schema": _ref(route.request_model)}
        if route.request_examples:
            media["examples"] = {name: {"value": value} for name, value in route.request_examples.items()}
        op["requestBody"] = {"required": True, "content": {JSON: media}}
    responses: dict[str, Any] = {str(route.success_status): _response(
        STATUS_TEXT.get(route.success_status, "Success"), route.response_model, route.xml, route.success_headers)}
    if route.media_type:
        types = (route.media_type,) if isinstance(route.media_type, str) else route.media_type
        responses[str(route.success_status)]["content"] = {t: {"schema": {"type": "string"}} for t in types}
    for reply in route.replies:
        responses[str(reply.status)] = _response(reply.description, reply.model, route.xml, reply.headers)
    for status in error_statuses(route):
        entry = {"description": STATUS_TEXT[status]}
        content = _content(surface.error_model, surface.error_xml)
        if content:
            entry["content"] = content
        if status == 401:
            entry["headers"] = _headers(["WWW-Authenticate"])
        responses[str(status)] = entry
    for link in route.links:
        target = responses[str(link.status or route.success_status)]
        body: dict[str, Any] = {"operationId": link.operation_id, "parameters": dict(link.parameters)}
        if link.request_body is not None:
            body["requestBody"] = link.request_body
        if link.description:
            body["description"] = link.description
        target.setdefault("links", {})[link.name] = body
    op["responses"] = responses
    if route.auth:
        op["security"] = [{"bearer": []}]
    return op


def _models(surfaces: list[Surface], routes: list[tuple[Surface, Route]]) -> list[type[BaseModel]]:
    models: set[type[BaseModel]] = set()
    models.update(s.error_model for s in surfaces if s.error_model is not None)
    for _, r in routes:
        models.update(m for m in (r.request_model, r.response_model) if m is not None)
        models.update(reply.model for reply in r.replies if reply.model is not None)
    return sorted(models, key=lambda m: m.__name__)


def _fallback_responses(surfaces: list[Surface]) -> dict[str, Any]:
    """405 (a method the path does not serve) and 404 (no such path), per surface."""
    out: dict[str, Any] = {}
    for s in surfaces:
        content = _content(s.error_model, s.error_xml)
        out[f"{s.name}_method_not_allowed"] = {
            "description": f"{s.name}: a method the path does not serve (405, with Allow)",
            "headers": _headers(["Allow"]), **({"content": content} if content else {})}
        out[f"{s.name}_unknown_path"] = {"description": f"{s.name}: no resource at this path (404)",
                                         **({"content": content} if content else {})}
    return out


DESCRIPTION = """\
The native `/v1` API, and drop-in dialects of the ThreatConnect v2, Cord v1, api3 and Spark notification APIs
(a client written for one of those works by changing only its base URL).

**Authorization.** Every operation with a lock needs `Authorization: Bearer <JWT>`: a token signed with the
tenant's key (HS256, with `exp`, `iss`, `aud` and a `tid` tenant claim; `sub` for a user token, none for the
tenant's server token) or a token of the tenant's identity provider (RS256/ES256). A missing, malformed or
expired token is a 401 with `WWW-Authenticate: Bearer`, in the error body of the surface asked.

**Errors.** Each surface answers every error in its own body: the native `ErrorBody`, ThreatConnect's
`TcFailure`, Cord's `CordError`, api3's `Api3Error` (XML too with `format=xml`) and Spark's `SparkFailure`. A
method a path does not serve is a 405 with `Allow`, an unknown path a 404, in the same bodies (see
`components.responses`, `<surface>_method_not_allowed` and `<surface>_unknown_path`).

**Polling.** The inbox listing and unread count send an `ETag` and `X-Poll-Interval`; `If-None-Match` with that
ETag answers 304 while the inbox is unchanged.

**Realtime.** `POST /v1/realtime/tickets` trades the token for a single-use ticket (at most 60 s) to a WebSocket
on which every change of the inbox is pushed (`notification.created` with the native view, `.updated`,
`.deleted`, `inbox.reset`, each with the unread count); the protocol is the `TicketView` schema's description.
"""

SECURITY_SCHEMES = {"bearer": {
    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
    "description": "The `Authorization: Bearer <JWT>` header: a user token (`sub`) or the tenant's server token "
                   "(no `sub`), signed with the tenant's key, or an identity provider's token (TENANT_JWKS)"}}

# Relative to the origin the document is served from; behind API Gateway's own URL, the stage's path.
SERVERS = [{"url": "{basePath}", "description": "This service, where this document is served",
            "variables": {"basePath": {"default": "/", "description": "`/` locally (`make dev`) and on a custom "
                                                                      "domain; `/api` on API Gateway's own URL"}}},
           {"url": "http://127.0.0.1:8000", "description": "`make dev` on this machine"}]


def _tags(surfaces: list[Surface], routes: list[tuple[Surface, Route]]) -> list[dict[str, Any]]:
    """Every operation tag, in the order of the surfaces: a group's own tag with its description, and the tags
    its routes narrow it to (the native API's Notifications, Inbox...)."""
    out: dict[str, dict[str, Any]] = {}
    for surface in surfaces:
        for s, route in routes:
            if s is surface and route.tag not in out:
                out[route.tag] = {"name": route.tag}
                if route.tag == surface.tag and surface.group.description:
                    out[route.tag]["description"] = surface.group.description
                elif route.tag != surface.tag:
                    out[route.tag]["description"] = f"{surface.tag}: {route.tag.lower()}"
    return list(out.values())


def build(surfaces: list[Surface]) -> dict[str, Any]:
    routes = [(s, r) for s in surfaces for r in s.routes() if r.documented]
    _, top = models_json_schema([(m, "validation") for m in _models(surfaces, routes)],
                                ref_template="#/components/schemas/{model}")
    paths: dict[str, Any] = {}
    for surface, route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = operation(surface, route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Inbox notifications API", "version": "1.0.0", "description": DESCRIPTION},
        "servers": SERVERS,
        "tags": _tags(surfaces, routes),
        "paths": paths,
        "components": {"schemas": top.get("$defs", {}), "responses": _fallback_responses(surfaces),
                       "securitySchemes": SECURITY_SCHEMES},
    }


def _response(description: str, model: Any, xml: bool, headers: Any) -> dict[str, Any]:
    """One documented response: its description, body schema (JSON, and XML where the route has it), headers."""
    entry: dict[str, Any] = {"description": description}
    content = _content(model, xml)
    if content:
        entry["content"] = content
    if headers:
        entry["headers"] = _headers(headers)
    return entry
