"""The embedded moto engine in a child process of its own.

`make dev`'s API, stream poller and queue workers are Python threads sharing one GIL; so was moto's
server, which parses every request, evaluates every condition and builds every response in Python.
In a process of its own it gets the machine's other core: bench/moto_ceiling.py measured a
2,000-member broadcast at 277-354 members/s with the server in-process and 413-482/s beside it,
the same run, the same machine.

The child exits when its stdin closes, so it never outlives the runtime (even one killed with
SIGKILL), and ignores Ctrl-C, which the terminal sends to the whole process group: the runtime
stops it after its own threads, not before.

    python -m notifications.local.moto_process   # prints its endpoint (or `error: ...`), then serves
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


class MotoProcess:
    """A running child engine: `endpoint`, `stop()`."""

    def __init__(self, process: subprocess.Popen, endpoint: str) -> None:
        self.process = process
        self.endpoint = endpoint

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            self.process.stdin.close()  # type: ignore[union-attr]
            self.process.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(10)


def start() -> MotoProcess:
    """Start the child and wait for its endpoint. Raises RuntimeError with the child's one-line
    reason (e.g. the shim's moto version mismatch) when it cannot serve."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen([sys.executable, "-m", "notifications.local.moto_process"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=env, cwd=str(PROJECT_DIR))
    line = process.stdout.readline().strip()  # type: ignore[union-attr]
    if line.startswith("http"):
        return MotoProcess(process, line)
    process.kill()
    process.wait(10)
    raise RuntimeError(line.removeprefix("error: ") or f"the moto engine process exited ({process.returncode})")


def _serve() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from chalicelib.logs import configure_logging

    configure_logging()
    from notifications.local.runtime import StartupError, start_moto_in_process

    try:
        server, endpoint = start_moto_in_process()
    except StartupError as exc:
        print(f"error: {exc}", flush=True)
        return
    print(endpoint, flush=True)
    sys.stdin.read()  # until the runtime closes the pipe or dies
    server.stop()


if __name__ == "__main__":
    _serve()
