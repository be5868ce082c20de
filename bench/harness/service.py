"""`notifications dev` as a subprocess, driven only through its public HTTP API.

The fan-out internals change (stream coordinator, SQS, writer workers); the bench must not. So it
starts the service exactly as a developer does (`python -m notifications.cli dev --port P`, with
DYNAMODB=local for Amazon's DynamoDB Local, nothing for the default embedded moto engine), sends
through POST /v1/notifications and watches GET /v1/broadcasts/{id}. The only thing it needs from
the inside is the engine's endpoint, to seed members and count deliveries: DynamoDB Local is put
on a port chosen here (DYNAMODB_PORT); the embedded moto server's is read from the ready banner.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from notifications.local.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = float(os.environ.get("BENCH_START_TIMEOUT", "240"))
BANNER_ENDPOINT = re.compile(r"storage:.*? at (https?://[0-9.]+:\d+)")


def project_env(**extra: str) -> dict[str, str]:
    """This environment with the project first on PYTHONPATH (the checkout the bench lives in, even
    when the venv's console script was installed from another checkout)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1", "PYTHONUNBUFFERED": "1"})
    for name in ("DYNAMODB_ENDPOINT", "DYNAMODB", "NOTIFICATIONS_FAULTS", "FANOUT_PARALLELISM"):
        env.pop(name, None)
    env.update(extra)
    return env


@dataclass
class DevService:
    """One running `notifications dev`: its base URL, its engine's endpoint and table prefix."""

    engine: str  # "local" (DynamoDB Local) or "moto" (the default embedded engine)
    base: str
    endpoint: str
    prefix: str
    env: dict[str, str]
    process: subprocess.Popen
    log_path: Path
    started_s: float = 0.0
    _local: threading.local = field(default_factory=threading.local)

    @classmethod
    def start(cls, engine: str, log_dir: Path, extra_env: dict[str, str] | None = None) -> "DevService":
        port = free_port()
        prefix = f"bench-{engine}"
        env = project_env(TABLE_PREFIX=prefix, LOG_LEVEL="WARNING", **(extra_env or {}))
        ddb_port = None
        if engine == "local":
            ddb_port = free_port()
            env.update(DYNAMODB="local", DYNAMODB_PORT=str(ddb_port))
        log_path = log_dir / f"dev-{engine}-{port}.log"
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "notifications.cli", "dev", "--port", str(port)], cwd=ROOT,
                                   env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
                                   start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"notifications dev ({engine}) exited:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                raise RuntimeError(f"notifications dev ({engine}) not ready in {START_TIMEOUT:.0f} s")
            try:
                if requests.get(base + "/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        if ddb_port is not None:
            endpoint = f"http://127.0.0.1:{ddb_port}"
        else:
            endpoint = cls._banner_endpoint(log_path)
        return cls(engine, base, endpoint, prefix, env, process, log_path, time.perf_counter() - started)

    @staticmethod
    def _banner_endpoint(log_path: Path) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            match = BANNER_ENDPOINT.search(log_path.read_text())
            if match:
                return match.group(1)
            time.sleep(0.1)
        raise RuntimeError(f"no 'storage: ... at http://...' line in the ready banner ({log_path}): the bench "
                           "reads the embedded engine's endpoint there to seed members")

    def stop(self, grace: float = 1.0) -> None:
        """Ctrl-C, then (its data is in memory and thrown away anyway) a kill after `grace` seconds."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    # ---- HTTP ---------------------------------------------------------------------------------

    def session(self) -> requests.Session:
        """One keep-alive session per thread."""
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
        return s

    def request(self, method: str, path: str, token: str, body: Any = None, expect: tuple[int, ...] = (200,),
                timeout: float = 600) -> requests.Response:
        r = self.session().request(method, self.base + path, json=body, timeout=timeout,
                                   headers={"Authorization": f"Bearer {token}"})
        if r.status_code not in expect:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
        return r

    def broadcast(self, token: str, organization: str, message: str = "bench") -> tuple[str, float]:
        """POST a broadcast to an organization; returns (broadcast id, seconds the POST took)."""
        start = time.perf_counter()
        r = self.request("POST", "/v1/notifications", token,
                         {"organization": organization, "type": "Bench", "message": message}, expect=(202,))
        return r.json()["broadcastId"], time.perf_counter() - start

    def wait_done(self, token: str, job_id: str, started: float, timeout: float = 3600) -> tuple[dict, float, int]:
        """Poll GET /v1/broadcasts/{id} until complete or failed. Returns (status, seconds since
        `started` (a perf_counter value), polls). The poll interval grows with the elapsed time
        (20 ms to 250 ms) so it adds at most ~2 % to a figure and little load to the server."""
        polls = 0
        while True:
            status = self.request("GET", f"/v1/broadcasts/{job_id}", token).json()
            polls += 1
            elapsed = time.perf_counter() - started
            if status["status"] in ("complete", "failed"):
                return status, elapsed, polls
            if elapsed > timeout:
                raise TimeoutError(f"{job_id} still {status['status']} after {elapsed:.0f} s: {status}")
            time.sleep(min(0.25, max(0.02, elapsed / 50)))
