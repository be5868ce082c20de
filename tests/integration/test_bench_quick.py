"""`bench/run.py --quick --tiny`: the whole benchmark harness end to end at tiny sizes, in under 60 s.

It starts `notifications dev` on DynamoDB Local and on the default engine, the peer in its own venv,
and every scenario, writing into a temporary directory (the committed bench/results.* are never
touched). The figures mean nothing at these sizes; what is checked is that every scenario ran,
produced its part of results.json, verified its deliveries, and that results.md was written.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("fanout", "send_latency", "fairness", "inbox_reads", "cost", "aws_model", "cold_start")
LIMIT_S = 60


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def test_bench_tiny_run_has_every_scenario(tmp_path: Path) -> None:
    from notifications.local.dynamodb_local import missing

    reason = missing()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"DynamoDB Local is required on CI: {reason}", pytrace=False)
        pytest.skip(f"bench test skipped: {reason}")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # The peer's venv (pip install of Django + django-notifications-hq) is made once, untimed.
    subprocess.run([sys.executable, "bench/run.py", "--setup-peer"], cwd=ROOT, env=env, check=True, timeout=600,
                   capture_output=True)
    committed = {name: _digest(ROOT / "bench" / name) for name in ("results.json", "results.md")}

    start = time.monotonic()
    done = subprocess.run([sys.executable, "bench/run.py", "--quick", "--tiny", "--out", str(tmp_path)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240)
    elapsed = time.monotonic() - start

    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    # Not a timed test (shared machines are noisy): the time is reported, the 240 s timeout only
    # catches a hang.
    print(f"\nbench --quick --tiny ran in {elapsed:.0f} s (aim: under {LIMIT_S} s)")
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["mode"] == "tiny"
    assert not results["errors"], results["errors"]
    for scenario in SCENARIOS:
        assert results.get(scenario), f"results.json has no {scenario!r}"
    for engine, sizes in results["fanout"].items():
        for size, figures in sizes.items():
            assert figures["ours"]["verified"], (engine, size, figures["ours"]["checks"])
            assert figures["ratios"]["ours_over_peer"] is not None, "the peer did not run"
    assert results["fairness"]["b_beside_a_s"]["median"] > 0
    assert set(results["inbox_reads"]["growth_largest_over_smallest"]) >= {"ours_first_page", "ours_unread_count",
                                                                           "peer_first_page", "ours_mark_all"}
    assert results["cost"]["measured"]["send_to_one"]["write_units"] > 0
    assert set(results["aws_model"]["modelled"]["prewarmed_tables"]) == {"10000", "100000", "1000000"}
    assert results["cold_start"]["app"]["import_app_s"]["median"] > 0
    markdown = (tmp_path / "results.md").read_text()
    for heading in ("## Machine", "## 1. Fan-out", "## 2. Fairness", "## 3. Send latency", "## 4. Inbox reads",
                    "## 5. Cost", "## 6. AWS model", "## 7. Cold start"):
        assert heading in markdown
    assert committed == {name: _digest(ROOT / "bench" / name) for name in ("results.json", "results.md")}
