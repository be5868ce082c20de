"""The service's own routes at the root: /health, the OpenAPI document, the /docs page and its assets, and the
bell's script. Unauthenticated; errors (an unknown asset, an unknown path) in the native error body."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Literal

from chalice import Response
from pydantic import BaseModel

from chalicelib.api import docs_ui
from chalicelib.api.http import Call, json_response, not_modified
from chalicelib.api.kit.routing import Param, Reply, Route, RouteGroup, Surface
from chalicelib.api.native.errors import error_response
from chalicelib.api.schemas import ErrorBody
from chalicelib.domain.errors import NotFound

GROUP = RouteGroup("service", "", "Service", error_response, error_model=ErrorBody,
                   description="The service itself: liveness, this document and its /docs page, the bell's script")

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
BELL_SCRIPT = "notification-bell.js"


def health(call: Call) -> Response:
    return json_response({"status": "ok"})


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


def docs_page(call: Call) -> Response:
    """Swagger UI over /openapi.json; revalidated by ETag."""
    text, etag = docs_ui.page()
    headers = {**docs_ui.SECURITY_HEADERS, "Cache-Control": "public, max-age=300", "ETag": etag}
    return not_modified(call, etag, headers) or Response(
        body=text, status_code=200, headers={**headers, "Content-Type": "text/html; charset=utf-8"})


def docs_asset(call: Call) -> Response:
    """One of the page's assets (a pinned package's files: cached a day, then revalidated by ETag)."""
    found = docs_ui.asset(call.params["asset"])
    if found is None:
        raise NotFound("not_found", f"no asset {call.params['asset'][:64]!r} (assets: "
                                    f"{', '.join(sorted(docs_ui.ASSETS))})", "asset")
    text, media_type, etag = found
    headers = {**docs_ui.SECURITY_HEADERS, "Cache-Control": "public, max-age=86400", "ETag": etag}
    return not_modified(call, etag, headers) or Response(
        body=text, status_code=200, headers={**headers, "Content-Type": media_type})


class Health(BaseModel):
    status: Literal["ok"]


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


def surface(document: Callable[[], dict[str, Any]]) -> Surface:
    """The service surface; `document` builds the OpenAPI document of every surface (surfaces.py hands it in,
    so that neither this module nor openapi.py needs the list of surfaces)."""

    def openapi(call: Call) -> Response:
        return json_response(document())

    def routes() -> list[Route]:
        r = GROUP.route
        return [
            r("/health", "GET", health, "health", "Liveness", auth=False, response_model=Health, error_statuses=()),
            r("/openapi.json", "GET", openapi, "openapi", "This document", auth=False,
              response_model=OpenApiDocument, error_statuses=()),
            r("/docs", "GET", docs_page, "docs", "This document as a page (Swagger UI, served by the service)",
              auth=False, media_type="text/html", error_statuses=(),
              replies=[Reply(304, "Not Modified: the page has not changed since that ETag")]),
            r("/docs/{asset}", "GET", docs_asset, "docs_asset", "A file of the /docs page", auth=False,
              media_type=("text/css", "text/javascript"), error_statuses=(404,),
              path_params=[Param("asset", "The file's name", {"type": "string", "enum": sorted(docs_ui.ASSETS)},
                                 ("swagger-ui.css",))],
              replies=[Reply(304, "Not Modified: the file has not changed since that ETag")]),
            r(f"/static/{BELL_SCRIPT}", "GET", bell_script, "notification_bell_script",
              "The <notification-bell> web component (plain JavaScript; see the README)", auth=False,
              media_type="text/javascript", error_statuses=(),
              replies=[Reply(304, "Not Modified: the script has not changed since that ETag")]),
        ]

    return Surface(GROUP, routes)
