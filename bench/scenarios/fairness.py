"""Scenario 2: fairness between tenants. Tenant B's 10-member broadcast, sent right after tenant A's
big broadcast (A's job queued first, B's just behind it), vs the same broadcast sent on an idle
service; alternated per trial. (Waiting for A to show progress first would let a design that
delivers a whole first chunk before reporting any progress finish A's small audiences before B.)

A fair design (a queue per tenant, or chunks interleaved across jobs) keeps B's time close to its
idle time; a single FIFO of chunks makes B wait for A's whole audience.
"""
from __future__ import annotations

import time
from typing import Any

from bench.harness.context import Context
from bench.harness.engine import token
from bench.harness.progress import say
from bench.harness.stats import paired_ratio, rnd, spread


FLOOR = 100  # tenant A never shrinks below 10 x tenant B's audience


def _audience(ctx: Context, wanted: int, seconds: float) -> tuple[int, str | None]:
    """Tenant A's audience: as configured, unless the local fan-out rate measured earlier in this run
    says one trial would not fit the budget; then the largest of wanted/10, wanted/100 that does."""
    sizes = ctx.results.get("fanout", {}).get("local", {})
    rates = [s["ours"]["members_per_s"]["median"] for s in sizes.values() if "ours" in s
             and s["ours"]["members_per_s"]["median"]]
    if not rates:
        return wanted, None
    rate = rates[-1]
    floor = min(wanted, FLOOR)
    for size in (wanted, wanted // 10, wanted // 100):
        if size >= floor and size / rate * 1.5 <= seconds:
            break
    else:
        size = floor
    if size == wanted:
        return wanted, None
    return size, (f"tenant A reduced from {wanted:,} to {size:,}: at the {rate:,.0f} members/s measured above, "
                  f"{wanted:,} would take {wanted / rate:,.0f} s of the {max(0, seconds):,.0f} s left")


def run(ctx: Context) -> dict[str, Any]:
    cfg, svc = ctx.config, ctx.service
    budget = ctx.budget(cfg.fairness_budget_s, reserve=cfg.inbox_budget_s + 90)
    small = cfg.small_audience
    big, note = _audience(ctx, cfg.fairness_big, budget.left())
    ctx.engine.call("seed_members", tenant="tenantA", owner="fair-a", user_prefix="fa", count=big)
    ctx.engine.call("seed_members", tenant="tenantB", owner="fair-b", user_prefix="fb", count=small)
    tok_a, tok_b = token("tenantA"), token("tenantB")
    t0 = time.perf_counter()  # warm-up, untimed: a fresh service's first broadcast pays for imports
    svc.wait_done(tok_b, svc.broadcast(tok_b, "fair-b")[0], t0)
    alone, loaded, a_progress, a_total = [], [], [], []
    for trial in range(cfg.fairness_trials):
        if a_total and not budget.allows(a_total[-1] + 2 * alone[-1]):
            note = (note + "; " if note else "") + f"stopped after {trial} trial(s): budget"
            break
        t0 = time.perf_counter()
        bid, _ = svc.broadcast(tok_b, "fair-b")
        _, seconds, _ = svc.wait_done(tok_b, bid, t0)
        alone.append(seconds)

        a_start = time.perf_counter()
        a_bid, _ = svc.broadcast(tok_a, "fair-a")  # A's job is queued first, B's right behind it
        t0 = time.perf_counter()
        bid, _ = svc.broadcast(tok_b, "fair-b")
        _, seconds, _ = svc.wait_done(tok_b, bid, t0)
        loaded.append(seconds)
        a_status = svc.request("GET", f"/v1/broadcasts/{a_bid}", tok_a).json()
        a_progress.append((a_status.get("delivered") or 0) / big)
        _, a_seconds, _ = svc.wait_done(tok_a, a_bid, a_start)
        a_total.append(a_seconds)
        say(f"fairness trial {trial + 1}: B alone {alone[-1]:.2f} s, B beside A's {big:,} {loaded[-1]:.2f} s "
            f"(A {a_progress[-1]:.0%} done when B completed; A took {a_seconds:.1f} s)")
    return {"engine": ctx.service.engine, "tenant_a_members": big, "note": note, "tenant_b_members": small,
            "trials": len(loaded), "b_alone_s": spread(alone), "b_beside_a_s": spread(loaded),
            "a_fraction_done_when_b_complete": spread(a_progress), "a_total_s": spread(a_total),
            "ratio_b_beside_a_over_alone": rnd(paired_ratio(loaded, alone)),
            "b_over_a_total": rnd(paired_ratio(loaded, a_total))}
