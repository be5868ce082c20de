"""Request plumbing shared by every surface: the Call a handler gets, body parsing, responses, the Chalice view
(token, errors, CORS) and the 405 and unknown-path fallbacks. The route table's types are in kit/routing.py."""
from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import unquote

from chalice import Response
from pydantic import BaseModel, ValidationError

from chalicelib.api import cors
from chalicelib.api.kit.routing import Route, Surface
from chalicelib.auth.tokens import verify
from chalicelib.domain.errors import DomainError, InvalidInput, MethodNotAllowed, NotFound, UnsupportedMediaType
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
# Bodies are parsed as JSON whatever of these the client labels them (curl's default is form-encoded);
# any other Content-Type on a route that reads a body is a 415 in the surface's error shape.
BODY_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "application/xml",
              "text/xml"]
# What app.py lets Chalice through: every Content-Type, so that make_view (not Chalice, in its own
# {"Code", "Message"} shape, on every route) decides.
ANY_CONTENT_TYPE = ["*/*"]


def acceptable_content_type(header: str | None) -> bool:
    """Chalice's rule for BODY_TYPES: no header means JSON; otherwise one of its types (parameters and
    case ignored) or */*."""
    if header is None:
        return True
    parts = {part.strip().lower() for part in re.split("[,;]", header)}
    return "*/*" in header or bool(parts & set(BODY_TYPES))


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
            # Strict UTF-8: json.loads(bytes) would decode with 'surrogatepass' and let encoded
            # surrogates through as unencodable strings.
            text = self.body.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            raise InvalidInput("invalid_json", "request body is not valid UTF-8", "body") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInput("invalid_json", f"request body is not valid JSON: {exc}", "body") from None
        except RecursionError:  # hostile nesting (e.g. 5,000 nested arrays) must be a 400, not a 500
            raise InvalidInput("invalid_json", "request body is nested too deeply", "body") from None
        if _SURROGATE_ESCAPE.search(text):
            refuse_unpaired_surrogates(data)
        return data

    def require_caller(self) -> Caller:
        if self.caller is None:  # only routes declared auth=False run without a verified caller
            raise AssertionError("route declared auth=False asks for a caller")
        return self.caller


# ---- strings every response can encode ------------------------------------------------------------

# A JSON escape of a UTF-16 surrogate (`\ud800`..`\udfff`): the only way a request body can carry
# a surrogate into a Python str once the bytes are decoded strictly.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def refuse_unpaired_surrogates(data: Any, path: tuple[str, ...] = ()) -> None:
    """400 naming the first field whose string holds an unpaired surrogate (`"\\ud800"`): such a
    string cannot be stored (DynamoDB takes UTF-8) nor written back in a UTF-8 response."""
    if isinstance(data, str):
        if _has_surrogate(data):
            field = ".".join(path) or "body"
            raise InvalidInput("invalid_field", f"{field}: must not contain unpaired UTF-16 surrogates "
                                                "(\\ud800-\\udfff escapes that are not part of a pair)", field)
    elif isinstance(data, list):
        for item in data:
            refuse_unpaired_surrogates(item, path)
    elif isinstance(data, dict):
        for key, value in data.items():
            if _has_surrogate(key):
                refuse_unpaired_surrogates(key, path)
            refuse_unpaired_surrogates(value, path + (key,))


def dumps(body: Any) -> str:
    """Compact JSON, UTF-8 encodable whatever it holds: an unpaired surrogate (in data stored
    before the edge refused them) is written as U+FFFD rather than failing the response."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub("\ufffd", text)
    return text


STATUS_BY_KIND = {"invalid": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404,
                  "method_not_allowed": 405, "conflict": 409, "too_large": 413, "unsupported_media_type": 415}


def status_for(exc: DomainError) -> int:
    return STATUS_BY_KIND.get(exc.kind, 400)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return Response(body=dumps(body), status_code=status, headers=all_headers)


def empty_response(status: int = 204) -> Response:
    return Response(body="", status_code=status, headers={})


def not_modified(call: Call, etag: str, headers: dict[str, str]) -> Response | None:
    """A 304 with `headers` when the request's If-None-Match names `etag` (or is `*`), else None."""
    header = call.header("If-None-Match")
    if header and (header.strip() == "*" or etag in [t.strip() for t in header.split(",")]):
        return Response(body="", status_code=304, headers=headers)
    return None


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


class InvalidField(InvalidInput):
    """A body field that fails its model: `rule` is pydantic's error type (missing, extra_forbidden,
    string_too_long...), for a dialect that words each rule its own way (Spark)."""

    def __init__(self, message: str, field: str, rule: str) -> None:
        super().__init__("invalid_field", message, field)
        self.rule = rule


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
        raise InvalidField(f"{shown}: {message}", shown, first["type"]) from None


def decode_path_params(params: Mapping[str, str]) -> dict[str, str]:
    """Path parameters percent-decoded once (neither Chalice nor API Gateway's REST API decode
    them): `ann%2Bx%40example.com` is the user `ann+x@example.com` on every surface."""
    out = {}
    for name, raw in params.items():
        try:
            out[name] = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            raise InvalidInput("invalid_path", f"{name}: percent-encoding is not valid UTF-8", name) from None
    return out


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _bearer(headers: Mapping[str, str]) -> str | None:
    return _header(headers, "authorization")


def make_view(app, route: Route) -> Callable[..., Response]:
    """A Chalice view for `route`: verifies the bearer token (in the app, so every 401 is shaped by
    its surface and a request costs one invocation), builds a Call, runs the handler, shapes every error,
    and adds the CORS headers for the request's origin to whatever it answers."""

    def view(**params: str) -> Response:
        headers = dict(app.current_request.headers or {})
        return cors.decorate(respond(headers, params), _header(headers, "origin"))

    def respond(headers: dict[str, str], params: dict[str, str]) -> Response:
        request = app.current_request
        query: dict[str, list[str]] = {}
        if request.query_params:
            for key in request.query_params:
                query[key] = list(request.query_params.getlist(key))
        _current_query.set(query)
        try:
            if route.request_model is not None:  # a route reads a body iff it documents one
                content_type = _header(headers, "content-type")
                if not acceptable_content_type(content_type):
                    raise UnsupportedMediaType("unsupported_media_type",
                                               f"Content-Type {content_type!r} is not supported: send JSON "
                                               "(application/json)", "Content-Type")
            caller = verify(_bearer(headers)) if route.auth else None
            call = Call(caller=caller, params=decode_path_params(params), query=query, headers=headers,
                        body=request.raw_body, method=request.method)
            return route.handler(call)
        except DomainError as exc:
            response = route.errors(exc, status_for(exc))
            if response.status_code == 401:
                response.headers.setdefault("WWW-Authenticate", 'Bearer realm="notifications"')
            if isinstance(exc, MethodNotAllowed):
                response.headers.setdefault("Allow", exc.allowed)
            return response
        except Exception:  # noqa: BLE001 - never leak internals; logged for operators
            log.exception("unhandled error in %s %s", route.method, route.path)
            return route.errors(DomainError("internal_error", "internal error; the request may be retried"), 500)

    view.__name__ = route.name
    return view


# ---- fallbacks: 405 for a known path, 404 for an unknown one, in the surface's own shape -----------

# Every method API Gateway can route to the app (it refuses others, e.g. TRACE, itself).
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
GREEDY = "{proxy+}"


def fallback_routes(routes: list[Route], surfaces: list[Surface]) -> list[Route]:
    """A 405 route for every method a path does not serve, and a greedy catch-all under each
    surface's prefix (a surface with the prefix "" catches the rest) answering 404: without them
    Chalice answers 405 in its own shape and API Gateway answers an unknown path with a 403 that
    echoes the Authorization header."""
    by_path: dict[str, list[Route]] = {}
    for r in routes:
        by_path.setdefault(r.path, []).append(r)
    out: list[Route] = []
    for path, served in by_path.items():
        allowed = ", ".join(sorted({r.method for r in served}))
        for method in METHODS:
            if method in {r.method for r in served}:
                continue
            handler = _method_not_allowed(allowed)
            out.append(Route(path, method, _preflight_or(handler, allowed) if method == "OPTIONS" else handler,
                             f"{served[0].name}_{method.lower()}_405", "405 Method Not Allowed", served[0].tag,
                             served[0].errors, auth=False, documented=False))
    for surface in surfaces:
        path = f"{surface.prefix}/{GREEDY}"
        for method in METHODS:
            # A preflight to an unknown path is answered too, so the page can read the 404 that follows.
            handler = _preflight_or(_no_route, ANY_METHOD) if method == "OPTIONS" else _no_route
            out.append(Route(path, method, handler, f"{surface.name}_{method.lower()}_unknown_path",
                             "404 Not Found", surface.tag, surface.errors, auth=False, documented=False))
    return out


ANY_METHOD = ", ".join(m for m in METHODS if m not in ("HEAD", "OPTIONS"))


def _preflight_or(handler: Callable[[Call], Response], allowed: str) -> Callable[[Call], Response]:
    """A path's OPTIONS: a browser's CORS preflight is answered (cors.preflight); any other OPTIONS
    request goes to `handler` (405 with Allow, or the unknown path's 404)."""
    def options(call: Call) -> Response:
        if cors.is_preflight(call.method, call.headers):
            return cors.preflight(call.header("Origin"), allowed)
        return handler(call)

    return options


def _method_not_allowed(allowed: str) -> Callable[[Call], Response]:
    def handler(call: Call) -> Response:
        raise MethodNotAllowed(f"method {call.method} is not allowed here (allowed: {allowed})", allowed)

    return handler


def _no_route(call: Call) -> Response:
    raise NotFound("not_found", "no resource at this path", "path")
