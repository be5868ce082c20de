"""Scenario 6: a model of the fan-out's time on AWS for 10k, 100k and 1M members.

Design modelled: a stream-triggered coordinator cuts the audience into chunks (FANOUT_CHUNK_SIZE,
500) and enqueues up to 100 per step on SQS (SendMessageBatch, 10 per call), its cursor update
being the next step's stream record; writer Lambdas (SQS mapping with MaximumConcurrency) each
deliver one chunk: one consistent Query of the members, BatchGets of their settings (100 keys per
call), TransactWriteItems of 50 recipients (conditional put + counter ADD each) 8 at a time, then
one transaction marking the chunk done and adding to the job's progress.

Time is simulated in 50 ms steps: writer concurrency grows as Lambda scales SQS pollers (5 at
first, +300 per minute, up to MaximumConcurrency); each writer takes the modelled chunk time; the
delivery rate is capped by every table's (and GSI's) write throughput divided by the write units one
recipient costs there (measured by the cost scenario), and by the tenant index's 16 shards x 1,000
WCU/s. Every input is listed in the output with where it comes from.
"""
from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import Any

from bench.harness.context import Context
from bench.harness.progress import say

ROOT = Path(__file__).resolve().parents[2]

# Documented service figures (AWS docs), and the assumptions the docs do not pin down.
DOCUMENTED = {
    "sqs_initial_concurrency": (5, "Lambda + SQS: processing starts with 5 concurrent batches"),
    "sqs_scale_per_minute": (300, "Lambda + SQS: up to 300 more concurrent invocations per minute"),
    "partition_wcu_per_s": (1000, "DynamoDB: about 1,000 WCU/s per partition"),
    "new_on_demand_wru_per_s": (4000, "DynamoDB on-demand: a new table's warm throughput, 4,000 write units/s"),
    "prewarmed_wru_per_s": (40000, "DynamoDB: WarmThroughput can pre-warm a table (default table quota "
                                   "40,000 WCU/s)"),
    "transaction_write_factor": (2, "DynamoDB: a transactional write costs 2 WCU per KB"),
    "stream_to_lambda_s": (0.5, "assumed: DynamoDB Streams record to Lambda invocation (pollers read "
                                "each shard about 4 times a second; typically sub-second)"),
    "query_s": (0.010, "assumed: a consistent Query of 500 member items (~50 KB), single-digit to low "
                       "double-digit ms"),
    "keys_query_page_s": (0.030, "assumed: a 1 MB keys-only Query page (the coordinator's boundaries)"),
    "batch_get_s": (0.010, "assumed: BatchGetItem of 100 small items"),
    "transact_50_s": (0.040, "assumed: TransactWriteItems of 100 actions (two-phase, each item touched twice)"),
    "transact_small_s": (0.015, "assumed: the chunk-done transaction (2 items)"),
    "send_message_batch_s": (0.010, "assumed: SQS SendMessageBatch of 10"),
    "invoke_overhead_s": (0.020, "assumed: SQS receive -> warm invocation -> delete, per chunk"),
    "lambda_runtime_init_s": (0.150, "assumed: Lambda's own init before the handler's imports"),
}


def _stack_concurrency() -> tuple[int, str]:
    """MaximumConcurrency of the writers' SQS mapping from infra/stack.py, else the default 100."""
    text = (ROOT / "infra" / "stack.py").read_text()
    match = re.search(r"^STAGES[^=]*=\s*(\{.*?^\})", text, re.S | re.M)
    if match:
        try:
            stages = ast.literal_eval(match.group(1))
            for key, value in stages.get("prod", {}).items():
                if "concurrency" in key.lower() and isinstance(value, int):
                    return value, f"infra/stack.py STAGES['prod'][{key!r}]"
        except (ValueError, SyntaxError):
            pass
    match = re.search(r"maximum_concurrency\s*=\s*(\d+)", text)
    if match:
        return int(match.group(1)), "infra/stack.py maximum_concurrency="
    return 100, "default 100: infra/stack.py has no SQS writer mapping yet"


def _settings() -> dict[str, Any]:
    from chalicelib.settings import Settings

    fields = Settings.model_fields
    return {"chunk": fields["fanout_chunk_size"].default, "tx_actions": fields["transaction_max_actions"].default,
            "parallel": fields["fanout_parallelism"].default}


def _wcu_per_recipient(cost: dict[str, Any] | None) -> tuple[dict[str, float], str]:
    """Write units per fan-out recipient, per throughput pool (a table with its LSIs, or a GSI),
    from the cost scenario (rescaled to DynamoDB's documented transactional charge)."""
    measured = (cost or {}).get("measured", {})
    fan = measured.get("fanout_recipient_200B_marginal") or measured.get("fanout_recipient_200B")
    if not fan or not fan.get("write_units"):
        return {"inbox": 4.0, "inbox:by_tenant": 1.0, "counters": 2.0}, "assumed (no cost measurement)"
    pools: dict[str, float] = {}
    for target, units in fan["by_target"].items():
        table, _, index = target.partition(":")
        is_gsi = index and index.startswith("by_tenant")  # LSIs share their table's throughput
        pool = target if is_gsi else table
        pools[pool] = pools.get(pool, 0.0) + units
    return ({k: round(v, 3) for k, v in pools.items() if v > 0},
            "measured: cost scenario, fan-out of a 200 B message, marginal per recipient (documented rules)")


def simulate(members: int, *, chunk: int, per_step: int, max_conc: int, chunk_s: float, step_s: float,
             cold_s: float, caps: dict[str, float], dt: float = 0.05) -> dict[str, Any]:
    """Seconds until every member is delivered, and what bound the rate."""
    chunks_total = math.ceil(members / chunk)
    t, enqueued, delivered = 0.0, 0, 0.0
    next_step = DOCUMENTED["stream_to_lambda_s"][0]
    first_enqueue = None
    warm = 0  # writer instances already initialised
    init_debt = 0.0  # writer-seconds of cold starts not yet paid
    bound_time: dict[str, float] = {}
    rate_cap = min(caps.values()) if caps else math.inf
    cap_name = min(caps, key=caps.get) if caps else "none"
    peak = 0
    while delivered < members - 1e-6:
        if enqueued < chunks_total and t >= next_step:
            enqueued = min(chunks_total, enqueued + per_step)
            first_enqueue = t if first_enqueue is None else first_enqueue
            next_step = t + step_s
        conc = 0
        if first_enqueue is not None:
            scale = DOCUMENTED["sqs_initial_concurrency"][0] + DOCUMENTED["sqs_scale_per_minute"][0] * (
                t - first_enqueue) / 60
            backlog = math.ceil(enqueued - delivered / chunk)
            conc = int(min(max_conc, scale, max(0, backlog)))
        peak = max(peak, conc)
        if conc > warm:
            init_debt += (conc - warm) * cold_s  # each new writer instance initialises once
            warm = conc
        usable = conc * dt  # writer-seconds this step
        paid = min(init_debt, usable)
        init_debt -= paid
        writer_rate = (usable - paid) / chunk_s * chunk / dt  # recipients/s
        available = enqueued * chunk - delivered
        rate = min(writer_rate, rate_cap, available / dt)
        reason = ("coordinator (nothing enqueued)" if rate == available / dt and available / dt < writer_rate
                  else cap_name if rate == rate_cap else "writer concurrency")
        bound_time[reason] = bound_time.get(reason, 0.0) + dt
        delivered = min(float(members), delivered + rate * dt)
        t += dt
        if t > 86400:
            break
    return {"seconds": round(t, 1), "members_per_s": round(members / t), "peak_writers": peak,
            "bound_by_seconds": {k: round(v, 1) for k, v in sorted(bound_time.items(), key=lambda kv: -kv[1])}}


def run(ctx: Context) -> dict[str, Any]:
    settings = _settings()
    max_conc, conc_source = _stack_concurrency()
    chunk, per_tx = settings["chunk"], settings["tx_actions"] // 2
    txs = math.ceil(chunk / per_tx)
    gets = math.ceil(chunk / 100)
    waves = math.ceil(txs / settings["parallel"])
    d = {k: v for k, (v, _) in DOCUMENTED.items()}
    chunk_s = (d["invoke_overhead_s"] + d["query_s"] + gets * d["batch_get_s"] + waves * d["transact_50_s"]
               + d["transact_small_s"])
    per_step = 100
    key_pages = math.ceil(per_step * chunk * 40 / 1_000_000)  # ~40 B per member key
    step_s = d["stream_to_lambda_s"] + key_pages * d["keys_query_page_s"] + math.ceil(per_step / 10) * d[
        "send_message_batch_s"] + 0.005
    cold = ctx.results.get("cold_start", {}).get("app", {}).get("import_app_s", {}).get("median")
    cold_s = d["lambda_runtime_init_s"] + (cold if cold is not None else 1.0)
    wcu, wcu_source = _wcu_per_recipient(ctx.results.get("cost"))
    from chalicelib.store.inbox import TENANT_SHARDS

    def caps(table_wru: float) -> dict[str, float]:
        out = {f"{pool} write throughput ({table_wru:,.0f} WRU/s)": table_wru / units for pool, units in wcu.items()}
        gsi = sum(u for p, u in wcu.items() if "by_tenant" in p)
        if gsi:
            out[f"tenant index: {TENANT_SHARDS} shards x 1,000 WCU/s"] = TENANT_SHARDS * d["partition_wcu_per_s"] / gsi
        return out

    job_item_wcu_per_s = (max_conc / chunk_s) * 2 * d["transaction_write_factor"]
    variants = {"new_on_demand_tables": d["new_on_demand_wru_per_s"], "prewarmed_tables": d["prewarmed_wru_per_s"],
                "writers_only_no_table_cap": None}
    results: dict[str, Any] = {}
    for name, wru in variants.items():
        results[name] = {str(n): simulate(n, chunk=chunk, per_step=per_step, max_conc=max_conc, chunk_s=chunk_s,
                                          step_s=step_s, cold_s=cold_s, caps=caps(wru) if wru else {})
                         for n in ctx.config.model_sizes}
    measured = ctx.results.get("cost", {}).get("requests_per_chunk_measured")
    out = {
        "design_requests_per_chunk": {"Query (members, consistent)": 1, f"BatchGetItem (settings, 100 keys)": gets,
                                      f"TransactWriteItems ({per_tx} recipients)": txs,
                                      "TransactWriteItems (chunk done + progress)": 1,
                                      "SQS ReceiveMessage/DeleteMessage": "1 each (batch of 1)"},
        "measured_requests_per_chunk_local": measured,
        "inputs": {
            "members_per_chunk": (chunk, "chalicelib/settings.py FANOUT_CHUNK_SIZE default"),
            "recipients_per_transaction": (per_tx, "chalicelib/settings.py DYNAMODB_TRANSACTION_LIMIT default "
                                                   f"{settings['tx_actions']} actions / 2"),
            "transactions_in_flight_per_writer": (settings["parallel"], "chalicelib/settings.py FANOUT_PARALLELISM"),
            "max_writer_concurrency": (max_conc, conc_source),
            "chunks_per_coordinator_step": (per_step, "design"),
            "writer_chunk_s": (round(chunk_s, 3), f"invoke + Query + {gets} BatchGet + {waves} waves of "
                                                  "transactions + the chunk-done transaction"),
            "coordinator_step_s": (round(step_s, 3), f"stream latency + {key_pages} keys-only Query page(s) + "
                                                     f"{math.ceil(per_step / 10)} SendMessageBatch + cursor update"),
            "writer_cold_start_s": (round(cold_s, 3), "measured import of app.py (cold start scenario) + assumed "
                                                      "Lambda runtime init"),
            "wcu_per_recipient_by_pool": (wcu, wcu_source),
            "job_partition_wcu_per_s_at_max_writers": (round(job_item_wcu_per_s), "chunk marker + job progress "
                                                       "(one partition key), x 2 (transaction), per chunk done; "
                                                       "a partition takes about 1,000 WCU/s"),
            **{k: [v, why] for k, (v, why) in DOCUMENTED.items()},
        },
        "modelled": results,
    }
    say("aws model: " + "; ".join(f"{name}: " + ", ".join(f"{int(n):,} -> {r['seconds']:,.0f} s"
                                                           for n, r in res.items()) for name, res in results.items()))
    return out
