"""JSON lines over a child's stdin/stdout: the bench drives long-lived helper processes with it
(the engine worker in the project's venv, the peer worker in django-notifications-hq's own venv).

Why child processes: the peer needs its own interpreter (other dependencies), and keeping engine
work (seeding, the write ceiling) out of the driving process keeps its GIL free for timing and its
PynamoDB connections bound to one engine per process. Standard library only: the peer's venv
imports this file too.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Callable


class WorkerError(RuntimeError):
    """The worker answered an error (its traceback is in the message)."""


class Worker:
    """A child process answering one JSON line per JSON line it is sent."""

    def __init__(self, argv: list[str], *, env: dict[str, str], cwd: Path, log_path: Path) -> None:
        self.log_path = log_path
        self.lock = threading.Lock()  # one request in flight: phases may share a worker (the peer)
        self.process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=open(log_path, "w"), text=True, bufsize=1)

    def call(self, op: str, **kwargs: Any) -> Any:
        with self.lock:
            return self._call(op, **kwargs)

    def _call(self, op: str, **kwargs: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"op": op, **kwargs}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise WorkerError(f"worker exited ({self.process.poll()}); log {self.log_path}:\n"
                              f"{self.log_path.read_text()[-3000:]}")
        answer = json.loads(line)
        if "error" in answer:
            raise WorkerError(answer["error"])
        return answer["result"]

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def serve(handlers: dict[str, Callable[..., Any]]) -> None:
    """The worker's side: answer each request line with {"result": ...} or {"error": ...}.

    stdout carries only answers: anything else printed goes to stderr (the worker's log)."""
    out = sys.stdout
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        op = request.pop("op")
        try:
            answer = {"result": handlers[op](**request)}
        except Exception:  # noqa: BLE001 - reported to the driver, which decides
            answer = {"error": f"{op}: {traceback.format_exc()}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()
