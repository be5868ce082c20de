"""The /docs page: Swagger UI rendering /openapi.json, with every asset served by the service itself (from the
pinned `openapi-ui-bundles` package, no CDN) under a Content-Security-Policy that lets the page load nothing
from anywhere else and run no inline script."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

# Swagger UI's own files (the package's vendor folder) and our start-up script; name -> media type.
BUNDLE_ASSETS = {"swagger-ui.css": "text/css; charset=utf-8",
                 "swagger-ui-bundle.js": "text/javascript; charset=utf-8"}
OWN_ASSETS = {"docs.js": "text/javascript; charset=utf-8"}
ASSETS = {**BUNDLE_ASSETS, **OWN_ASSETS}

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer"}

# Relative URLs: the page works at /docs and under an API Gateway stage (/api/docs) alike.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Inbox notifications API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/docs.js"></script>
</body>
</html>
"""


def _bundle_dir() -> Path:
    from openapi_ui_bundles import swagger_ui  # a runtime dependency (requirements.txt), imported when asked

    return Path(swagger_ui.static_path)


def _etag(text: str) -> str:
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


@lru_cache(maxsize=8)
def asset(name: str) -> tuple[str, str, str] | None:
    """An asset's text, media type and strong ETag, read once per process; None for any other name."""
    if name in BUNDLE_ASSETS:
        path = _bundle_dir() / name
    elif name in OWN_ASSETS:
        path = STATIC_DIR / name
    else:
        return None
    text = path.read_text(encoding="utf-8")
    return text, ASSETS[name], _etag(text)


def page() -> tuple[str, str]:
    """The page and its ETag."""
    return PAGE, _etag(PAGE)
