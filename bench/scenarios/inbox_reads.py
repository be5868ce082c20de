"""Scenario 4: inbox reads vs inbox size, ours over HTTP and the peer's equivalents in-process.

Per size S, one user holds S unread notifications (seeded straight into the tables / bulk-inserted
for the peer). Timed, interleaved over sizes and sides, repeat after repeat: the first page; a deep
page (the same page number for every size, reached once by following cursors, then fetched with
that cursor; the peer: Paginator's page of that number); the unread count. Mark-all-read runs on a
fresh inbox of each of its sizes per trial (ours: POST .../read {"all": true}, and when that answers 202,
until GET /v1/broadcasts/{jobId} says complete; the peer: mark_all_as_read()).
Growth ratio = largest size / smallest, per repeat, median. 1.0 means the cost does not grow.

Not like for like: ours is measured from an HTTP client (token check, JSON, chalice local), the
peer from inside its process (an ORM call on SQLite, no HTTP); compare growth, not absolute times.
"""
from __future__ import annotations

import time
from typing import Any

from bench.harness.context import Context
from bench.harness.engine import token
from bench.harness.progress import say
from bench.harness.stats import paired_ratio, rnd, spread

TENANT = "dev"
READ_OPS = ("first_page", "deep_page", "unread_count")


def _follow(ctx: Context, tok: str, pages: int, limit: int) -> str:
    """The cursor of page `pages` + 1 of the caller's inbox."""
    cursor = None
    for _ in range(pages):
        path = f"/v1/users/me/notifications?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        cursor = ctx.service.request("GET", path, tok).json()["cursor"]
        if not cursor:
            raise RuntimeError("the inbox ended before the deep page")
    return cursor


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _mark_all_ours(ctx: Context, user: str) -> float:
    tok = token(TENANT, user)
    start = time.perf_counter()
    r = ctx.service.request("POST", "/v1/users/me/notifications/read", tok, {"all": True}, expect=(200, 202))
    if r.status_code == 202:
        status, seconds, _ = ctx.service.wait_done(tok, r.json()["jobId"], start)
        if status["status"] != "complete":
            raise RuntimeError(f"mark-all job {status}")
        return seconds
    return time.perf_counter() - start


def run(ctx: Context) -> dict[str, Any]:
    cfg, svc, peer = ctx.config, ctx.service, ctx.peer
    sizes, limit = list(cfg.inbox_sizes), cfg.page_limit
    deep = max(1, min(cfg.deep_page - 1, (min(sizes) - 1) // limit))  # cursors followed
    budget = ctx.budget(cfg.inbox_budget_s, reserve=90)  # cost and cold start come after
    tokens, cursors = {}, {}
    skipped: dict[str, str] = {}
    pace = None  # seconds per item seeded, from the previous size
    for index, size in enumerate(list(sizes)):
        # the first two sizes always (a growth ratio needs two); larger ones if the budget allows
        if index >= 2 and pace is not None and not budget.allows(3 * pace * size):
            skipped[str(size)] = f"skipped: seeding predicted {pace * size:.0f} s, {budget.left():.0f} s left"
            sizes.remove(size)
            continue
        started = time.monotonic()
        user = f"ib-{size}"
        seconds = ctx.engine.call("seed_inbox", tenant=TENANT, user=user, count=size)
        if peer:
            peer.call("make_inbox", user=user, size=size)
        tokens[size] = token(TENANT, user)
        cursors[size] = _follow(ctx, tokens[size], deep, limit)
        pace = (time.monotonic() - started) / size
        say(f"inbox reads: inbox of {size:,} seeded in {seconds:.1f} s, cursor of page {deep + 1} found")
    samples: dict[str, dict[int, list[float]]] = {f"{side}_{op}": {s: [] for s in sizes}
                                                  for side in ("ours", "peer") for op in READ_OPS}
    for _ in range(cfg.read_repeats):
        for size in sizes:
            tok, user = tokens[size], f"ib-{size}"
            samples["ours_first_page"][size].append(_timed(
                lambda: svc.request("GET", f"/v1/users/me/notifications?limit={limit}", tok)))
            samples["ours_deep_page"][size].append(_timed(
                lambda: svc.request("GET", f"/v1/users/me/notifications?limit={limit}&cursor={cursors[size]}", tok)))
            samples["ours_unread_count"][size].append(_timed(
                lambda: svc.request("GET", "/v1/users/me/notifications/unread-count", tok)))
            if peer:
                samples["peer_first_page"][size].append(
                    peer.call("page", user=user, number=1, per_page=limit)["seconds"])
                samples["peer_deep_page"][size].append(
                    peer.call("page", user=user, number=deep + 1, per_page=limit)["seconds"])
                samples["peer_unread_count"][size].append(peer.call("unread_count", user=user)["seconds"])
    say("inbox reads: reads timed; mark-all-read next")
    marks = cfg.markall_sizes
    mark = {"ours_mark_all": {s: [] for s in marks}, "peer_mark_all": {s: [] for s in marks}}
    pace = None  # seconds per item of the last mark-all trial (seeding included)
    for trial in range(cfg.markall_trials):
        for index, size in enumerate(marks):
            if (trial > 0 or index >= 2) and pace is not None and not budget.allows(pace * size):
                skipped[f"mark_all {size}"] = (f"trial {trial + 1} skipped: {pace * size:.0f} s predicted, "
                                               f"{budget.left():.0f} s left")
                continue
            started = time.monotonic()
            user = f"ma-{size}-{trial}"
            ctx.engine.call("seed_inbox", tenant=TENANT, user=user, count=size)
            mark["ours_mark_all"][size].append(_mark_all_ours(ctx, user))
            if peer:
                peer.call("make_inbox", user=user, size=size)
                result = peer.call("mark_all", user=user)
                assert result["marked"] == size, result
                mark["peer_mark_all"][size].append(result["seconds"])
            pace = (time.monotonic() - started) / size
        say(f"inbox reads: mark-all trial {trial + 1}: " + ", ".join(
            f"{s:,}: ours {mark['ours_mark_all'][s][-1]:.3f} s" for s in marks if mark["ours_mark_all"][s]))
    out: dict[str, Any] = {"engine": svc.engine, "sizes": sizes, "mark_all_sizes": marks, "page_limit": limit,
                           "deep_page_number": deep + 1,
                           "repeats": cfg.read_repeats, "mark_all_trials": cfg.markall_trials, "skipped": skipped,
                           "seconds": {}, "growth_largest_over_smallest": {}}
    for name, by_size in {**samples, **mark}.items():
        if not any(by_size.values()):
            continue
        small, large = min(by_size), max(by_size)
        out["seconds"][name] = {str(s): spread(v) for s, v in by_size.items()}
        out["growth_largest_over_smallest"][name] = rnd(paired_ratio(by_size[large], by_size[small]))
    if not peer:
        out["peer_note"] = ctx.peer_note
    return out
