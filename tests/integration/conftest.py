"""The real service over real HTTP: `notifications dev` started as `make dev` starts it,
pointed (DYNAMODB_ENDPOINT) at Amazon's DynamoDB Local, started here on a free loopback
port with -inMemory and stopped after the run.

Without Java or the jar the tier is skipped with the reason; on CI (CI=true) that is an
error instead. `make test` installs the jar first (scripts/install-dynamodb-local.sh).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from notifications.local.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
# `notifications dev` from this checkout (not whichever checkout the venv's console script was installed from).
DEV_COMMAND = [sys.executable, "-m", "notifications.cli", "dev"]


class Service:
    def __init__(self, base: str, process: subprocess.Popen, log_path: Path):
        self.base = base
        self.process = process
        self.log_path = log_path

    def token(self, tenant: str = "dev", user: str | None = None, roles=(), app: str | None = None) -> str:
        from chalicelib.auth.tokens import issue

        return issue(tenant, user=user, roles=list(roles), application=app)

    def session(self, tenant: str = "dev", user: str | None = None, roles=(), app: str | None = None):
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {self.token(tenant, user, roles, app)}"
        s.headers["Content-Type"] = "application/json"
        return s

    def url(self, path: str) -> str:
        return self.base + path


# Generous: on a loaded 2-core CI machine the first start (imports, JIT-cold DynamoDB Local,
# CreateTable with indexes) has taken over a minute.
START_TIMEOUT = float(os.environ.get("SERVICE_START_TIMEOUT", "240"))


def start_service(extra_env: dict[str, str] | None = None, timeout: float = START_TIMEOUT) -> Service:
    port = free_port()
    env = dict(os.environ)
    env.pop("DYNAMODB_ENDPOINT", None)
    env.pop("DYNAMODB", None)
    env.pop("NOTIFICATIONS_FAULTS", None)
    env.update({"PORT": str(port), "WS_PORT": str(free_port()), "PYTHONUNBUFFERED": "1"})
    env.update(extra_env or {})
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"notifications-dev-{port}.log"
    log = open(log_path, "w")
    process = subprocess.Popen(DEV_COMMAND, cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited early:\n{log_path.read_text()}")
        try:
            if requests.get(base + "/health", timeout=1).status_code == 200:
                return Service(base, process, log_path)
        except requests.RequestException:
            pass
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the service and any engine it started
    raise RuntimeError(f"service did not become ready in {timeout:.0f}s:\n{log_path.read_text()}")


def stop_service(service: Service) -> None:
    if service.process is not None and service.process.poll() is None:
        os.killpg(service.process.pid, signal.SIGINT)
        try:
            service.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)


ON_CI = os.environ.get("CI", "").lower() == "true"


# Against a deployed stack instead: NOTIFICATIONS_API_URL=https://.../api/ with real AWS credentials,
# DYNAMODB_ENDPOINT unset, TABLE_PREFIX=notifications-<stage> and DEPLOYED_TENANT_KEYS (the stage's
# TENANT_KEYS secret, which must hold a key for the tenant "dev"). Tests that need the local process
# (fault injection, the moto smoke test) are skipped then.
DEPLOYED_URL = os.environ.get("NOTIFICATIONS_API_URL", "").rstrip("/")


class _AwsEngine:
    endpoint = None  # boto3's default: real DynamoDB


def needs_local_process() -> None:
    if DEPLOYED_URL:
        pytest.skip("needs the local server process (NOTIFICATIONS_API_URL points at a deployed stack)")


@pytest.fixture(scope="session")
def dynamodb_local():
    """One DynamoDB Local process for the session; each service uses its own table prefix."""
    if DEPLOYED_URL:
        os.environ.pop("DYNAMODB_ENDPOINT", None)
        if os.environ.get("DEPLOYED_TENANT_KEYS"):
            os.environ["TENANT_KEYS"] = os.environ["DEPLOYED_TENANT_KEYS"]
        from chalicelib.settings import reset_settings

        reset_settings()
        yield _AwsEngine()
        return
    from notifications.local.dynamodb_local import DynamoDBLocal, missing

    reason = missing()
    if reason:
        if ON_CI:
            pytest.fail(f"DynamoDB Local is required on CI: {reason}", pytrace=False)
        pytest.skip(f"DynamoDB Local integration tier skipped: {reason}")
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"dynamodb-local-{os.getpid()}.log"
    engine = DynamoDBLocal(log_path=log_path).start()
    yield engine
    engine.stop()


def ddb_env(engine, prefix: str) -> dict[str, str]:
    return {"DYNAMODB_ENDPOINT": engine.endpoint, "TABLE_PREFIX": prefix, "TENANT_KEYS": os.environ["TENANT_KEYS"],
            "DYNAMODB_TRANSACTION_LIMIT": "10"}  # DynamoDB Local 1.11.478 refuses more than 10 actions


@pytest.fixture(scope="session")
def service(dynamodb_local):
    """`notifications dev` against DynamoDB Local (or the deployed API, see DEPLOYED_URL)."""
    if DEPLOYED_URL:
        svc = Service(DEPLOYED_URL, None, None)
        svc.engine = dynamodb_local
        svc.prefix = os.environ.get("TABLE_PREFIX", "notifications-dev")
        yield svc
        return
    svc = start_service(ddb_env(dynamodb_local, "it-main"))
    svc.engine = dynamodb_local
    svc.prefix = "it-main"
    yield svc
    stop_service(svc)


@pytest.fixture(scope="session")
def moto_service():
    """`notifications dev` exactly as `make dev` runs it by default (embedded moto server)."""
    needs_local_process()
    svc = start_service({"TENANT_KEYS": os.environ["TENANT_KEYS"]})
    yield svc
    stop_service(svc)


def ddb_client(engine):
    import boto3

    if engine.endpoint is None:
        return boto3.client("dynamodb")
    return boto3.client("dynamodb", endpoint_url=engine.endpoint, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def scan_all(client, table: str, **kw) -> list[dict]:
    items: list[dict] = []
    paginator = client.get_paginator("scan")
    for page in paginator.paginate(TableName=table, ConsistentRead=True, **kw):
        items.extend(page["Items"])
    return items


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


__all__ = ["Service", "start_service", "stop_service", "wait_for", "json"]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print how many tests each tier ran (CI logs show the DynamoDB Local tier's count)."""
    tiers: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "") or ""
            if getattr(report, "when", "call") != "call" and outcome == "passed":
                continue
            parts = nodeid.split("/")
            tier = parts[1] if len(parts) > 2 and parts[0] == "tests" else "other"
            tiers.setdefault(tier, {}).setdefault(outcome, 0)
            tiers[tier][outcome] += 1
    if not tiers:
        return
    terminalreporter.section("tests per tier")
    for tier in sorted(tiers):
        counts = ", ".join(f"{n} {o}" for o, n in sorted(tiers[tier].items()))
        label = {"integration": "integration (real HTTP, DynamoDB Local)", "infra": "infra (CDK synth, cfn-lint)",
                 "unit": "unit (moto in-process)", "browser": "browser (Chromium via Playwright)"}.get(tier, tier)
        terminalreporter.write_line(f"{label}: {counts}")


def pytest_configure(config):
    config.addinivalue_line("markers", "moto_engine: runs against the default embedded moto engine "
                                       "(deselect with -m 'not moto_engine')")


@pytest.fixture(scope="session")
def fuzz_service(dynamodb_local):
    """`notifications dev` on DynamoDB Local with its own tables (prefix it-fuzz), for the fuzz run over
    HTTP (tests/integration/test_fuzz_http.py): what it writes never meets the other tests' data."""
    needs_local_process()
    svc = start_service(ddb_env(dynamodb_local, "it-fuzz"))
    svc.engine = dynamodb_local
    svc.prefix = "it-fuzz"
    yield svc
    stop_service(svc)
