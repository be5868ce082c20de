"""Direct-send rate of `notifications dev` on its default engine (the embedded moto server), over
real HTTP: `POST /v1/notifications` with `recipients` lists of 1,000, round after round, so the
rate can be read as the tables grow. Also prints the server process's resident memory.

    .venv/bin/python bench/dev_send_rate.py [--rounds 3] [--recipients 2000] [--clients 1]
                                            [--env FANOUT_PARALLELISM=8 ...]

`--clients N` sends N requests at once (each its own recipients); `--env` sets variables for the
server (e.g. DYNAMODB=local, FANOUT_PARALLELISM=1).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from notifications.local.ports import free_port  # noqa: E402


def rss_mb(pid: int) -> float:
    """Resident memory of the process tree rooted at pid (the server and any engine it started)."""
    total = 0
    pids = [pid]
    try:
        pids += [int(p) for p in subprocess.run(["pgrep", "-g", str(pid)], capture_output=True,
                                                text=True).stdout.split() if int(p) != pid]
    except FileNotFoundError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--recipients", type=int, default=2000, help="per round, in lists of 1,000")
    parser.add_argument("--clients", type=int, default=1, help="requests sent at once")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    args = parser.parse_args()

    port = free_port()
    env = dict(os.environ, PORT=str(port), PYTHONUNBUFFERED="1", LOG_LEVEL="WARNING",
               TABLE_PREFIX=f"bench-{port}")
    for pair in args.env:
        name, _, value = pair.partition("=")
        env[name] = value
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"dev-send-rate-{port}.log"
    process = subprocess.Popen([sys.executable, "-m", "notifications.cli", "dev"], cwd=ROOT, env=env,
                               stdout=open(log_path, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                print(log_path.read_text(), file=sys.stderr)
                return 1
            try:
                if requests.get(base + "/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        from chalicelib.auth.tokens import issue

        headers = {"Authorization": f"Bearer {issue('dev', ttl_seconds=86400)}", "Content-Type": "application/json"}

        def send(round_: int, part: int) -> int:
            users = [f"r{round_}-p{part}-u{i:04d}" for i in range(1000)]
            r = requests.post(base + "/v1/notifications", headers=headers, timeout=3600,
                              json={"recipients": users, "type": "Bench", "message": "m"})
            r.raise_for_status()
            return len(users)

        parts = max(1, args.recipients // 1000)
        stored = 0
        print(f"server env: {' '.join(args.env) or '(defaults)'}; {parts} x 1,000 recipients per round, "
              f"{args.clients} request(s) at once")
        for round_ in range(args.rounds):
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                sent = sum(pool.map(lambda part: send(round_, part), range(parts)))
            elapsed = time.perf_counter() - start
            print(f"round {round_ + 1}: {sent} recipients in {elapsed:.1f} s = {sent / elapsed:.0f} recipients/s "
                  f"(inbox items before the round: {stored}; server RSS {rss_mb(process.pid):.0f} MB)", flush=True)
            stored += sent
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
