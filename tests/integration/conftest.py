"""The real service over real HTTP: `notifications dev` started as `make dev` starts it."""
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

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def start_service(extra_env: dict[str, str] | None = None, timeout: float = 60.0) -> Service:
    port = free_port()
    env = dict(os.environ)
    env.pop("DYNAMODB_ENDPOINT", None)
    env.update({"PORT": str(port), "PYTHONUNBUFFERED": "1"})
    env.update(extra_env or {})
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"notifications-dev-{port}.log"
    log = open(log_path, "w")
    process = subprocess.Popen([str(Path(sys.executable).parent / "notifications"), "dev"], cwd=ROOT, env=env,
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
    process.kill()
    raise RuntimeError(f"service did not become ready:\n{log_path.read_text()}")


def stop_service(service: Service) -> None:
    if service.process.poll() is None:
        os.killpg(service.process.pid, signal.SIGINT)
        try:
            service.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def service():
    """`notifications dev` with its embedded DynamoDB (moto server)."""
    svc = start_service({"TENANT_KEYS": os.environ["TENANT_KEYS"]})
    yield svc
    stop_service(svc)


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


__all__ = ["Service", "start_service", "stop_service", "wait_for", "json"]
