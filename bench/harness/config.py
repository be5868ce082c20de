"""Sizes, repeats and time budgets for each mode: full (`make bench`), --quick (< 3 min) and --tiny
(the test's plumbing check, < 60 s). Any size can be overridden on the command line."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Config:
    mode: str
    engines: list[str]  # where fan-out throughput is measured: "local", "moto"
    fanout_sizes: dict[str, list[int]]  # per engine
    fanout_trials: int
    small_audience: int  # the "10" of send latency 10 vs N, and tenant B's broadcast
    ceiling_items: dict[str, int]  # recipients per write-ceiling sample, per engine
    ceiling_threads: list[int]
    fanout_budget_s: dict[str, float]  # per engine: sizes predicted to overrun are skipped
    fairness_engine: str
    fairness_big: int
    fairness_trials: int
    inbox_sizes: list[int]
    read_repeats: int
    deep_page: int  # the page number fetched after following cursors
    page_limit: int
    markall_trials: int
    markall_sizes: list[int]  # inboxes marked all read (fresh ones per trial)
    inbox_budget_s: float
    cost_members: int
    cost_inbox: int  # the inbox read and marked all read by the cost scenario
    cost_big_message_bytes: int
    cold_start_repeats: int
    fairness_budget_s: float = 60.0
    run_budget_s: float = 1680.0  # the whole run (full: 28 min, so it ends within 30)
    model_sizes: list[int] = field(default_factory=lambda: [10_000, 100_000, 1_000_000])


def for_mode(mode: str) -> Config:
    """The sizes of each mode. Full: what the brief asks, bounded by the budgets. Quick: sizes a
    loaded 2-core machine fans out in seconds. Tiny: a few members, to exercise every code path."""
    common = dict(engines=["local", "moto"], small_audience=10, fairness_engine="local", page_limit=20,
                  cost_big_message_bytes=60_000)
    if mode == "tiny":  # DynamoDB Local's fan-out path is exercised by the cost scenario
        common.update(engines=["moto"], page_limit=5)
        return Config(
            mode, **common, fanout_sizes={"moto": [30], "local": [30]}, fanout_trials=1,
            ceiling_items={"local": 20, "moto": 20}, ceiling_threads=[2], fanout_budget_s={"local": 20, "moto": 20},
            fairness_big=40, fairness_trials=1, inbox_sizes=[10, 30], read_repeats=1, deep_page=2,
            markall_trials=1, markall_sizes=[10, 30], inbox_budget_s=20, cost_members=10, cost_inbox=25,
            cold_start_repeats=1, fairness_budget_s=20, run_budget_s=120)
    if mode == "quick":
        return Config(
            mode, **common, fanout_sizes={"moto": [200], "local": [300]}, fanout_trials=2,
            ceiling_items={"local": 100, "moto": 40}, ceiling_threads=[1, 2, 4, 8],
            fanout_budget_s={"local": 45, "moto": 30}, fairness_big=500, fairness_trials=2,
            inbox_sizes=[300, 3000], read_repeats=5, deep_page=10, markall_trials=1, markall_sizes=[50, 500],
            inbox_budget_s=30, cost_members=100, cost_inbox=120, cold_start_repeats=3, fairness_budget_s=30,
            run_budget_s=170)
    return Config(
        "full", **common, fanout_sizes={"moto": [1000, 10_000, 100_000], "local": [1000, 10_000, 100_000]},
        fanout_trials=3, ceiling_items={"local": 1000, "moto": 300}, ceiling_threads=[1, 2, 4, 8],
        fanout_budget_s={"local": 720, "moto": 720}, fairness_big=100_000, fairness_trials=3,
        inbox_sizes=[1000, 10_000, 100_000], read_repeats=15, deep_page=25, markall_trials=2,
        markall_sizes=[1000, 10_000, 100_000], inbox_budget_s=420, cost_members=1000, cost_inbox=1000,
        cold_start_repeats=10, fairness_budget_s=240)
