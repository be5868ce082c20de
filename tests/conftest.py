"""Shared fixtures: moto in-process for unit tests, tokens, a Chalice test client."""
from __future__ import annotations

import dataclasses
import json
import os

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
})
os.environ["FANOUT_PARALLELISM"] = "1"  # moto in-process: transactions are not thread-safe
os.environ["TABLE_PREFIX"] = "notifications-dev"  # what the dev stage sets during test-client calls
os.environ["REALTIME_WEBSOCKET_URL"] = "ws://127.0.0.1:9"  # the realtime ticket route hands out this socket URL
os.environ["TENANT_KEYS"] = json.dumps({"dev": "dev-signing-key-change-me-0123456789abcdef",
                                        "acme": "acme-key-0123456789abcdef0123456789",
                                        "other": "other-key-0123456789abcdef012345678"})

import pytest  # noqa: E402

from notifications.local import routing  # noqa: E402

routing.install()  # the test client matches greedy {proxy+} routes as API Gateway does

from tests import iam_recorder  # noqa: E402

# Every DynamoDB/Streams/SQS call each function makes in this session, checked against its IAM
# role by tests/infra/test_iam_recorded.py (which runs last). IAM_RECORD=0 turns it off.
iam_recorder.install()


def pytest_configure(config):
    config.addinivalue_line("markers", "last: run after every other test of the session")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)  # stable: order kept otherwise


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if iam_recorder.REPORT:
        terminalreporter.write_sep("-", "IAM: recorded calls per function vs. the template's roles")
        for line in iam_recorder.REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def fresh_settings():
    """Settings are built once per process (chalicelib.settings): each test starts from the environment as
    it is, and after it (once monkeypatch has put the environment back) the next one does too. A test that
    changes the environment after the settings were built calls `reset_settings()` itself."""
    from chalicelib.settings import reset_settings

    reset_settings()
    yield
    reset_settings()


@pytest.fixture(autouse=True)
def service_output():
    """The service's own lines (a JSON log line per request and batch, EMF metric lines) of in-process
    calls, collected apart from the test's stdout, where the operator CLI writes while the app runs in the
    same process. Lambda and `notifications dev` write them to stdout."""
    import io

    from chalicelib import logs

    buffer = io.StringIO()
    logs.redirect_output(buffer)
    yield buffer
    logs.redirect_output(None)


def reset_process_caches() -> None:
    from chalicelib.domain import directory, inbox

    directory._registered.clear()
    inbox._body_cache.clear()


@pytest.fixture
def aws(monkeypatch):
    """A fresh in-process moto DynamoDB (and SQS) with every table and queue created."""
    from moto import mock_aws

    from notifications.local import moto_engine

    monkeypatch.delenv("DYNAMODB_ENDPOINT", raising=False)
    from chalicelib.settings import reset_settings

    reset_settings()
    # The dev engine's shim: moto's own TransactWriteItems deep-copies every table it names, stream
    # records included, so a fan-out test's transactions cost more the more it has written.
    with moto_engine.patched(), mock_aws():
        reset_process_caches()
        from chalicelib.store.bootstrap import ensure_tables
        from chalicelib.store.work_queue import ensure_queues

        ensure_tables()
        monkeypatch.setenv("WORK_QUEUE_URL", ensure_queues())  # as the stack sets it
        reset_settings()
        yield
    reset_process_caches()


@pytest.fixture
def client(aws):
    from chalice.test import Client

    from app import app

    with Client(app) as test_client:
        yield test_client


def token(tenant: str = "dev", user: str | None = None, roles=(), **kw) -> str:
    from chalicelib.auth.tokens import issue

    return issue(tenant, user=user, roles=list(roles), **kw)


@dataclasses.dataclass
class LambdaContext:
    """The Lambda context fields app.py's functions read (Powertools' inject_lambda_context)."""

    function_name: str = "notifications-dev-writer"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:writer"
    aws_request_id: str = "req-0123"


def auth(tenant: str = "dev", user: str | None = None, roles=(), **kw) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(tenant, user, roles, **kw)}", "Content-Type": "application/json"}


class Api:
    """Small JSON helper over Chalice's test client."""

    def __init__(self, client, headers: dict[str, str]):
        self.client = client
        self.headers = headers

    def _call(self, method: str, path: str, body=None, headers=None):
        h = dict(self.headers)
        h.update(headers or {})
        raw = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        response = getattr(self.client.http, method)(path, headers=h, body=raw)
        response.data = json.loads(response.body) if response.body else None
        return response

    def get(self, path, **kw):
        return self._call("get", path, **kw)

    def post(self, path, body=None, **kw):
        return self._call("post", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self._call("put", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self._call("patch", path, body, **kw)

    def delete(self, path, **kw):
        return self._call("delete", path, **kw)


@pytest.fixture
def server(client):
    return Api(client, auth("dev"))


@pytest.fixture
def as_user(client):
    def make(user: str, roles=(), tenant: str = "dev") -> Api:
        return Api(client, auth(tenant, user, roles))

    return make
