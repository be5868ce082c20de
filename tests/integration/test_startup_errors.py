"""`notifications dev` started with a mistake: one line on stderr naming the setting and what is
wrong, a non-zero exit, no traceback, and nothing left running."""
from __future__ import annotations

import os
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from notifications.local.ports import free_port
from tests.integration.conftest import DEV_COMMAND, ROOT, needs_local_process


MISTAKES = {
    "unreachable endpoint": ({"DYNAMODB_ENDPOINT": "http://127.0.0.1:1"}, "DYNAMODB_ENDPOINT", "not reachable"),
    "endpoint not a URL": ({"DYNAMODB_ENDPOINT": "localhost:8000"}, "DYNAMODB_ENDPOINT", "http:// or https:// URL"),
    "TENANT_KEYS not JSON": ({"TENANT_KEYS": "dev=secret"}, "TENANT_KEYS", "not valid JSON"),
    "TENANT_KEYS an array": ({"TENANT_KEYS": '["dev", "secret"]'}, "TENANT_KEYS", "must be a JSON object"),
    "TENANT_KEYS key not a string": ({"TENANT_KEYS": '{"dev": 42}'}, "TENANT_KEYS", "must be a string"),
    "TENANT_KEYS empty key": ({"TENANT_KEYS": '{"dev": ""}'}, "TENANT_KEYS", "empty signing key"),
    "TENANT_KEYS empty tenant": ({"TENANT_KEYS": '{"": "secret"}'}, "TENANT_KEYS", "names tenant ''"),
    "FANOUT_CHUNK_SIZE": ({"FANOUT_CHUNK_SIZE": "abc"}, "FANOUT_CHUNK_SIZE", "whole number"),
    "INLINE_READ_ALL_LIMIT": ({"INLINE_READ_ALL_LIMIT": "-1"}, "INLINE_READ_ALL_LIMIT", "at least 0"),
    "RETENTION_DAYS": ({"RETENTION_DAYS": "x"}, "RETENTION_DAYS", "whole number"),
    "DYNAMODB_TRANSACTION_LIMIT": ({"DYNAMODB_TRANSACTION_LIMIT": "x"}, "DYNAMODB_TRANSACTION_LIMIT", "whole number"),
    "FANOUT_PARALLELISM": ({"FANOUT_PARALLELISM": "x"}, "FANOUT_PARALLELISM", "whole number"),
    "PORT not a number": ({"PORT": "eighty"}, "PORT", "whole number"),
    "DYNAMODB engine": ({"DYNAMODB": "postgres"}, "DYNAMODB", "moto or local"),
    "LOG_LEVEL": ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL", "DEBUG, INFO"),
    "METRICS": ({"METRICS": "statsd"}, "METRICS", "emf or off"),
    "METRICS_NAMESPACE": ({"METRICS_NAMESPACE": "AWS/Lambda"}, "METRICS_NAMESPACE", "CloudWatch namespace"),
    "ALLOW_DEV_KEYS": ({"ALLOW_DEV_KEYS": "maybe"}, "ALLOW_DEV_KEYS", "true or false"),
    "TABLE_INBOX": ({"TABLE_INBOX": "no spaces allowed"}, "TABLE_INBOX", "DynamoDB table name"),
    "CORS_ALLOWED_ORIGINS": ({"CORS_ALLOWED_ORIGINS": "localhost:3000"}, "CORS_ALLOWED_ORIGINS", "not an origin"),
    "TENANT_JWKS": ({"TENANT_JWKS": '{"acme": {"jwksUrl": "https://idp/jwks"}}'}, "TENANT_JWKS", "no issuer"),
    "POLL_INTERVAL_SECONDS": ({"POLL_INTERVAL_SECONDS": "0"}, "POLL_INTERVAL_SECONDS", "between 1 and 3600"),
    "FANOUT_CHUNKS_PER_STEP": ({"FANOUT_CHUNKS_PER_STEP": "many"}, "FANOUT_CHUNKS_PER_STEP", "whole number"),
    "WORK_QUEUE_MAX_RECEIVES": ({"WORK_QUEUE_MAX_RECEIVES": "5.5"}, "WORK_QUEUE_MAX_RECEIVES", "whole number"),
    "QUEUE_WORKERS": ({"QUEUE_WORKERS": "x"}, "QUEUE_WORKERS", "whole number"),
    "DYNAMODB_PORT": ({"DYNAMODB": "local", "DYNAMODB_PORT": "x"}, "DYNAMODB_PORT", "whole number"),
    "WS_PORT": ({"WS_PORT": "x"}, "WS_PORT", "whole number"),
    "REALTIME_TICKET_TTL_SECONDS": ({"REALTIME_TICKET_TTL_SECONDS": "120"}, "REALTIME_TICKET_TTL_SECONDS",
                                    "between 1 and 60"),
}


def run_dev(extra_env: dict[str, str], *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for name in ("DYNAMODB_ENDPOINT", "DYNAMODB", "NOTIFICATIONS_FAULTS", "DYNAMODB_TRANSACTION_LIMIT"):
        env.pop(name, None)
    env.update({"PORT": str(free_port()), "PYTHONUNBUFFERED": "1"})
    env.update(extra_env)
    return subprocess.run([*DEV_COMMAND, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, start_new_session=True)


def assert_one_clear_line(result: subprocess.CompletedProcess, variable: str, problem: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, (result.stdout, result.stderr)
    assert len(lines) == 1, result.stderr
    assert variable in lines[0] and problem in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert "ready at" not in result.stdout


@pytest.fixture(scope="module")
def outcomes():
    """Every mistake's run, started together (each one is a process start)."""
    needs_local_process()
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run_dev, env) for name, (env, _, _) in MISTAKES.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_mistake_is_one_clear_line(outcomes, name):
    _, variable, problem = MISTAKES[name]
    assert_one_clear_line(outcomes[name], variable, problem)


@pytest.mark.parametrize("setting", ["PORT", "--port", "WS_PORT"])
def test_a_taken_port_is_one_clear_line(setting):
    needs_local_process()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run_dev({setting: port}) if setting != "--port" else run_dev({}, "--port", port)
    assert_one_clear_line(result, setting, "already in use")
    assert port in result.stderr
