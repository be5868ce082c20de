#!/usr/bin/env python3
"""The benchmark entry point (`make bench`): starts what it needs, runs every scenario, and writes
bench/results.md and bench/results.json.

    python bench/run.py            # full run (< 30 min): sizes 1k / 10k / 100k
    python bench/run.py --quick    # < 3 min, smaller sizes
    python bench/run.py --tiny --out /tmp/x   # plumbing check (the test), < 60 s; or BENCH_TINY=1

Scenarios: fanout (1) and send_latency (3) on each engine (DynamoDB Local, the default embedded
moto engine), fairness (2), inbox_reads (4), cost (5), cold_start (7) on DynamoDB Local, and
aws_model (6). The service is always `notifications dev` driven over HTTP (bench/harness/service.py);
the peer is django-notifications-hq in its own venv (bench/harness/peer.py). Figures are medians
of several runs; comparisons are ratios of two things measured alternately in the same run.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import machine  # noqa: E402
from bench.harness.capacity import CapacityLog, service_env  # noqa: E402
from bench.harness.config import Config, for_mode  # noqa: E402
from bench.harness.context import Context  # noqa: E402
from bench.harness.engine import engine_worker  # noqa: E402
from bench.harness.peer import ensure_venv, maybe_peer  # noqa: E402
from bench.harness.progress import elapsed, say  # noqa: E402
from bench.harness.report import render  # noqa: E402
from bench.harness.service import DevService  # noqa: E402
from bench.scenarios import aws_model, cold_start, cost, fairness, fanout, inbox_reads  # noqa: E402

SCENARIOS = ("fanout", "send_latency", "fairness", "inbox_reads", "cost", "aws_model", "cold_start")
LOCAL_ONLY = ("fairness", "inbox_reads", "cost", "cold_start")


def ints(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats (< 3 min)")
    p.add_argument("--tiny", action="store_true", default=os.environ.get("BENCH_TINY") == "1",
                   help="tiny sizes: checks the plumbing only (the test's mode)")
    p.add_argument("--out", type=Path, default=ROOT / "bench", help="where results.md/.json go (default bench/)")
    p.add_argument("--only", default="", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    p.add_argument("--engines", default="", help="fan-out engines: local,moto")
    p.add_argument("--fanout-sizes", type=ints, help="e.g. 1000,10000,100000")
    p.add_argument("--trials", type=int, help="fan-out trials per size")
    p.add_argument("--fairness-big", type=int, help="tenant A's audience")
    p.add_argument("--inbox-sizes", type=ints, help="e.g. 1000,10000,100000")
    p.add_argument("--cost-members", type=int)
    p.add_argument("--no-peer", action="store_true", help="skip django-notifications-hq")
    p.add_argument("--setup-peer", action="store_true", help="only create the peer's venv, then exit")
    p.add_argument("--keep-work", action="store_true", help="keep the scratch directory (logs, SQLite)")
    return p.parse_args(argv)


def configure(args: argparse.Namespace) -> Config:
    cfg = for_mode("tiny" if args.tiny else "quick" if args.quick else "full")
    if args.engines:
        cfg.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.fanout_sizes:
        cfg.fanout_sizes = {engine: list(args.fanout_sizes) for engine in cfg.fanout_sizes}
    for name, value in (("fanout_trials", args.trials),
                        ("fairness_big", args.fairness_big), ("inbox_sizes", args.inbox_sizes),
                        ("cost_members", args.cost_members)):
        if value:
            setattr(cfg, name, value)
    return cfg


def prepare_environment() -> None:
    """One set of tenant keys for the bench and every service it starts (tokens minted here verify
    there); fake AWS credentials for the engines."""
    keys = {"dev": secrets.token_urlsafe(32), "tenantA": secrets.token_urlsafe(32),
            "tenantB": secrets.token_urlsafe(32)}
    os.environ["TENANT_KEYS"] = json.dumps(keys)
    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_REGION", "us-east-1")):
        os.environ.setdefault(name, value)
    os.environ.pop("DYNAMODB_ENDPOINT", None)


class Runner:
    """Runs scenarios, records each one's result or error, and keeps a partial results file."""

    def __init__(self, ctx: Context, selected: set[str], peer_ready: threading.Thread | None = None) -> None:
        self.ctx = ctx
        self.peer_ready = peer_ready  # the peer starts beside the first service
        self.selected = selected
        self.lock = threading.Lock()  # --tiny runs the two phases at once

    def wanted(self, name: str) -> bool:
        return name in self.selected

    def attempt(self, name: str, fn: Callable[[], Any], store: Callable[[Any], None]) -> None:
        started = time.monotonic()
        say(f"{name}: start")
        try:
            store(fn())
            say(f"{name}: done in {time.monotonic() - started:.0f} s")
        except Exception:  # noqa: BLE001 - one broken scenario must not lose the others' figures
            self.ctx.results["errors"][name] = traceback.format_exc()[-4000:]
            say(f"{name}: FAILED\n{traceback.format_exc()[-2000:]}")
        with self.lock:
            self.ctx.results["durations_s"][name] = round(time.monotonic() - started, 1)
            (self.ctx.work_dir / "results.partial.json").write_text(
                json.dumps(self.ctx.results, indent=1, default=str))

    def phase(self, engine: str, ready: threading.Event | None = None) -> None:
        """Start one engine's service, run what belongs to it, stop it. The phase has its own
        context (service, engine worker); results and the peer are shared."""
        ctx = dataclasses.replace(self.ctx, service=None, engine=None, capacity=None)
        fan = engine in ctx.config.engines and (self.wanted("fanout") or self.wanted("send_latency"))
        local_work = engine == "local" and any(self.wanted(s) for s in LOCAL_ONLY)
        if not fan and not local_work:
            if ready:
                ready.set()
            return
        extra: dict[str, str] = {}
        if engine == "local":
            ctx.capacity = CapacityLog(ctx.work_dir)
            extra = service_env(ctx.capacity.path, ctx.capacity.switch, str(ROOT))
        say(f"phase {engine}: starting notifications dev ({'DynamoDB Local' if engine == 'local' else 'default engine'})")
        try:
            ctx.service = DevService.start(engine, ctx.work_dir, extra)
        except Exception:  # noqa: BLE001
            if ready:
                ready.set()
            for name in ("fanout", "send_latency") if fan else ():
                ctx.results["errors"][f"{name}[{engine}]"] = traceback.format_exc()[-4000:]
            if local_work:
                for name in LOCAL_ONLY:
                    ctx.results["errors"][name] = traceback.format_exc()[-4000:]
            say(f"phase {engine}: service did not start\n{traceback.format_exc()[-1500:]}")
            return
        ctx.results["services"][engine] = {"started_in_s": round(ctx.service.started_s, 1),
                                           "engine_endpoint": ctx.service.endpoint}
        say(f"phase {engine}: ready in {ctx.service.started_s:.1f} s at {ctx.service.base}")
        if ready:
            ready.set()
        ctx.engine = engine_worker(ctx.service, ctx.work_dir)
        if self.peer_ready:
            self.peer_ready.join()
            ctx.peer, ctx.peer_note = self.ctx.peer, self.ctx.peer_note
        try:
            if fan:
                def store_fan(pair: tuple[dict, dict]) -> None:
                    ctx.results.setdefault("fanout", {})[engine] = pair[0]
                    ctx.results.setdefault("send_latency", {})[engine] = pair[1]
                self.attempt(f"fanout[{engine}]", lambda: fanout.run(ctx, engine), store_fan)
            if engine == "local":
                def scenario(name: str, module) -> Callable[[], None]:
                    return lambda: self.attempt(name, lambda: module.run(ctx),
                                                lambda value: ctx.results.__setitem__(name, value))
                steps = [scenario(name, module) for name, module in (
                    ("fairness", fairness), ("inbox_reads", inbox_reads), ("cold_start", cold_start), ("cost", cost))
                    if self.wanted(name)]
                if ctx.config.mode == "tiny" and len(steps) > 1:
                    # plumbing only: the scenarios that share nothing run at once; cost (which reads the
                    # service-wide capacity log) runs alone, last, if selected
                    alone = steps.pop() if self.wanted("cost") else None
                    threads = [threading.Thread(target=step) for step in steps]
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                    if alone:
                        alone()
                else:
                    for step in steps:
                        step()
        finally:
            ctx.engine.close()
            ctx.service.stop()
            ctx.service = ctx.engine = None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.setup_peer:
        print(ensure_venv())
        return 0
    prepare_environment()
    cfg = configure(args)
    selected = set(s.strip() for s in args.only.split(",") if s.strip()) or set(SCENARIOS)
    unknown = selected - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    work_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    say(f"bench ({cfg.mode}): scenarios {', '.join(s for s in SCENARIOS if s in selected)}; scratch {work_dir}")
    results: dict[str, Any] = {"mode": cfg.mode, "config": dataclasses.asdict(cfg), "machine": machine.describe(),
                               "services": {}, "errors": {}, "durations_s": {}}
    ctx = Context(cfg, work_dir, results, deadline=time.monotonic() + cfg.run_budget_s)
    def start_peer() -> None:
        ctx.peer, ctx.peer_note = maybe_peer(work_dir, not args.no_peer)
        results["machine"]["peer"] = ctx.peer.versions if ctx.peer else ctx.peer_note
        say(f"peer: {results['machine']['peer']}")

    peer_ready = None
    if selected & {"fanout", "send_latency", "inbox_reads"}:
        peer_ready = threading.Thread(target=start_peer, name="peer-start")
        peer_ready.start()
    runner = Runner(ctx, selected, peer_ready)
    try:
        if cfg.mode == "tiny":  # a plumbing check: the moto phase runs beside the local one once that is up
            local_up = threading.Event()
            local = threading.Thread(target=runner.phase, args=("local", local_up), name="phase-local")
            local.start()
            local_up.wait()
            runner.phase("moto")
            local.join()
        else:  # one at a time: nothing else runs beside what is measured
            runner.phase("moto")
            runner.phase("local")
        if runner.wanted("aws_model"):
            runner.attempt("aws_model", lambda: aws_model.run(ctx), lambda v: results.__setitem__("aws_model", v))
    finally:
        if peer_ready:
            peer_ready.join()
        if ctx.peer:
            ctx.peer.close()
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["elapsed_s"] = round(elapsed(), 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (args.out / "results.md").write_text(render(results))
    say(f"wrote {args.out / 'results.md'} and results.json in {elapsed():.0f} s"
        + (f"; {len(results['errors'])} scenario error(s): {', '.join(results['errors'])}" if results["errors"] else ""))
    if args.keep_work or results["errors"]:
        say(f"scratch kept: {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
