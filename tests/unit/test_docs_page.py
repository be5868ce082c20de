"""The /docs page: Swagger UI from the pinned openapi-ui-bundles package, every asset served by the service,
a Content-Security-Policy that allows nothing from another origin and no inline script."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from chalicelib.api import docs_ui

ROOT = Path(__file__).resolve().parents[2]


def get(client, path: str, headers: dict[str, str] | None = None):
    return client.http.get(path, headers=headers or {})


def test_the_page_loads_only_its_own_assets(client):
    r = get(client, "/docs")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    page = r.body.decode()
    assert "<script>" not in page  # no inline script: the start-up is docs/docs.js
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(urls) == ["data:,", "docs/docs.js", "docs/swagger-ui-bundle.js", "docs/swagger-ui.css"]
    for url in urls:
        if url.startswith("docs/"):
            assert get(client, "/" + url).status_code == 200, url


@pytest.mark.parametrize("name,media", [("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css"),
                                        ("docs.js", "text/javascript")])
def test_assets_are_served_and_revalidated(client, name, media):
    r = get(client, f"/docs/{name}")
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == media
    assert r.headers["Cache-Control"] == "public, max-age=86400"
    etag = r.headers["ETag"]
    again = get(client, f"/docs/{name}", {"If-None-Match": etag})
    assert again.status_code == 304 and again.body == b""


def test_the_bundle_is_the_pinned_swagger_ui(client):
    body = get(client, "/docs/swagger-ui-bundle.js").body.decode()
    assert 'PACKAGE_VERSION:"5.17.14"' in body
    for manifest in ("pyproject.toml", "requirements.txt"):
        assert "openapi-ui-bundles==0.3.0" in (ROOT / manifest).read_text(encoding="utf-8"), manifest


def test_the_start_up_script_reads_this_service_document(client):
    script = get(client, "/docs/docs.js").body.decode()
    assert 'url: "openapi.json"' in script and "validatorUrl: null" in script


@pytest.mark.parametrize("name", ["index.html", "favicon-32x32.png", "..%2Fopenapi.json", "docs.py", "x"])
def test_other_names_are_404_in_the_native_error_body(client, name):
    r = get(client, f"/docs/{name}")
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/json"
    assert set(r.json_body) <= {"error", "message", "field"} and r.json_body["error"] == "not_found"


def test_the_page_and_its_assets_are_documented():
    from chalicelib.api.surfaces import document

    paths = document()["paths"]
    assert set(paths["/docs"]["get"]["responses"]) == {"200", "304"}
    asset = paths["/docs/{asset}"]["get"]
    assert asset["parameters"][0]["schema"]["enum"] == sorted(docs_ui.ASSETS)
    assert set(asset["responses"]) == {"200", "304", "404"}
    assert "security" not in asset
