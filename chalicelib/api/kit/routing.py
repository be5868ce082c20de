"""Route tables: a RouteGroup per surface (its prefix, OpenAPI tag and error shaper) builds its Routes, so a
surface names its tag and error shape once, and a Surface pairs a group with the function listing its routes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from pydantic import BaseModel

if TYPE_CHECKING:
    from chalice import Response

    from chalicelib.api.http import Call
    from chalicelib.domain.errors import DomainError

ErrorShaper = Callable[["DomainError", int], "Response"]
Handler = Callable[["Call"], "Response"]

STRING: Mapping[str, Any] = {"type": "string"}


@dataclass(frozen=True)
class Param:
    """A documented query parameter, path parameter or request header: its JSON Schema and examples.
    Documentation only: handlers read the raw strings and validate them with the kit's parsers."""

    name: str
    description: str = ""
    schema: Mapping[str, Any] = field(default_factory=lambda: dict(STRING))
    examples: tuple[Any, ...] = ()
    empty_is_absent: bool = True  # a query parameter given empty (`?limit=`) means its default


@dataclass(frozen=True)
class Reply:
    """A documented response other than the route's `success_status` and its errors (a 202 for work
    that continues later, a 304, a 201 for a created resource): `model` None means no body."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    headers: tuple[str, ...] = ()  # names from openapi.RESPONSE_HEADERS


@dataclass(frozen=True)
class Link:
    """An OpenAPI link from a response of this route to another operation: `parameters` maps the
    target's parameter names to runtime expressions such as `$response.body#/notifications/0/id`."""

    name: str
    operation_id: str
    parameters: Mapping[str, str]
    status: int | None = None  # None: the route's success_status
    description: str = ""
    request_body: Any = None


@dataclass
class Route:
    path: str
    method: str
    handler: Handler
    name: str
    summary: str
    tag: str
    errors: ErrorShaper
    auth: bool = True
    request_model: type[BaseModel] | None = None
    response_model: type[BaseModel] | None = None
    success_status: int = 200
    # Documented query parameters: Param, or (name, description) for a free-form string.
    query_params: list[Param | tuple[str, str]] = field(default_factory=list)
    documented: bool = True  # False: a fallback (405, unknown path) that the OpenAPI document leaves out
    # ---- OpenAPI only (the handler never reads these) ----
    path_params: list[Param] = field(default_factory=list)  # overrides openapi.PATH_PARAMS by name
    headers: list[Param] = field(default_factory=list)  # request headers the route reads
    success_headers: tuple[str, ...] = ()  # response headers of the success status
    replies: list[Reply] = field(default_factory=list)
    # Error statuses the route can answer; None: derived from what it takes (see openapi.error_statuses).
    error_statuses: tuple[int, ...] | None = None
    request_examples: Mapping[str, Any] = field(default_factory=dict)  # name -> a request body
    links: list[Link] = field(default_factory=list)
    xml: bool = False  # also answers application/xml (api3's format=xml)
    # A success body that is not JSON: a string of this media type (or of one of these), e.g. a script.
    media_type: str | tuple[str, ...] | None = None


@dataclass(frozen=True)
class RouteGroup:
    """One API surface (the native API, a dialect, the service's own routes): where its paths start, its
    OpenAPI tag (and the tag's description), and how it shapes every error, 401, 404 and 405 included."""

    name: str
    prefix: str  # the first path segment, e.g. "/spark"; "" for the service's root routes
    tag: str
    errors: ErrorShaper
    error_model: type[BaseModel] | None = None  # the body of every error it answers (OpenAPI)
    error_xml: bool = False  # errors also come as application/xml (api3's format=xml)
    description: str = ""  # the tag's description in the OpenAPI document

    def route(self, path: str, method: str, handler: Handler, name: str, summary: str, *, tag: str | None = None,
              **options: Any) -> Route:
        """A route of this group: tagged and shaped as the group is (`tag` narrows the tag, e.g. the
        native API's "Inbox"), its path under the group's prefix."""
        if self.prefix and not (path == self.prefix or path.startswith(self.prefix + "/")):
            raise ValueError(f"{path} is outside the {self.name} surface ({self.prefix})")
        return Route(path, method, handler, name, summary, tag or self.tag, self.errors, **options)


@dataclass(frozen=True)
class Surface:
    """A route group and the function listing its routes: what surfaces.py lists, app.py registers and
    openapi.py documents."""

    group: RouteGroup
    routes: Callable[[], list[Route]]

    # The group's fields, read through the surface (fallback routes, the document, the fuzzer's checks).
    @property
    def name(self) -> str:
        return self.group.name

    @property
    def prefix(self) -> str:
        return self.group.prefix

    @property
    def tag(self) -> str:
        return self.group.tag

    @property
    def errors(self) -> ErrorShaper:
        return self.group.errors

    @property
    def error_model(self) -> type[BaseModel] | None:
        return self.group.error_model

    @property
    def error_xml(self) -> bool:
        return self.group.error_xml
