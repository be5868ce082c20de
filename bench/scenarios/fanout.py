"""Scenarios 1 and 3: fan-out throughput, and send latency vs audience size.

For each audience size N, trials alternate (so noise hits every side alike):
  ours, 10 members: POST the broadcast, wait until complete (its POST latency is scenario 3's "10");
  ours, N members: members/s from the POST until GET /v1/broadcasts/{id} says complete, then verified
      by counting (every member's counter total, and a sample of inboxes by Query);
  the engine's ceilings on the same engine: `write_copies` alone (exact writes: conditional put + counter
      ADD in transactions), best of the thread counts, and plain BatchWriteItem (25 per request);
  the peer: notify.send to a Group of 10 and of N (it blocks for the whole fan-out).
Ratios are per trial (ours/peer, ours/ceiling, latency N/10), then the median over trials.
"""
from __future__ import annotations

import random
import time
from typing import Any

from bench.harness.context import Context
from bench.harness.engine import token
from bench.harness.progress import say
from bench.harness.stats import paired_ratio, rnd, spread

TENANT = "dev"


def _ceiling(ctx: Context, op: str, items: int) -> dict[str, Any]:
    """Recipients/s of the engine-side ceiling `op` at each thread count, and the best."""
    by_threads = {}
    for threads in ctx.config.ceiling_threads:
        seconds = ctx.engine.call(op, count=items, threads=threads)
        by_threads[threads] = items / seconds
    return {"by_threads": by_threads, "best": max(by_threads.values())}


def _verify(ctx: Context, prefix: str, size: int, expected: int) -> dict[str, Any]:
    """Every member's counter total equals the broadcasts sent to the org so far, and a sample of
    inboxes holds that many notifications (a Query of the partition)."""
    histogram = ctx.engine.call("counter_totals", tenant=TENANT, user_prefix=prefix, count=size)
    sample = [f"{prefix}-u{i:06d}" for i in sorted(random.sample(range(size), min(20, size)))]
    counts = ctx.engine.call("inbox_counts", tenant=TENANT, users=sample)
    ok = histogram == {str(expected): size} and all(c == expected for c in counts.values())
    return {"ok": ok, "counter_totals": histogram, "sampled_inboxes": len(sample),
            "sample_mismatches": {u: c for u, c in counts.items() if c != expected}}


def trials_at(size: int, configured: int | None = None) -> int:
    """Trials of one audience size: one at 100k and beyond (minutes each), else as configured."""
    return 1 if size >= 100_000 else (configured or 3)


def run(ctx: Context, engine: str) -> tuple[dict[str, Any], dict[str, Any]]:
    cfg, svc = ctx.config, ctx.service
    tok = token(TENANT)
    # what follows the local fan-out (fairness, inbox reads, cost, cold start) keeps its share
    budget = ctx.budget(cfg.fanout_budget_s[engine], reserve=cfg.fairness_budget_s + cfg.inbox_budget_s + 120
                        if engine == "local" else 0)
    small_org, small_prefix = "fo-small", f"{engine}-small"
    ctx.engine.call("seed_members", tenant=TENANT, owner=small_org, user_prefix=small_prefix, count=cfg.small_audience)
    if ctx.peer:
        ctx.peer.group(f"{engine}-small", cfg.small_audience)
    # Warm-up, untimed: the first broadcast of a fresh service pays for imports and the stream's first read.
    t0 = time.perf_counter()
    bid, _ = svc.broadcast(tok, small_org)
    svc.wait_done(tok, bid, t0)
    sizes_out: dict[str, Any] = {}
    latency_out: dict[str, Any] = {}
    last_trial_s_per_member: float | None = None  # the members' share of a trial's time, per member
    last_trial_fixed_s = 0.0  # the rest of a trial (ceilings, the peer, the 10-member broadcast)
    for size in cfg.fanout_sizes[engine]:
        if last_trial_s_per_member is not None:
            predicted = (size * last_trial_s_per_member * 2 + last_trial_fixed_s) * min(2, trials_at(size, cfg.fanout_trials))
            if not budget.allows(predicted):
                note = (f"skipped: {min(2, trials_at(size, cfg.fanout_trials))} trials predicted to take {predicted:.0f} s at the "
                        f"previous size's pace, {max(0, budget.left()):.0f} s left of this engine's "
                        f"{budget.seconds:.0f} s budget")
                say(f"fanout[{engine}] N={size}: {note}")
                sizes_out[str(size)] = {"members": size, "skipped": note}
                continue
        org, prefix = f"fo-{size}", f"{engine}-n{size}"
        seeded = ctx.engine.call("seed_members", tenant=TENANT, owner=org, user_prefix=prefix, count=size)
        say(f"fanout[{engine}] N={size}: seeded {size} members in {seeded:.1f} s")
        if ctx.peer:
            ctx.peer.group(f"{engine}-n{size}", size)
        rows: dict[str, list] = {k: [] for k in ("ours_rate", "ours_s", "lat_small", "lat_n", "wn_best", "bw_best",
                                                  "peer_rate", "peer_small_s", "peer_n_s", "small_done_s")}
        by_threads: dict[str, dict[int, list[float]]] = {"write_new": {}, "batch_write": {}}
        checks = []
        trials_done = 0
        for trial in range(trials_at(size, cfg.fanout_trials)):
            if trial >= 1 and not budget.allows(last_trial_s_per_member * size * 2 + last_trial_fixed_s):
                say(f"fanout[{engine}] N={size}: stopping after {trial} trial(s): budget")
                break
            trial_started = time.monotonic()
            # ours, 10 members (send latency's small side)
            t0 = time.perf_counter()
            bid, lat_small = svc.broadcast(tok, small_org)
            status, done_s, _ = svc.wait_done(tok, bid, t0)
            rows["lat_small"].append(lat_small)
            rows["small_done_s"].append(done_s)
            # ours, N members
            t0 = time.perf_counter()
            bid, lat_n = svc.broadcast(tok, org)
            status, seconds, polls = svc.wait_done(tok, bid, t0)
            rows["lat_n"].append(lat_n)
            rows["ours_s"].append(seconds)
            rows["ours_rate"].append(size / seconds if status["status"] == "complete" else None)
            check = _verify(ctx, prefix, size, trial + 1)
            check.update(status=status["status"], delivered=status.get("delivered"), polls=polls)
            checks.append(check)
            # the engine's ceilings, same engine, same moment
            items = min(cfg.ceiling_items[engine], max(size, 50))
            wn = _ceiling(ctx, "write_new_seconds", items)
            bw = _ceiling(ctx, "batch_write_seconds", items)
            rows["wn_best"].append(wn["best"])
            rows["bw_best"].append(bw["best"])
            for name, result in (("write_new", wn), ("batch_write", bw)):
                for threads, rate in result["by_threads"].items():
                    by_threads[name].setdefault(threads, []).append(rate)
            # the peer
            if ctx.peer:
                rows["peer_small_s"].append(ctx.peer.fanout(f"{engine}-small", cfg.small_audience,
                                                            f"b-{engine}-small-{size}-{trial}"))
                peer_s = ctx.peer.fanout(f"{engine}-n{size}", size, f"b-{engine}-{size}-{trial}")
                rows["peer_n_s"].append(peer_s)
                rows["peer_rate"].append(size / peer_s)
            trials_done += 1
            # ours and (faster, mostly) the peer and the check scale with the members; the rest does not
            trial_s = time.monotonic() - trial_started
            last_trial_s_per_member = seconds / size
            last_trial_fixed_s = max(0.0, trial_s - 2 * seconds)
            say(f"fanout[{engine}] N={size} trial {trial + 1}: ours {size / seconds:,.0f}/s "
                f"({'verified' if check['ok'] else 'NOT VERIFIED'}), write_new ceiling {wn['best']:,.0f}/s, "
                f"BatchWrite {bw['best']:,.0f}/s" + (f", peer {rows['peer_rate'][-1]:,.0f}/s" if ctx.peer else ""))
        sizes_out[str(size)] = {
            "members": size, "trials": trials_done,
            "ours": {"members_per_s": spread(rows["ours_rate"]), "seconds": spread(rows["ours_s"]),
                     "verified": all(c["ok"] for c in checks), "checks": checks},
            "ceiling_write_new": {"best_members_per_s": spread(rows["wn_best"]),
                                  "by_threads": {t: spread(v) for t, v in by_threads["write_new"].items()},
                                  "sample_recipients": min(cfg.ceiling_items[engine], max(size, 50))},
            "ceiling_batch_write": {"best_items_per_s": spread(rows["bw_best"]),
                                    "by_threads": {t: spread(v) for t, v in by_threads["batch_write"].items()}},
            "peer": {"members_per_s": spread(rows["peer_rate"])} if ctx.peer else {"note": ctx.peer_note},
            "ratios": {"ours_over_peer": rnd(paired_ratio(rows["ours_rate"], rows["peer_rate"])),
                       "ours_over_write_new_ceiling": rnd(paired_ratio(rows["ours_rate"], rows["wn_best"])),
                       "ours_over_batch_write_ceiling": rnd(paired_ratio(rows["ours_rate"], rows["bw_best"]))},
        }
        latency_out[str(size)] = {
            "members": size, "small_members": cfg.small_audience,
            "ours_post_s": {"small": spread(rows["lat_small"]), "n": spread(rows["lat_n"])},
            "ours_small_complete_s": spread(rows["small_done_s"]),
            "peer_send_s": {"small": spread(rows["peer_small_s"]), "n": spread(rows["peer_n_s"])},
            "ratios": {"ours_n_over_small": rnd(paired_ratio(rows["lat_n"], rows["lat_small"])),
                       "peer_n_over_small": rnd(paired_ratio(rows["peer_n_s"], rows["peer_small_s"])),
                       "ours_over_peer_at_n": rnd(paired_ratio(rows["lat_n"], rows["peer_n_s"]))},
        }
    return sizes_out, latency_out
