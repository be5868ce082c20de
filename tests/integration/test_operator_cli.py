"""The operator commands as an operator runs them: `python -m notifications.cli ...` subprocesses pointed
at `notifications dev` (on DynamoDB Local) by NOTIFICATIONS_URL / NOTIFICATIONS_TOKEN. Prints the figures:
the time to import 200 rows and the re-run's request count, the time a small broadcast's watch takes."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from notifications.local.ports import free_port
from tests.integration.conftest import ROOT, wait_for

RUN = os.environ.get("IT_RUN_ID") or uuid.uuid4().hex[:6]
CLI = [sys.executable, "-m", "notifications.cli"]


def env_for(service, token: str | None = None) -> dict[str, str]:
    return {**os.environ, "NOTIFICATIONS_URL": service.base, "NOTIFICATIONS_TOKEN": token or service.token(),
            "PYTHONUNBUFFERED": "1"}


def cli(service, *args: str, token: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([*CLI, *args], cwd=ROOT, env=env_for(service, token), capture_output=True, text=True,
                          timeout=timeout)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def csv_of(users: list[str], org: str) -> str:
    return "user,name,metadata.run,organization,role\n" + "".join(
        f"{u},Name of {u},{RUN},{org},Standard User\n" for u in users)


def summary(out: str) -> dict[str, int]:
    """The numbers of the import's summary line."""
    m = re.search(r"(\d+) rows, (\d+) calls: (\d+) made, (\d+) already done .* (\d+) failed, (\d+) held; "
                  r"(\d+) requests", out)
    assert m, out
    return dict(zip(("rows", "calls", "made", "done", "failed", "held", "requests"), map(int, m.groups())))


def members(service, org: str) -> set[str]:
    srv = service.session()
    found, cursor = set(), None
    while True:
        page = srv.get(service.url(f"/v1/organizations/{org}/members"),
                       params={"limit": 100, **({"cursor": cursor} if cursor else {})}).json()
        found |= {m["userId"] for m in page["members"]}
        cursor = page["cursor"]
        if not cursor:
            return found


def test_import_200_rows_then_a_rerun_makes_no_request(service, tmp_path):
    org = f"ops-{RUN}"
    users = [f"imp{i:03d}-{RUN}" for i in range(200)]
    path = tmp_path / "users.csv"
    path.write_text(csv_of(users, org))
    started = time.monotonic()
    first = cli(service, "users", "import", str(path), "--workers", "4")
    elapsed = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    figures = summary(first.stdout)
    assert (figures["rows"], figures["made"], figures["failed"]) == (200, 400, 0)
    assert members(service, org) == set(users)
    assert service.session().get(service.url(f"/v1/users/{users[7]}")).json()["metadata"] == {"run": RUN}
    started = time.monotonic()
    again = cli(service, "users", "import", str(path), "--workers", "4")
    rerun = time.monotonic() - started
    assert again.returncode == 0, again.stderr
    refigures = summary(again.stdout)
    assert (refigures["made"], refigures["done"], refigures["requests"]) == (0, 400, 0)
    print(f"\nusers import: 200 rows (400 calls) in {elapsed:.1f}s ({figures['requests']} requests, 4 workers); "
          f"re-run: {refigures['requests']} requests in {rerun:.1f}s")


def test_an_import_killed_midway_resumes_without_repeating_recorded_calls(service, tmp_path):
    org = f"kill-{RUN}"
    users = [f"kill{i:03d}-{RUN}" for i in range(60)]
    path = tmp_path / "users.csv"
    path.write_text(csv_of(users, org))
    checkpoint = Path(str(path) + ".checkpoint")

    def recorded() -> int:
        if not checkpoint.exists():
            return 0
        return sum(1 for line in checkpoint.read_text().splitlines()[1:] if len(line) == 32)

    process = subprocess.Popen([*CLI, "users", "import", str(path), "--workers", "1"], cwd=ROOT,
                               env=env_for(service), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: recorded() >= 20 or process.poll() is not None, timeout=120, interval=0.02)
    finally:
        process.send_signal(signal.SIGKILL)  # a crash: no chance to clean up
        process.wait(10)
    done = recorded()
    assert 20 <= done < 120, done
    resumed = cli(service, "users", "import", str(path), "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    figures = summary(resumed.stdout)
    assert (figures["made"], figures["done"]) == (120 - done, done)  # only what the checkpoint had not
    assert members(service, org) == set(users)
    print(f"\nkilled after {done} recorded calls; the re-run made {figures['made']} of 120")


def test_send_inbox_and_watch_a_small_broadcast(service, tmp_path):
    org = f"watch-{RUN}"
    users = [f"w{i:02d}-{RUN}" for i in range(20)]
    path = tmp_path / "users.csv"
    path.write_text(csv_of(users, org))
    assert cli(service, "users", "import", str(path)).returncode == 0

    sent = cli(service, "send", "--to", users[0], "--type", "Ops", "--message", "Hello from the **CLI**",
               "--priority", "high")
    assert sent.returncode == 0 and re.fullmatch(rf"delivered \S+ to {users[0]}\n", sent.stdout), sent
    inbox = cli(service, "inbox", users[0])
    assert inbox.returncode == 0 and inbox.stdout.splitlines()[0] == f"{users[0]}: 1 unread"
    assert "Ops: Hello from the **CLI**" in inbox.stdout.splitlines()[1]

    started = time.monotonic()
    queued = cli(service, "send", "--organization", org, "--type", "Maintenance", "--message", "Tonight", "--json")
    assert queued.returncode == 0, queued.stderr
    broadcast_id = json.loads(queued.stdout)["broadcastId"]
    watch_started = time.monotonic()
    watched = cli(service, "broadcast", "watch", broadcast_id, "--interval", "0.5", "--timeout", "120")
    finished = time.monotonic()
    assert watched.returncode == 0, (watched.stdout, watched.stderr)
    lines = watched.stdout.splitlines()
    assert "\r" not in watched.stdout  # a pipe, not a terminal: plain lines
    assert lines[-1].startswith("[" + "#" * 30 + "] 100%") and "20/20 delivered" in lines[-1]
    assert "complete" in lines[-1]
    assert cli(service, "inbox", users[5], "--count").stdout == f"{users[5]}: 1 unread\n"
    print(f"\nbroadcast watch: 20 members, watch ran {finished - watch_started:.1f}s "
          f"(send to complete {finished - started:.1f}s), {len(lines)} lines")


def test_refusals_and_an_unreachable_api_are_one_line(service, tmp_path):
    bad = cli(service, "inbox", "bob", token=service.token()[:-4] + "AAAA")
    assert bad.returncode == 1 and bad.stderr.startswith("notifications inbox: refused: 401 unauthorized")
    assert bad.stderr.count("\n") == 1
    path = tmp_path / "users.csv"
    path.write_text(csv_of([f"nope-{RUN}"], f"nope-{RUN}"))
    forbidden = cli(service, "users", "import", str(path), token=service.token(user="bob"))
    assert forbidden.returncode == 1 and "stopped: refused: 403" in forbidden.stderr
    port = free_port()
    down = subprocess.run([*CLI, "inbox", "bob", "--url", f"http://127.0.0.1:{port}", "--token", "t"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert down.returncode == 1 and down.stderr == (f"notifications inbox: cannot reach http://127.0.0.1:{port}: "
                                                    "Connection refused\n")
    assert requests.get(service.url("/health")).status_code == 200
