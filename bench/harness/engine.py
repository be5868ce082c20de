"""The engine worker (engine_worker.py) for one running service, plus the bench's tokens."""
from __future__ import annotations

import sys
from pathlib import Path

from bench.harness.rpc import Worker
from bench.harness.service import DevService, project_env

ROOT = Path(__file__).resolve().parents[2]


def engine_worker(service: DevService, work_dir: Path) -> Worker:
    """A worker on the service's engine and tables (same endpoint, same prefix, same limits)."""
    env = project_env(DYNAMODB_ENDPOINT=service.endpoint, TABLE_PREFIX=service.prefix, LOG_LEVEL="WARNING")
    if service.engine == "local":
        env["DYNAMODB_TRANSACTION_LIMIT"] = service.env.get("DYNAMODB_TRANSACTION_LIMIT", "10")
    return Worker([sys.executable, str(Path(__file__).with_name("engine_worker.py"))], env=env, cwd=ROOT,
                  log_path=work_dir / f"engine-worker-{service.engine}.log")


def token(tenant: str, user: str | None = None) -> str:
    """A token the services accept (they share TENANT_KEYS with this process: see run.py)."""
    from chalicelib.auth.tokens import issue

    return issue(tenant, user=user, ttl_seconds=6 * 3600)
