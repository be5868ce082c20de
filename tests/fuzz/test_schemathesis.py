"""Every documented operation of every surface, fuzzed from the served /openapi.json, in-process.

Checks (schemathesis's and tests/fuzz/checks.py's): no 5xx; every status documented, every body
matching the schema documented for that status and content type (api3's XML included), documented
response headers present; schema-invalid input refused with a 4xx; secured operations refuse a
missing or bad token with 401; methods a path does not serve answer 405 with Allow; every 4xx in the
error body of the surface asked. The stateful run follows the document's links (send → get / patch /
list → mark read → delete, Cord create → delete, Spark create → mark read, api3 list → get / delete).
"""
from __future__ import annotations

import pytest

from tests.fuzz.harness import (STATEFUL, STATS, check_case, load_schema, run_stateful, served_document,
                                wsgi_app)

schema = load_schema(served_document(), app=wsgi_app())


@schema.parametrize()
def test_every_operation(case, fuzz_app):
    check_case(case, STATS)


@pytest.mark.skipif(STATEFUL <= 0, reason="FUZZ_STATEFUL=0")
def test_stateful_links(fuzz_app):
    run_stateful(schema, STATS)
