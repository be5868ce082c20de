"""The surfaces share one kit and depend on each other in one direction only.

- No dialect imports another dialect, the native API, the list of surfaces or the service routes, directly or
  through anything it imports; the kit imports no surface; openapi.py imports no surface (the list of surfaces
  hands it what it documents).
- One integer query parser for every surface: ASCII digits only, one message, each surface's error body.
- Dialect error codes are carried as data: a DialectError's code is what its body says, whatever the message.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from chalicelib.api.dialects import cord, spark
from chalicelib.api.kit.errors import DialectError, ErrorCodes
from chalicelib.api.kit.parsers import parse_filter, priority
from chalicelib.api.surfaces import SURFACES
from chalicelib.auth.tokens import EXPIRED, MISSING, TokenRefused
from chalicelib.domain.errors import InvalidInput, NotFound
from tests.conftest import Api, auth

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "chalicelib" / "api"
DIALECTS = sorted(p.stem for p in (API / "dialects").glob("*.py") if p.stem != "__init__")
SURFACE_MODULES = ("chalicelib.api.native", "chalicelib.api.dialects", "chalicelib.api.surfaces",
                   "chalicelib.api.service", "chalicelib.api.routes")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (absolute names; `from x import y` counts as x and x.y)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_every_dialect_is_listed_explicitly():
    assert DIALECTS == ["api3", "cord", "spark", "threatconnect"]
    assert [s.name for s in SURFACES] == ["service", "native", "threatconnect", "cord", "api3", "spark"]
    text = (API / "surfaces.py").read_text(encoding="utf-8")
    assert "pkgutil" not in text and "import_module" not in text and "__import__" not in text


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_dialect_imports_no_other_surface(dialect):
    own = f"chalicelib.api.dialects.{dialect}"
    for name in imported_modules(API / "dialects" / f"{dialect}.py"):
        if under(name, "chalicelib.api.dialects"):
            assert under(name, own), f"{dialect} imports {name}"
        for forbidden in ("chalicelib.api.native", "chalicelib.api.surfaces", "chalicelib.api.service",
                          "chalicelib.api.routes", "chalicelib.api.schemas", "chalicelib.api.openapi"):
            assert not under(name, forbidden), f"{dialect} imports {name}"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_nothing_a_dialect_imports_brings_another_surface(dialect):
    """In a fresh interpreter: importing the dialect loads no other dialect and nothing of the native API."""
    code = (f"import json, sys; import chalicelib.api.dialects.{dialect}; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('chalicelib.api'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    others = [m for m in loaded if any(under(m, p) for p in SURFACE_MODULES)
              and m not in ("chalicelib.api.dialects", f"chalicelib.api.dialects.{dialect}")]
    assert others == [], f"importing {dialect} loads {others}"


def test_the_kit_and_the_document_builder_import_no_surface():
    for path in [*(API / "kit").glob("*.py"), API / "openapi.py", API / "http.py"]:
        for name in imported_modules(path):
            assert not any(under(name, p) for p in SURFACE_MODULES), f"{path.name} imports {name}"


def test_native_modules_do_one_job_each():
    modules = sorted(p.stem for p in (API / "native").glob("*.py"))
    assert {"errors", "views", "etags", "sends", "inbox", "users", "members", "routes"} <= set(modules)
    for path in (API / "native").glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 150, path.name


# ---- route groups --------------------------------------------------------------------------------

def test_each_surface_has_its_own_tag_and_error_shape():
    groups = [s.group for s in SURFACES]
    assert len({g.tag for g in groups}) == len(groups)
    for surface in SURFACES:
        for route in surface.routes():
            assert route.errors is surface.errors, route.name
            assert route.path.startswith(surface.prefix), route.name
            if surface.name != "native":  # the native API narrows its tag per resource
                assert route.tag == surface.tag, route.name


def test_a_group_refuses_a_path_outside_its_prefix():
    with pytest.raises(ValueError):
        spark.GROUP.route("/cord/v1/x", "GET", lambda call: None, "x", "x")


# ---- one integer parser --------------------------------------------------------------------------

INTEGER_PARAMS = [
    # (path, parameter, lowest, highest, token)
    ("/v1/users/me/notifications", "limit", 1, 100, auth("dev", "alice")),
    ("/v1/organizations/acme/members", "limit", 1, 100, auth("dev")),
    ("/spark/v1/notifications", "_limit", 1, 25, auth("dev", "alice", roles=["Private"])),
    ("/spark/v1/notifications", "_page", 1, 100_000, auth("dev", "alice", roles=["Private"])),
    ("/api3/notification", "page_size", 1, 100, auth("dev", "alice", roles=["admin"])),
    ("/api3/notification", "page", 1, 999_999_999, auth("dev", "alice", roles=["admin"])),
]


def _message(path: str, body: dict) -> str:
    if path.startswith("/spark/"):
        assert body["D"]["Code"] == 1053, body
        return body["D"]["Message"]
    return body["message"]


@pytest.mark.parametrize("path,name,lo,hi,headers", INTEGER_PARAMS, ids=[f"{p}?{n}" for p, n, *_ in INTEGER_PARAMS])
@pytest.mark.parametrize("value", ["\u0663", "1_0", "1.0", "x", " ", "0x10", "1e2", "9" * 13, "-1", "{hi}1"])
def test_one_integer_parser_everywhere(client, path, name, lo, hi, headers, value):
    value = value.replace("{hi}", str(hi))
    r = Api(client, headers).get(f"{path}?{name}={quote(value)}")
    assert r.status_code == 400, (value, r.body)
    assert _message(path, r.data) == f"{name} must be a whole number from {lo} to {hi}"


@pytest.mark.parametrize("path,name,lo,hi,headers", INTEGER_PARAMS, ids=[f"{p}?{n}" for p, n, *_ in INTEGER_PARAMS])
def test_integer_bounds_and_empty_value(client, path, name, lo, hi, headers):
    api = Api(client, headers)
    for value in ("", str(lo), "+1"):
        assert api.get(f"{path}?{name}={quote(value)}").status_code == 200, value


def test_priority_and_filter_parsers():
    assert priority(" HIGH ").label == "high"
    with pytest.raises(InvalidInput) as exc:
        priority("urgent", "minPriority")
    assert exc.value.field == "minPriority"
    assert parse_filter('{"organizationID": "o"}') == {"organization_id": "o"}
    assert parse_filter("%7B%22metadata%22%3A%7B%22a%22%3A1%7D%7D") == {"metadata": {"a": 1}}


# ---- dialect error codes are data ----------------------------------------------------------------

def test_a_dialect_error_carries_its_code():
    codes = ErrorCodes(by_kind={"not_found": "nf"}, default="bad", internal="boom", by_code={"x": "kept"},
                       by_reason={MISSING: "no_token"})
    assert codes.code(DialectError("own", "the message says invalid_user_id"), 400) == "own"
    assert codes.code(InvalidInput("invalid_user_id", "x"), 400) == "bad"  # the message is never read
    assert codes.code(InvalidInput("x", "y"), 400) == "kept"
    assert codes.code(NotFound("z", "y"), 404) == "nf"
    assert codes.code(TokenRefused(MISSING, "m"), 401) == "no_token"
    assert codes.code(InvalidInput("x", "y"), 500) == "boom"


def test_cord_and_spark_codes_do_not_depend_on_messages():
    body = json.loads(cord.error_response(InvalidInput("invalid_filter", "invalid_user_id"), 400).body)
    assert body == {"error": "invalid_request", "message": "invalid_user_id"}
    body = json.loads(cord.error_response(DialectError("invalid_user_id", "anything", "unauthorized"), 401).body)
    assert body["error"] == "invalid_user_id"
    assert json.loads(cord.error_response(TokenRefused(MISSING, "m"), 401).body)["error"] == \
        "missing_authorization_header"
    body = json.loads(spark.errors(InvalidInput("invalid_json", "POST data"), 400).body)
    assert body["D"]["Code"] == 1035
    assert json.loads(spark.errors(TokenRefused(EXPIRED, "m"), 401).body)["D"]["Code"] == 1020
    assert json.loads(spark.errors(InvalidInput("other", "invalid_json"), 400).body)["D"]["Code"] == 1053
