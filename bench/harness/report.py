"""results.json -> results.md: every figure with its spread, every comparison as a ratio, the
machine, and how each number was obtained."""
from __future__ import annotations

from typing import Any


def num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def med(spread: dict | None, digits: int = 0, scale: float = 1.0) -> str:
    """'median (min–max, n)' of a spread."""
    if not spread or spread.get("median") is None:
        return "–"
    m, lo, hi, n = (spread["median"] * scale, spread["min"] * scale, spread["max"] * scale, spread["n"])
    if n == 1:
        return f"{m:,.{digits}f} (1 run)"
    return f"{m:,.{digits}f} ({lo:,.{digits}f}–{hi:,.{digits}f}, n={n})"


def ratio(value: float | None) -> str:
    return "–" if value is None else f"**{value:.2f}×**"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out + [""]


ENGINE = {"local": "DynamoDB Local", "moto": "default engine (embedded moto + moto_engine)"}


def machine(r: dict) -> list[str]:
    m = r.get("machine", {})
    ddb = m.get("dynamodb_local", {})
    libs = ", ".join(f"{k} {v}" for k, v in (m.get("libraries") or {}).items())
    peer = m.get("peer")
    peer_text = (f"Django {peer.get('django')}, django-notifications-hq {peer.get('django_notifications_hq')}, "
                 f"SQLite {peer.get('sqlite')} ({peer.get('database')})") if isinstance(peer, dict) else str(peer)
    rows = [["date", m.get("date_utc", "?")], ["CPU", f"{m.get('cpu_model')} ({m.get('cores')} cores)"],
            ["RAM", f"{m.get('ram_gib')} GiB"], ["OS", str(m.get("os"))], ["Python", str(m.get("python"))],
            ["Java", str(m.get("java"))],
            ["DynamoDB Local", f"{ddb.get('release')} (npm {ddb.get('npm_package')})"], ["libraries", libs],
            ["peer", peer_text],
            ["load average (1/5/15 min)", f"start {m.get('load_average_at_start')}, end {m.get('load_average_at_end')}"],
            ["code", f"{m.get('git', {}).get('branch')} @ {m.get('git', {}).get('commit')}"
                     + (" (uncommitted changes)" if m.get("git", {}).get("dirty") else "")]]
    return ["## Machine", ""] + table(["", ""], rows)


def fanout(r: dict) -> list[str]:
    out = ["## 1. Fan-out throughput", "",
           "Members per second from `POST /v1/notifications` (an organization) until `GET /v1/broadcasts/{id}` says "
           "complete, against `notifications dev` over HTTP; then verified by counting (every member's counter "
           "total, and 20 inboxes by Query). Beside it, alternately in the same trials: the engine's exact-write "
           "ceiling (`chalicelib.domain.delivery.write_new` alone, best of the thread counts), the plain "
           "BatchWriteItem ceiling (unconditional puts, 25 per request, no counters), and the peer "
           "(django-notifications-hq `notify.send` to a Group, SQLite). Ratios: median of the per-trial ratios.", ""]
    for engine, sizes in (r.get("fanout") or {}).items():
        out += [f"### {ENGINE.get(engine, engine)}", ""]
        rows = []
        for n, s in sizes.items():
            if "skipped" in s:
                rows.append([num(int(n)), s["skipped"]] + [""] * 6)
                continue
            ratios = s["ratios"]
            rows.append([num(int(n)), med(s["ours"]["members_per_s"]) + ("" if s["ours"]["verified"] else " **NOT VERIFIED**"),
                         med(s["ceiling_write_new"]["best_members_per_s"]),
                         med(s["ceiling_batch_write"]["best_items_per_s"]),
                         med(s["peer"].get("members_per_s")) if "members_per_s" in s["peer"] else str(s["peer"].get("note")),
                         ratio(ratios["ours_over_peer"]), ratio(ratios["ours_over_write_new_ceiling"]),
                         ratio(ratios["ours_over_batch_write_ceiling"])])
        out += table(["members", "ours (members/s)", "write_new ceiling (/s)", "BatchWrite ceiling (/s)",
                      "peer (members/s)", "ours / peer", "ours / write_new", "ours / BatchWrite"], rows)
        threads = []
        for n, s in sizes.items():
            for name in ("ceiling_write_new", "ceiling_batch_write"):
                by = s.get(name, {}).get("by_threads") or {}
                if by:
                    threads.append([num(int(n)), name.replace("ceiling_", ""),
                                    ", ".join(f"{t} thr: {med(v)}" for t, v in by.items())])
        if threads:
            out += ["Ceilings by thread count (recipients/s):", ""] + table(["members", "ceiling", "by threads"], threads)
    return out


def fairness(r: dict) -> list[str]:
    f = r.get("fairness")
    if not f:
        return []
    return ["## 2. Fairness between tenants", "",
            f"Tenant B's {f['tenant_b_members']}-member broadcast, time from its POST until complete, sent right "
            f"after tenant A's {num(f['tenant_a_members'])}-member broadcast (A's job queued first), vs sent on an "
            f"idle service (alternated, {f['trials']} trial(s), {ENGINE.get(f['engine'], f['engine'])}).", ""] + table(
        ["", "seconds"],
        [["B alone", med(f["b_alone_s"], 2)], ["B beside A", med(f["b_beside_a_s"], 2)],
         ["A's whole fan-out", med(f["a_total_s"], 1)],
         ["share of A delivered when B completed", med(f["a_fraction_done_when_b_complete"], 2)],
         ["**B beside A / B alone**", ratio(f["ratio_b_beside_a_over_alone"])],
         ["B beside A / A's whole fan-out", ratio(f["b_over_a_total"])]]) + (
        [f"Note: {f['note']}.", ""] if f.get("note") else []) + [
        "A fair design keeps the first ratio near 1 and B's time far below A's; with one FIFO of chunks B "
        "waits for A's audience.", ""]


def latency(r: dict) -> list[str]:
    out = ["## 3. Send latency vs audience size", "",
           "Ours: the `POST` alone (it answers 202 and fans out in the background). The peer: `notify.send`, which "
           "returns when every row is written. 10 members and N members alternately, from the fan-out trials.", ""]
    rows = []
    for engine, sizes in (r.get("send_latency") or {}).items():
        for n, s in sizes.items():
            rows.append([ENGINE.get(engine, engine), num(int(n)), med(s["ours_post_s"]["small"], 1, 1000),
                         med(s["ours_post_s"]["n"], 1, 1000), ratio(s["ratios"]["ours_n_over_small"]),
                         med(s["peer_send_s"]["small"], 1, 1000), med(s["peer_send_s"]["n"], 1, 1000),
                         ratio(s["ratios"]["peer_n_over_small"]), ratio(s["ratios"]["ours_over_peer_at_n"])])
    return out + table(["engine", "N", "ours 10 (ms)", "ours N (ms)", "ours N/10", "peer 10 (ms)", "peer N (ms)",
                        "peer N/10", "ours / peer at N"], rows)


def inbox(r: dict) -> list[str]:
    i = r.get("inbox_reads")
    if not i:
        return []
    labels = {"first_page": "first page", "deep_page": f"page {i['deep_page_number']} (cursor)",
              "unread_count": "unread count", "mark_all": "mark all read"}

    def rows_for(names: list[str], sizes: list[int]) -> list[list[str]]:
        rows = []
        for name in names:
            by_size = i["seconds"].get(name)
            if by_size is None:
                continue
            side, _, op = name.partition("_")
            rows.append([side, labels.get(op, op)] + [med(by_size.get(str(s)), 1, 1000) for s in sizes]
                        + [ratio(i["growth_largest_over_smallest"].get(name))])
        return rows

    sizes, marks = i["sizes"], i.get("mark_all_sizes") or i["sizes"]
    reads = [f"{side}_{op}" for side in ("ours", "peer") for op in ("first_page", "deep_page", "unread_count")]
    return ["## 4. Inbox reads vs inbox size", "",
            f"One user's inbox of {', '.join(num(s) for s in sizes)} unread notifications, pages of "
            f"{i['page_limit']}; reads interleaved over sizes and sides, {i['repeats']} repeats. Ours is timed from "
            "an HTTP client (auth, JSON, chalice local), the peer's ORM calls in-process (no HTTP): compare the "
            "growth, not the absolute times. Milliseconds:", ""] + table(
        ["side", "operation"] + [f"{num(s)} items" for s in sizes] + [f"growth {num(sizes[-1])}/{num(sizes[0])}"],
        rows_for(reads, sizes)) + [
        f"Mark all read on a fresh inbox of {', '.join(num(s) for s in marks)} unread notifications per trial "
        f"({i['mark_all_trials']} trial(s); ours until its job is complete, the peer's `mark_all_as_read()`). "
        "Milliseconds:", ""] + table(
        ["side", "operation"] + [f"{num(s)} items" for s in marks] + [f"growth {num(marks[-1])}/{num(marks[0])}"],
        rows_for(["ours_mark_all", "peer_mark_all"], marks)) + (
        [f"Skipped: {i['skipped']}", ""] if i.get("skipped") else [])


def fixed_cost(c: dict) -> list[str]:
    """Fan-out cost split into the broadcast's fixed part and the marginal recipient's, and what a
    recipient costs at 10k and 1M members."""
    fixed, at = c.get("fixed_per_broadcast"), c.get("per_recipient_at")
    if not fixed or not at:
        return []
    rows = [[label.replace("_", " "), num(fixed[label]["write_units"], 1), num(fixed[label]["read_units"], 1)]
            + [f"{at[label][n]['write_units']:.3f} / {at[label][n]['read_units']:.3f}" for n in sorted(at[label], key=int)]
            for label in fixed]
    sizes = sorted(next(iter(at.values())), key=int)
    return [f"Fan-out measured at {num(c.get('cost_members_small'))} and {num(c['members'])} members: the "
            "difference is the marginal recipient (its chunk's share included, rows '… marginal' above), the rest "
            "the broadcast's fixed cost (its item, job and body, written once). Per recipient at larger audiences "
            "(WCU / RCU):", ""] + table(["message", "fixed WCU", "fixed RCU"] + [f"at {num(int(n))}" for n in sizes],
                                       rows)


def cost(r: dict) -> list[str]:
    c = r.get("cost")
    if not c:
        return []
    calib = c["transaction_calibration"]
    rows = []
    for name, m in c["measured"].items():
        ideal = c["ideal"].get(name, {})
        rows.append([name.replace("_", " "), num(m["read_units"], 2), num(m["write_units"], 2),
                     num(m["write_units_engine"], 2),
                     ", ".join(f"{k} {v:.2g}" for k, v in m["requests"].items()),
                     num(ideal.get("read_units"), 2), num(ideal.get("write_units"), 2)])
    why = [f"- **{name.replace('_', ' ')}**: {i['why']}." for name, i in c["ideal"].items()]
    targets = [[name.replace("_", " "), ", ".join(f"{k} {v:.2f}" for k, v in m["by_target"].items())]
               for name, m in c["measured"].items()]
    return ["## 5. Cost: capacity units per operation", "",
            "Measured on DynamoDB Local through the running service: every DynamoDB call it makes asks for "
            "`ReturnConsumedCapacity=INDEXES` (a botocore `before-parameter-build.dynamodb` hook loaded into the "
            "service, `bench/harness/capture/`), and the units returned between two marks are divided by what the "
            "API calls did. DynamoDB Local returns ConsumedCapacity, and for single-item and batch calls it follows "
            "DynamoDB's rules, **but not for transactions**: in this run it reported "
            f"{num(calib.get('transact_1_puts_wcu'))} WCU for a TransactWriteItems of 1 small put and "
            f"{num(calib.get('transact_5_puts_wcu'))} for 5 (documented: 2 and 10; a plain put: "
            f"{num(calib.get('put_item_wcu'))}). So **WCU** recomputes every transaction from the items the hook "
            "saw, by the documented rules (2 WCU per KB per item; index entries at 1 WCU per KB; an updated item "
            "taken as ≤ 1 KB and present in each index of its table); 'WCU (engine)' is DynamoDB Local's raw "
            f"figure. Fan-out figures are per recipient of a broadcast to {num(c['members'])} members (the body's "
            "single write included, the bench's own status polls subtracted); mark all read per item of "
            f"{num(c.get('mark_all_items'))}; the others per call.", ""] + table(
        ["operation", "RCU", "WCU", "WCU (engine)", "requests", "ideal RCU", "ideal WCU"], rows) + [
        "WCU (reads: RCU) by table and index:", ""] + table(["operation", "table / index units"], targets) + [
        f"Stored item sizes (DynamoDB's rules): {c['stored_item_bytes']}.", ""] + fixed_cost(c) + [

        "**The ideal minimum and why** (what the agreed design cannot go below; 1 WCU per KB written, 2 in a "
        "transaction; 1 RCU per 4 KB read consistently, 0.5 eventually):", ""] + why + [
        "", "The gap between WCU and the ideal is index entries and consistency: every inbox copy is also written "
        "to the `by_activity` LSI (newest-activity order) and the `by_tenant` GSI (admin listings) besides the "
        "`unread` LSI the ideal keeps; reads are strongly consistent (1 RCU per 4 KB) where the ideal reads "
        "eventually consistently.", "",
        f"Requests per fan-out chunk (of up to {c['chunk_size']} members), measured here over a broadcast of "
        f"{c.get('chunks_measured')} chunk(s), its two PutItems (job, body) included; DynamoDB Local caps a "
        f"transaction at 10 actions, 5 recipients: {c['requests_per_chunk_measured']}.", ""]


def model(r: dict) -> list[str]:
    a = r.get("aws_model")
    if not a:
        return []
    sizes = list(next(iter(a["modelled"].values())).keys())
    rows = []
    for variant, by_size in a["modelled"].items():
        rows.append([variant.replace("_", " ")] + [
            f"{num(by_size[n]['seconds'], 1)} s ({num(by_size[n]['members_per_s'])}/s; "
            f"bound: {next(iter(by_size[n]['bound_by_seconds']), '–')})" for n in sizes])
    inputs = [[k.replace("_", " "), f"`{v[0]}`" if not isinstance(v[0], dict) else str(v[0]), str(v[1])]
              for k, v in a["inputs"].items()]
    return ["## 6. AWS model: modelled fan-out time", "",
            "Design modelled: a stream-triggered coordinator cuts the audience into chunks and enqueues up to 100 per "
            "step on SQS (SendMessageBatch, 10 per call); writer Lambdas (SQS mapping, MaximumConcurrency) each "
            "deliver one chunk: one consistent Query of the members, BatchGets of their settings (100 keys per "
            "call), TransactWriteItems of 50 recipients (conditional put + counter ADD) 8 at a time, then one "
            "transaction marking the chunk done and adding to the job's progress. Simulated in 50 ms steps; the "
            "rate is the least of the writers' pace and every table's write throughput divided by the units one "
            "recipient costs there (from scenario 5). Not a measurement: every input is listed.", ""] + table(
        ["variant"] + [f"{num(int(n))} members" for n in sizes], rows) + [
        f"Design requests per chunk: {a['design_requests_per_chunk']}; measured on DynamoDB Local (current "
        f"implementation, 10-action transactions): {a['measured_requests_per_chunk_local']}.", "",
        "Inputs:", ""] + table(["input", "value", "source"], inputs) + _job_partition(a)


def _job_partition(a: dict) -> list[str]:
    """A finding of the model worth a sentence: the chunk-done writes all land on one partition."""
    value = a["inputs"].get("job_partition_wcu_per_s_at_max_writers", [None])[0]
    if not value or value <= 1000:
        return []
    return [f"At MaximumConcurrency with no table cap, the chunk-done transactions of one broadcast would need "
            f"about {value:,} WCU/s on the job's partition key, over the ~1,000 a partition takes: expect "
            "throttling and TransactionConflict there before anywhere else (spread the chunk markers over keys, or "
            "count progress apart from the marker).", ""]


def cold(r: dict) -> list[str]:
    c = r.get("cold_start")
    if not c:
        return []
    return ["## 7. Cold start", "",
            f"Fresh interpreters, alternately ({c['repeats']} pairs): import `app.py` and serve a first request "
            "through the Chalice app's Lambda handler (an API Gateway proxy event), vs a bare `import boto3`.", ""] + table(
        ["", "ms"],
        [["app: whole process (interpreter start included)", med(c["app"]["wall_s"], 0, 1000)],
         ["app: import app.py", med(c["app"]["import_app_s"], 0, 1000)],
         ["app: first request (GET /health)", med(c["app"]["first_request_health_s"], 1, 1000)],
         ["app: then a first DynamoDB request (unread count)", med(c["app"]["first_dynamodb_request_s"], 1, 1000)],
         ["boto3: whole process", med(c["boto3"]["wall_s"], 0, 1000)],
         ["boto3: import boto3", med(c["boto3"]["import_boto3_s"], 0, 1000)],
         ["**import app.py / import boto3**", ratio(c["ratios"]["import_app_over_import_boto3"])],
         ["**whole process, app / boto3**", ratio(c["ratios"]["app_wall_over_boto3_wall"])]])


def render(r: dict) -> str:
    out = ["# Benchmark results", "",
           f"Written by `bench/run.py` ({r.get('mode')} run, {num(r.get('elapsed_s'))} s). `make bench` runs the full "
           "form; `python bench/run.py --quick` a short one. Each figure is the median of several runs "
           "(min–max and count beside it); each comparison is a ratio of two things measured alternately in the "
           "same run, the median of the per-pair ratios (the machine is shared and noisy).", ""]
    out += machine(r)
    for section in (fanout, fairness, latency, inbox, cost, model, cold):
        try:
            out += section(r)
        except Exception as exc:  # noqa: BLE001 - a malformed section must not hide the others
            out += [f"({section.__name__}: could not render: {type(exc).__name__}: {exc})", ""]
    if r.get("errors"):
        out += ["## Errors", ""]
        for name, text in r["errors"].items():
            out += [f"### {name}", "", "```", text.strip()[-1500:], "```", ""]
    return "\n".join(out) + "\n"
