"""Scenario 7: cold start. Fresh interpreters, alternately: import app.py and serve a first request
through the Chalice app's Lambda handler (GET /health, then an unread count that reads DynamoDB
Local), vs a bare `import boto3`. Wall time includes the interpreter's own start; the probe's
inner times do not. Median of the repeats; the ratio is per pair."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.harness.context import Context
from bench.harness.engine import token
from bench.harness.progress import say
from bench.harness.service import project_env
from bench.harness.stats import paired_ratio, rnd, spread

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "bench" / "harness" / "coldstart_probe.py"


def _probe(mode: str, env: dict[str, str], tok: str) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-B", str(PROBE), mode, str(ROOT), tok], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def run(ctx: Context) -> dict[str, Any]:
    svc = ctx.service
    env = project_env(DYNAMODB_ENDPOINT=svc.endpoint, TABLE_PREFIX=svc.prefix, LOG_LEVEL="WARNING",
                      DYNAMODB_TRANSACTION_LIMIT="10")
    tok = token("dev", "cold-start-user")
    rows: dict[str, list[float]] = {k: [] for k in ("app_wall", "app_import", "app_first", "app_db", "boto3_wall",
                                                    "boto3_import")}
    statuses = set()
    for _ in range(ctx.config.cold_start_repeats):
        wall, inner = _probe("app", env, tok)
        rows["app_wall"].append(wall)
        rows["app_import"].append(inner["import_s"])
        rows["app_first"].append(inner["first_request_s"])
        rows["app_db"].append(inner.get("first_dynamodb_request_s"))
        statuses.add((inner["health_status"], inner.get("dynamodb_status")))
        wall, inner = _probe("boto3", env, tok)
        rows["boto3_wall"].append(wall)
        rows["boto3_import"].append(inner["import_s"])
    out = {"repeats": ctx.config.cold_start_repeats, "statuses": sorted(statuses),
           "app": {"wall_s": spread(rows["app_wall"]), "import_app_s": spread(rows["app_import"]),
                   "first_request_health_s": spread(rows["app_first"]),
                   "first_dynamodb_request_s": spread(rows["app_db"])},
           "boto3": {"wall_s": spread(rows["boto3_wall"]), "import_boto3_s": spread(rows["boto3_import"])},
           "ratios": {"app_wall_over_boto3_wall": rnd(paired_ratio(rows["app_wall"], rows["boto3_wall"])),
                      "import_app_over_import_boto3": rnd(paired_ratio(rows["app_import"], rows["boto3_import"]))}}
    say(f"cold start: app import {out['app']['import_app_s']['median']:.3f} s + first request "
        f"{out['app']['first_request_health_s']['median'] * 1000:.0f} ms; bare boto3 import "
        f"{out['boto3']['import_boto3_s']['median']:.3f} s")
    return out
