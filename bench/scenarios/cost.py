"""Scenario 5: capacity units per operation, measured on DynamoDB Local through the running service.

The service runs with the capture hook (bench/harness/capture/sitecustomize.py): every DynamoDB call
it makes asks for ReturnConsumedCapacity=INDEXES and is logged while the switch is on. Each figure
is the capacity logged between two marks around public API calls, divided by what they did.
The bench's own GET /v1/broadcasts/{id} polls are measured apart and subtracted.

DynamoDB Local 1.11.478 does return ConsumedCapacity, but not by the documented rules for
transactions: it reports 4 WCU per table for a TransactWriteItems of small items whether it holds 1
or 10 of them (the calibration records this in every run). So `write_units` recomputes each
transaction from the items the hook saw (capacity.transaction_units); every other call keeps the
engine's figure (`write_units_engine` is the engine's raw total).
The ideal minimum beside each figure is computed from the stored item sizes by DynamoDB's rules.
"""
from __future__ import annotations

import math
import time
from typing import Any

from bench.harness.capacity import Usage
from bench.harness.context import Context
from bench.harness.engine import token
from bench.harness.progress import say

TENANT = "dev"
KB = 1024


def _measure(ctx: Context, fn, keys: dict) -> tuple[Usage, Any]:
    mark = ctx.capacity.mark()
    result = fn()  # waits for any background work the call started (a broadcast, a mark-all job)
    return ctx.capacity.since(mark, keys), result


def _ideal(sizes: dict[str, int], members: int, chunk: int) -> dict[str, dict[str, Any]]:
    """The least capacity the agreed design needs per operation, from the stored item sizes."""
    item = sizes.get("inbox_item", 400)
    counter = sizes.get("counter_item", 60)
    member = sizes.get("member_item", 100)
    w = lambda size: math.ceil(size / KB)  # noqa: E731 - WCU per 1 KB written
    exact = 2 * w(item) + 2 * w(counter)  # conditional put + counter update, one transaction (2x each)
    unread_index = w(item)  # the sparse unread index entry the unread listing needs
    page_bytes = 20 * item
    ideal = {
        "send_to_one": {"write_units": exact + unread_index, "read_units": 0.5,
                        "why": "one transaction: the conditional put of a <=1 KB item (2 WCU) and the counter "
                               "ADD (2 WCU), plus its entry in the unread index (1 WCU); reading the "
                               "recipient's settings is one eventually consistent read (0.5 RCU)"},
        "fanout_recipient_200B": {"write_units": exact + unread_index,
                                  "read_units": round(0.5 + math.ceil(chunk * member / (4 * KB)) * 0.5 / chunk, 3),
                                  "why": "the same writes per recipient as a send to one; reads: the settings "
                                         "read (0.5 RCU) and 1/500 of an eventually consistent Query of 500 "
                                         "member items; the body is written once per broadcast"},
        "fanout_recipient_60KB": {"write_units": exact + unread_index,
                                  "read_units": round(0.5 + math.ceil(chunk * member / (4 * KB)) * 0.5 / chunk, 3),
                                  "why": "identical to 200 B when the body is stored once and referenced: "
                                         f"~{2 * 60} WCU for the body, once, spread over {members} recipients; "
                                         "copying it into each inbox would cost ~60 WCU x 2 (transaction) "
                                         "+ ~60 per index entry, per recipient"},
        "page_read": {"write_units": 0, "read_units": math.ceil(page_bytes / (4 * KB)) * 0.5,
                      "why": f"one eventually consistent Query of 20 items of ~{item} B "
                             f"({page_bytes / KB:.1f} KB, 0.5 RCU per 4 KB)"},
        "unread_count": {"write_units": 0, "read_units": 0.5,
                         "why": "one eventually consistent GetItem of the counter item (0.5 RCU)"},
        "mark_one_read": {"write_units": 2 * w(item) + 2 * w(counter) + w(item), "read_units": 0.5,
                          "why": "one transaction: the item's update and the counter's (2 WCU each), plus "
                                 "deleting its unread index entry (1 WCU); reading the item first (0.5 RCU)"},
        "mark_all_read_per_item": {"write_units": 2 * w(item) + 2 * w(counter) / 25 + w(item),
                                   "read_units": round(item / (4 * KB) * 0.5, 3),
                                   "why": "per item: its update (2 WCU, transactional) and its unread index "
                                          "entry (1 WCU), with the counter update shared by a transaction's "
                                          "items; reading the unread index page by page"},
    }
    for label in ("fanout_recipient_200B", "fanout_recipient_60KB"):
        ideal[f"{label}_marginal"] = dict(ideal[label], why="the same, without the broadcast's fixed cost")
    return ideal


def run(ctx: Context) -> dict[str, Any]:
    cfg, svc = ctx.config, ctx.service
    members = cfg.cost_members
    tok = token(TENANT)
    calib = ctx.engine.call("transaction_calibration")
    keys = ctx.engine.call("index_keys")  # lets transactions be recomputed by the documented rules

    def measure(fn) -> tuple[Usage, Any]:
        return _measure(ctx, fn, keys)
    ctx.engine.call("seed_members", tenant=TENANT, owner="cost-org", user_prefix="cost", count=members)
    ctx.engine.call("seed_members", tenant=TENANT, owner="cost-org-small", user_prefix="cost-small",
                    count=max(1, members // 10))
    reader_size = max(cfg.cost_inbox, 25)  # the page read takes 20
    ctx.engine.call("seed_inbox", tenant=TENANT, user="cost-reader", count=reader_size)
    ctx.engine.call("seed_inbox", tenant=TENANT, user="cost-markall", count=reader_size)
    reader = token(TENANT, "cost-reader")
    ctx.capacity.enable()
    out: dict[str, Any] = {"engine": svc.engine, "transaction_calibration": calib, "measured": {}}
    try:
        def per(name: str, usage: Usage, count: float) -> None:
            out["measured"][name] = usage.per(count)

        # the bench's own broadcast status polls, to subtract
        probe_id, _ = svc.broadcast(tok, "cost-org", "warm-up")  # also warms every code path once
        svc.wait_done(tok, probe_id, time.perf_counter())
        poll_calls = 3
        poll, _ = measure(lambda: [svc.request("GET", f"/v1/broadcasts/{probe_id}", tok)
                                         for _ in range(poll_calls)])
        per("status_poll", poll, poll_calls)

        sends = 3
        usage, _ = measure(lambda: [svc.request("POST", "/v1/notifications", tok, {
            "recipients": [f"cost-one-{i}"], "type": "Bench", "message": "m" * 200}, expect=(201,))
            for i in range(sends)])
        per("send_to_one", usage, sends)

        # Two audiences per message size: the difference is the marginal cost of a recipient (chunks
        # included), the rest the broadcast's fixed cost (its item, job, body), which a large
        # audience spreads to nothing.
        small = max(1, members // 10)
        for label, message in (("fanout_recipient_200B", "m" * 200),
                               ("fanout_recipient_60KB", "m" * cfg.cost_big_message_bytes)):
            usages = {}
            for org, count in (("cost-org-small", small), ("cost-org", members)):
                def fan() -> int:
                    start = time.perf_counter()
                    bid, _ = svc.broadcast(tok, org, message)
                    status, _, polls = svc.wait_done(tok, bid, start)
                    assert status["status"] == "complete", status
                    return polls
                usage, polls = measure(fan)
                usages[count] = usage.minus(poll, polls / poll_calls)
            per(label, usages[members], members)
            marginal = usages[members].minus(usages[small], 1)
            per(f"{label}_marginal", marginal, members - small)
            m = out["measured"][f"{label}_marginal"]
            whole = usages[small].per(1)
            out.setdefault("fixed_per_broadcast", {})[label] = {
                "read_units": round(whole["read_units"] - m["read_units"] * small, 2),
                "write_units": round(whole["write_units"] - m["write_units"] * small, 2)}
            out.setdefault("per_recipient_at", {})[label] = {
                str(n): {k: round(m[k] + out["fixed_per_broadcast"][label][k] / n, 3)
                         for k in ("read_units", "write_units")} for n in (10_000, 1_000_000)}
        out["cost_members_small"] = small

        calls = 3
        usage, pages = measure(lambda: [svc.request("GET", "/v1/users/me/notifications?limit=20", reader).json()
                                              for _ in range(calls)])
        per("page_read", usage, calls)
        usage, _ = measure(lambda: [svc.request("GET", "/v1/users/me/notifications/unread-count", reader)
                                          for _ in range(calls)])
        per("unread_count", usage, calls)
        ids = [n["id"] for n in pages[0]["notifications"][:calls]]
        usage, _ = measure(lambda: [svc.request("PATCH", f"/v1/notifications/{i}", reader, {"read": True})
                                          for i in ids])
        per("mark_one_read", usage, len(ids))

        marker = token(TENANT, "cost-markall")

        def mark_all() -> int:
            start = time.perf_counter()
            r = svc.request("POST", "/v1/users/me/notifications/read", marker, {"all": True}, expect=(200, 202))
            if r.status_code == 202:
                return svc.wait_done(marker, r.json()["jobId"], start)[2]
            return 0
        usage, polls = measure(mark_all)
        per("mark_all_read_per_item", usage.minus(poll, polls / poll_calls), reader_size)
        out["mark_all_items"] = reader_size
    finally:
        ctx.capacity.disable()
    sizes = ctx.engine.call("stored_sizes", tenant=TENANT, user="cost-u000000", owner="cost-org", member="cost-u000000")
    from chalicelib.settings import get_settings

    chunk = get_settings().fanout_chunk_size  # the service runs with the same (default) setting
    out.update(members=members, stored_item_bytes=sizes, ideal=_ideal(sizes, members, chunk),
               chunk_size=chunk)
    fan = out["measured"]["fanout_recipient_200B"]
    chunks = math.ceil(members / chunk)
    out["requests_per_chunk_measured"] = {op: round(n * members / chunks, 2) for op, n in fan["requests"].items()}
    out["chunks_measured"] = chunks
    say("cost: " + ", ".join(f"{k} {v['write_units']:.2f} WCU / {v['read_units']:.2f} RCU"
                             for k, v in out["measured"].items()))
    return out
