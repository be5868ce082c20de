"""What the in-process fuzz run (tests/fuzz) and the one over real HTTP (tests/integration/test_fuzz_http.py)
share: the schemathesis configuration, the tokens each operation is called with, the data created first,
and the figures printed at the end.

`FUZZ_EXAMPLES` (default 15) is the number of generated examples per operation and phase,
`FUZZ_STATEFUL` (default 20) the number of stateful scenarios (up to 8 linked calls each); `make fuzz`
raises both. The seed is fixed (`FUZZ_SEED`) and generation derandomized: `make test` sends the same
requests every run.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

from tests.conftest import token

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
STATEFUL = int(os.environ.get("FUZZ_STATEFUL", "20"))
SEED = int(os.environ.get("FUZZ_SEED", "20240601"))
STEPS = 8

TENANT = "dev"
USERS = {"alice": "Alice Example", "bob": "Bob Example", "carol": "Carol Example", "jsmith": "John Smith",
         # the users Cord's seed examples name
         "123": "Alice Applegate", "456": "Bob Bloke", "789": "Carol Capable"}
MEMBERS = [("organizations", "acme", "alice", "Organization Administrator"),
           ("organizations", "acme", "bob", "Standard User"), ("organizations", "acme", "jsmith", "Standard User"),
           ("communities", "c1", "alice", "Director"), ("communities", "c1", "bob", "Subscriber")]


@dataclass
class Stats:
    label: str
    operations: set[str] = field(default_factory=set)
    cases: int = 0
    scenarios: int = 0
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    started: float | None = None
    documented: int = 0
    links: dict[str, int] = field(default_factory=dict)  # stateful transitions followed (with a value)
    recent: deque = field(default_factory=lambda: deque(maxlen=12))  # shown when a test fails

    def count(self, status: int, summary: str = "") -> None:
        self.requests += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1
        if summary:
            self.recent.append(summary)

    @contextmanager
    def reporting(self):
        """A failure (a stateful one names only its last request) also lists the last requests sent."""
        try:
            yield
        except BaseException as exc:
            if self.recent:
                exc.add_note("last requests:\n" + "\n".join(self.recent))
            raise

    def lines(self) -> list[str]:
        if self.started is None:
            return []
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_status.items()))
        return [f"{self.label}: {len(self.operations)} of {self.documented} operations, {self.cases} generated "
                f"cases, {self.scenarios} stateful scenarios, {self.requests} requests checked in "
                f"{time.monotonic() - self.started:.0f}s (FUZZ_EXAMPLES={EXAMPLES}, FUZZ_STATEFUL={STATEFUL}, "
                f"seed {SEED})",
                f"{self.label}: responses by status: {statuses}",
                f"{self.label}: {len(self.links)} links followed in stateful scenarios"
                + (f" ({', '.join(sorted(self.links))})" if self.links else "")]


STATS = Stats("fuzz in-process (moto)")
_WSGI = None


def wsgi_app():
    """The app behind the WSGI adapter (tests/fuzz/wsgi.py), one per process. The schema is loaded from it
    at collection: GET /openapi.json needs neither a token nor DynamoDB."""
    global _WSGI
    if _WSGI is None:
        from app import app
        from tests.fuzz.wsgi import ChaliceWSGI

        _WSGI = ChaliceWSGI(app, on_response=STATS.count)
    return _WSGI


def served_document() -> dict[str, Any]:
    """GET /openapi.json, as the app serves it."""
    response = wsgi_app().request("GET", "/openapi.json")
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def fuzz_config():
    from schemathesis import Config

    return Config.from_dict({
        "seed": SEED,
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none",
                       # the tokens come from `install_auth`, so `ignored_auth` can take them away
                       "with-security-parameters": False},
        "phases": {
            # The document's links only: links inferred from names (a native send's id into api3's DELETE)
            # make `ensure_resource_availability` read a deletion through another path as a lost resource.
            "stateful": {"max-steps": STEPS, "inference": {"algorithms": []}},
            # The methods API Gateway routes to the app; it refuses TRACE and the like itself.
            "coverage": {"unexpected-methods": ["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]},
        },
        "checks": {
            # Schema-valid data may still break a rule the schema cannot say (an unknown user, exactly one
            # of recipients/organization/community): a 400 for it is right.
            "positive_data_acceptance": {"enabled": False},
        },
    })


_TOKENS: dict[str, str] = {}


def bearer(case) -> str:
    """The token an operation is meant for: Spark's current user for Spark, a user token where a path
    says `me`, the tenant's server token everywhere else (it may name any user, owner or id)."""
    if not _TOKENS:
        _TOKENS.update({"server": token(TENANT), "alice": token(TENANT, "alice", roles=["Private"])})
    if case.operation.path.startswith("/spark/"):
        return _TOKENS["alice"]
    if any(v == "me" for v in (case.path_parameters or {}).values()):
        return _TOKENS["alice"]
    return _TOKENS["server"]


def install_auth(schema) -> None:
    """Explicit credentials for every generated case: schemathesis's `ignored_auth` then also sends each
    secured operation without a token and with a wrong one, and expects 401."""

    @schema.auth(refresh_interval=None)
    class Tokens:
        def get(self, case, ctx):
            return bearer(case)

        def set(self, case, data, ctx):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def load_schema(raw: dict[str, Any], app: Any = None):
    """A schemathesis schema of the served document; `app` (WSGI) to call it in-process."""
    import schemathesis

    from tests.fuzz import checks  # noqa: F401  (registers the surface check and the XML deserializer)

    schema = schemathesis.openapi.from_dict(raw, config=fuzz_config())
    if app is not None:
        schema.app = app
    install_auth(schema)
    return schema


def seed_data(request: Callable[[str, str, Any], tuple[int, Any]]) -> None:
    """Users, memberships and a few notifications, created through the API with the server token:
    the documented examples (alice, acme, c1, Cord's 123/456/789, ThreatConnect's jsmith) then exist."""

    def call(method: str, path: str, body: Any = None) -> Any:
        status, data = request(method, path, body)
        assert status < 300, (method, path, status, data)
        return data

    for user, name in USERS.items():
        call("PUT", f"/v1/users/{user}", {"name": name})
    for kind, owner, user, role in MEMBERS:
        call("PUT", f"/v1/{kind}/{owner}/members/{user}", {"role": role})
    for i in range(3):
        call("POST", "/v1/notifications", {"recipients": ["alice", "bob"], "type": "Welcome",
                                           "message": f"Hello **{i}**", "actor": "carol",
                                           "metadata": {"thread": str(i)}})


def server_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {token(TENANT)}", "Content-Type": "application/json"}


class _Summary:
    """Prints the figures of every fuzz run that started, at the end of the pytest run."""

    def __init__(self) -> None:
        self.stats: list[Stats] = []

    def pytest_terminal_summary(self, terminalreporter) -> None:
        lines = [line for stats in self.stats for line in stats.lines()]
        if lines:
            terminalreporter.section("fuzz (schemathesis)")
            for line in lines:
                terminalreporter.write_line(line)


def report_at_end(config, stats: Stats) -> None:
    """Print `stats` in the terminal summary (registered from a fixture: works for any test directory)."""
    summary = config.pluginmanager.get_plugin("fuzz-summary")
    if summary is None:
        summary = _Summary()
        config.pluginmanager.register(summary, "fuzz-summary")
    if stats not in summary.stats:
        summary.stats.append(stats)


def documented_operations(raw: dict[str, Any]) -> int:
    return sum(1 for ops in raw["paths"].values() for method in ops if method != "parameters")


def check_case(case, stats: Stats, **call_kwargs: Any) -> None:
    """One generated case: call it and run every check."""
    stats.operations.add(case.operation.label)
    stats.cases += 1
    with stats.reporting():
        case.call_and_validate(**call_kwargs)


def run_stateful(schema, stats: Stats, **call_kwargs: Any) -> None:
    """Scenarios following the document's links, e.g. send → get / patch / list → mark read → delete."""
    from hypothesis import HealthCheck, settings

    machine = schema.as_state_machine()

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            stats.scenarios += 1

        def get_call_kwargs(self, case):
            stats.operations.add(case.operation.label)
            return dict(call_kwargs)

        def before_call(self, case) -> None:
            # A generated Idempotency-Key recurs across scenarios; its replay rightly answers the first
            # send's 201 and id, which an earlier scenario may have deleted since, and schemathesis then
            # reports the "created" notification as lost. Scenarios get keys of their own (the stateless
            # run covers replays and reuse).
            for name in list(case.headers or {}):
                if name.lower() == "idempotency-key":
                    case.headers[name] = f"stateful-{uuid.uuid4().hex}"

        def step(self, input):
            if input.transition is not None and input.is_applied:
                stats.links[input.transition.id] = stats.links.get(input.transition.id, 0) + 1
            return super().step(input)

    with stats.reporting():
        Workflow.run(settings=settings(max_examples=STATEFUL, derandomize=True, database=None, deadline=None,
                                       stateful_step_count=STEPS, suppress_health_check=list(HealthCheck)))


def dumps(body: Any) -> bytes:
    return json.dumps(body).encode()
