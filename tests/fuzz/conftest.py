"""The in-process fuzz target: the Chalice app behind a WSGI adapter (tests/fuzz/wsgi.py) on a fresh
in-process moto, seeded through the API (tests/fuzz/harness.py)."""
from __future__ import annotations

import json
import time

import pytest

from tests.conftest import reset_process_caches
from tests.fuzz.harness import (STATS, documented_operations, report_at_end, seed_data, served_document,
                                server_headers, wsgi_app)


@pytest.fixture(scope="package")
def fuzz_app(pytestconfig):
    """The WSGI app on a fresh in-process moto, seeded; one for tests/fuzz (package scope: moto's mock
    must end before the integration tier, whose boto3 calls go to DynamoDB Local)."""
    from moto import mock_aws

    mp = pytest.MonkeyPatch()
    mp.delenv("DYNAMODB_ENDPOINT", raising=False)
    with mock_aws():
        reset_process_caches()
        from chalicelib.store.bootstrap import ensure_tables

        ensure_tables()
        wsgi = wsgi_app()

        def request(method, path, body):
            r = wsgi.request(method, path, headers=server_headers(),
                             body=json.dumps(body).encode() if body is not None else b"")
            return r.status_code, json.loads(r.body) if r.body else None

        seed_data(request)
        STATS.documented = documented_operations(served_document())
        STATS.started = time.monotonic()
        report_at_end(pytestconfig, STATS)
        yield wsgi
    reset_process_caches()
    mp.undo()

