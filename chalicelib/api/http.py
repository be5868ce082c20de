"""Request plumbing shared by every surface: the route table, parsing, responses, errors."""
from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, TypeVar

from chalice import Response
from pydantic import BaseModel, ValidationError

from chalicelib.auth.tokens import from_context
from chalicelib.domain.errors import DomainError, InvalidInput, Unauthorized
from chalicelib.domain.principal import Caller

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

MAX_BODY = 1024 * 1024

# The current request's query string, for error shapers that answer in the format a client asked for
# (api3's `format=xml`), including errors raised before the handler runs (401s).
_current_query: ContextVar[dict[str, list[str]]] = ContextVar("current_query", default={})


def request_query() -> dict[str, list[str]]:
    """The query parameters of the request being handled (empty outside a request)."""
    return _current_query.get()
# Bodies are parsed as JSON whatever the client labels them (curl's default is form-encoded).
BODY_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "application/xml",
              "text/xml"]


@dataclass
class Call:
    """What a handler gets: who is calling and what they sent, without Chalice types."""

    caller: Caller | None
    params: dict[str, str]
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes | None
    method: str = "GET"

    def q(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    def json(self, required: bool = True) -> Any:
        if not self.body:
            if required:
                raise InvalidInput("invalid_body", "request body must be a JSON object", "body")
            return {}
        if len(self.body) > MAX_BODY:
            raise InvalidInput("body_too_large", f"request body must be at most {MAX_BODY} bytes", "body")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput("invalid_json", f"request body is not valid JSON: {exc}", "body") from None
        except RecursionError:  # hostile nesting (e.g. 5,000 nested arrays) must be a 400, not a 500
            raise InvalidInput("invalid_json", "request body is nested too deeply", "body") from None

    def require_caller(self) -> Caller:
        if self.caller is None:
            raise Unauthorized("unauthorized", "missing or invalid bearer token")
        return self.caller


ErrorShaper = Callable[[DomainError, int], Response]


@dataclass
class Route:
    path: str
    method: str
    handler: Callable[[Call], Response]
    name: str
    summary: str
    tag: str
    errors: ErrorShaper
    auth: bool = True
    request_model: type[BaseModel] | None = None
    response_model: type[BaseModel] | None = None
    success_status: int = 200
    query_params: list[tuple[str, str]] = field(default_factory=list)  # (name, description)


STATUS_BY_KIND = {"invalid": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404, "conflict": 409,
                  "too_large": 413}


def status_for(exc: DomainError) -> int:
    return STATUS_BY_KIND.get(exc.kind, 400)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return Response(body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
                    status_code=status, headers=all_headers)


def empty_response(status: int = 204) -> Response:
    return Response(body="", status_code=status, headers={})


_SCALAR_TAGS = {"str", "int", "float", "bool", "list", "dict", "none"}


def _model_names(model: type[BaseModel], seen: set[str] | None = None) -> set[str]:
    """Names of the models reachable from `model`'s fields (pydantic uses them as union tags in `loc`)."""
    import typing

    seen = seen if seen is not None else set()

    def walk(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp.__name__ not in seen:
                seen.add(tp.__name__)
                for f in tp.model_fields.values():
                    walk(f.annotation)
            return
        for arg in typing.get_args(tp):
            walk(arg)

    for f in model.model_fields.values():
        walk(f.annotation)
    return seen


def _field_path(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """pydantic's error location as the client's field path: no list indices, and no union-member tags
    (`expiresAt.str`, `attachment.UrlAttachment.url`, `metadata.a.bool`) that name our types, not theirs."""
    names = _model_names(model)
    out = []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            continue
        text = str(part)
        if i > 0 and (text in _SCALAR_TAGS or text in names or "[" in text):
            continue
        out.append(text)
    return out


def parse(model: type[M], data: Any, field_names: Mapping[str, str] | None = None) -> M:
    """Validate with pydantic; the first error becomes a 400 naming the field and the rule."""
    if not isinstance(data, dict):
        raise InvalidInput("invalid_body", "request body must be a JSON object", "body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = _field_path(model, first["loc"])
        loc = ".".join(path) or "body"
        top = path[0] if path else "body"
        shown = (field_names or {}).get(top, loc)
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown field"
        raise InvalidInput("invalid_field", f"{shown}: {message}", shown) from None


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str | None, field_name: str) -> int | None:
    """ISO 8601 or epoch seconds/milliseconds → epoch ms."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if number != number or number in (float("inf"), float("-inf")):  # nan, inf, 1e400
            raise InvalidInput("invalid_time", f"{field_name} must be an ISO 8601 time or epoch seconds",
                               field_name)
        return int(number * 1000) if number < 1e11 else int(number)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("invalid_time", f"{field_name} must be an ISO 8601 time or epoch seconds",
                           field_name) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


def make_view(app, route: Route) -> Callable[..., Response]:
    """A Chalice view for `route`: builds a Call, runs the handler, shapes every error."""

    def view(**params: str) -> Response:
        request = app.current_request
        query: dict[str, list[str]] = {}
        if request.query_params:
            for key in request.query_params:
                query[key] = list(request.query_params.getlist(key))
        _current_query.set(query)
        try:
            caller = None
            if route.auth:
                context = (request.context or {}).get("authorizer") or {}
                if context.get("authError") or not context.get("tenant"):
                    raise Unauthorized("unauthorized", context.get("authError") or "missing bearer token")
                caller = from_context(context)
            call = Call(caller=caller, params=dict(params), query=query, headers=dict(request.headers or {}),
                        body=request.raw_body, method=request.method)
            return route.handler(call)
        except DomainError as exc:
            return route.errors(exc, status_for(exc))
        except Exception:  # noqa: BLE001 - never leak internals; logged for operators
            log.exception("unhandled error in %s %s", route.method, route.path)
            return route.errors(DomainError("internal_error", "internal error; the request may be retried"), 500)

    view.__name__ = route.name
    return view
