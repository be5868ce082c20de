"""Greedy `{proxy+}` routes for Chalice's local gateway (`chalice local`, `chalice.test.Client`).

API Gateway matches `/spark/{proxy+}` against any deeper unknown path (`/spark/v2/x/y`); Chalice's
local `RouteMatcher` only matches routes with as many segments as the path. Without this the
catch-alls that answer an unknown path with a 404 in its surface's shape would work on AWS only.
Dev tooling: the runtime and the tests install it; Lambda never imports it.
"""
from __future__ import annotations

from chalice import local

GREEDY = "/{proxy+}"
_original = local.RouteMatcher.match_route


def _match_route(self: local.RouteMatcher, url: str) -> local.MatchResult:
    try:
        return _original(self, url)
    except ValueError:
        parsed = local.urlparse(url)
        path = parsed.path.rstrip("/") or "/"
        greedy = sorted((r for r in self.route_urls if r.endswith(GREEDY)), key=len, reverse=True)
        for route in greedy:
            prefix = route[: -len(GREEDY)]
            if path.startswith(prefix + "/") and len(path) > len(prefix) + 1:
                return local.MatchResult(route, {"proxy": path[len(prefix) + 1:]},
                                         local.parse_qs(parsed.query, keep_blank_values=True))
        raise


def install() -> None:
    """Idempotent: patch Chalice's local route matcher to understand greedy routes."""
    local.RouteMatcher.match_route = _match_route  # type: ignore[method-assign]
