"""The default dev engine's ceilings: the embedded moto server (started exactly as `make dev` does,
`notifications.local.runtime.start_embedded_dynamodb()`, shim installed) with the tables from
`chalicelib.store.bootstrap.ensure_tables()`, driven over HTTP from this process, as `make dev`
drives it (`--engine process`, the default: the engine in a child process of its own), or with
the engine in this process, sharing one GIL with the API, poller and writers (`--engine embedded`,
what `make dev` did before notifications/local/moto_process.py).

    python bench/moto_ceiling.py write  [--sizes 0,10000,100000] [--recipients 2000] [--threads 1,2,4,8]
    python bench/moto_ceiling.py query  [--partitions 1000,10000,100000]
    python bench/moto_ceiling.py fanout [--members 1000,10000]
    ... [--profile out.pstats]   (cProfile of every thread, server and client, merged)
    ... [--engine embedded]      (the engine in this process instead of `make dev`'s child process)

write:  `delivery.write_copies` alone (conditional Put + counter ADD per recipient, 50 per
        TransactWriteItems) for --recipients new recipients, at each thread count
        (FANOUT_PARALLELISM), as the inbox and counters tables hold each of --sizes items
        (filled straight into moto's backend, items shaped like delivered ones).
query:  one 500-item page of a directory partition (`directory.members_page`: partition +
        begins_with + ExclusiveStartKey + Limit, consistent), from the partition's middle, and one
        20-item inbox page on the `unread` LSI, as the partition and the table grow.
fanout: a broadcast to an organization of N members end to end, in this process as `make dev` runs
        it (POST, the stream poller's coordinator, the work queue's writers: members Query, settings
        BatchGet, write_copies, the chunk's small writes). bench/run.py measures the same over HTTP.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

# BENCH_ROOT=/path/to/another/checkout measures that checkout's chalicelib (e.g. before a change).
ROOT = Path(os.environ.get("BENCH_ROOT") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(ROOT))

os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ["TABLE_PREFIX"] = "notifications-dev"  # the stage the Chalice test client applies
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.pop("DYNAMODB", None)

TENANT = "dev"

# -- profiling every thread -----------------------------------------------------------------------

_profiles: list[cProfile.Profile] = []


def profile_all_threads() -> None:
    """Each thread started from now on runs under its own cProfile.Profile (merged at the end)."""
    original_run = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        _profiles.append(profile)
        profile.enable()
        try:
            original_run(self)
        finally:
            profile.disable()

    threading.Thread.run = run  # type: ignore[method-assign]
    main = cProfile.Profile()
    _profiles.append(main)
    main.enable()


def dump_profiles(path: str) -> None:
    _profiles[0].disable()
    stats = None
    for profile in _profiles:
        profile.snapshot_stats()  # a live thread's profile is read as it stands
        if not profile.stats:  # type: ignore[attr-defined]
            continue
        stats = pstats.Stats(profile) if stats is None else stats.add(profile)  # type: ignore[arg-type]
    assert stats is not None
    stats.dump_stats(path)
    stats.sort_stats("tottime").print_stats(30)


# -- engine and data -----------------------------------------------------------------------------

ENGINE = {"process": False}
SERVER: dict[str, Any] = {}

def engine_cpu() -> float:
    """CPU seconds the engine's child process has used."""
    pid = SERVER["engine"].process.pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start() -> object:
    from notifications.local.runtime import start_embedded_dynamodb, start_moto_in_process

    if ENGINE["process"]:
        server, endpoint = start_embedded_dynamodb()
        SERVER["engine"] = server
    else:
        server, endpoint = start_moto_in_process()
    os.environ["DYNAMODB_ENDPOINT"] = endpoint
    from chalicelib.store.bootstrap import ensure_tables

    ensure_tables()
    return server


def backend_table(kind: str):
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.settings import get_settings

    name = get_settings().table_name(kind)
    for account in dynamodb_backends.values():
        for region, backend in account.items():
            if name in backend.tables:
                return backend.tables[name]
    raise LookupError(name)


def content():
    from chalicelib.domain.model import Content

    return Content(type="Bench", message="m")


def inbox_items(users: list[str], sk: str):
    from chalicelib import ids
    from chalicelib.domain.sending import build_item

    bid = ids.broadcast_id("org#bench", sk)
    return [build_item(TENANT, u, sk, content(), ref=f"{TENANT}#msg|{sk}", broadcast=bid) for u in users]


def fill(kind: str, attrs_list) -> None:
    """Put items straight into moto's table (under the shim's lock), not over HTTP: only to grow
    the tables fast before a measurement. (With --engine process: BatchWriteItem.)"""
    from notifications.local import moto_engine

    if ENGINE["process"]:
        from chalicelib.settings import get_settings
        from chalicelib.store.bootstrap import dynamodb_client

        client, name, batch = dynamodb_client(), get_settings().table_name(kind), []
        for attrs in attrs_list:
            batch.append({"PutRequest": {"Item": attrs}})
            if len(batch) == 25:
                client.batch_write_item(RequestItems={name: batch})
                batch = []
        if batch:
            client.batch_write_item(RequestItems={name: batch})
        return

    table = backend_table(kind)
    with moto_engine.LOCK:
        for attrs in attrs_list:
            table.put_item(attrs)


def fill_inbox(count: int, start: int) -> None:
    """count inbox items and counters for fresh users, shaped like write_copies'."""
    from chalicelib import ids

    sk = ids.new_ulid()
    users = [f"fill{start + i:07d}" for i in range(count)]
    fill("inbox", (item.serialize() for item in inbox_items(users, sk)))
    fill("counters", ({"pk": {"S": f"{TENANT}#{u}"}, "unread": {"N": "1"}, "total": {"N": "1"},
                       "version": {"N": "1"}} for u in users))


def fill_members(org: str, count: int) -> None:
    from chalicelib.store.directory import MemberItem

    fill("directory", (MemberItem(f"{TENANT}#org#{org}", f"m#{org}-u{i:07d}", member_key=f"{TENANT}#{org}-u{i:07d}",
                                  role="Standard User", banned=False, is_api_user=False, joined_at=0).serialize()
                       for i in range(count)))


# -- write ceiling ---------------------------------------------------------------------------------

def bench_write(args) -> None:
    from chalicelib import ids
    from chalicelib.domain.delivery import write_copies

    sizes = [int(s) for s in args.sizes.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    filled = 0
    run = 0
    print(f"write_copies (the fan-out's writes) of {args.recipients} new recipients (50 per transaction) over HTTP; rate by thread count "
          "(process CPU time per recipient: client and server share this process, as in `make dev`)")
    for size in sizes:
        if size > filled:
            fill_inbox(size - filled, filled)
            filled = size
        rates: dict[int, float] = {}
        cpus: dict[int, float] = {}
        engine_cpus: dict[int, float] = {}
        for t in threads:
            os.environ["FANOUT_PARALLELISM"] = str(t)
            sk = ids.new_ulid()
            users = [f"w{run:03d}-{i:06d}" for i in range(args.recipients)]
            run += 1
            template = inbox_items(users[:1], sk)[0]
            cpu_before = engine_cpu() if ENGINE["process"] else 0.0
            begin, cpu = time.perf_counter(), time.process_time()
            outcome = write_copies(template, TENANT, users)
            elapsed, cpu = time.perf_counter() - begin, time.process_time() - cpu
            if ENGINE["process"]:
                engine_cpus[t] = (engine_cpu() - cpu_before) / len(users) * 1e6
            assert sum(outcome.values()) == len(users), "not every recipient was written"
            rates[t] = len(users) / elapsed
            cpus[t] = cpu / len(users) * 1e6
        print(f"  inbox/counters at {size:>7} items: "
              + "  ".join(f"{t} thr {r:5.0f}/s ({cpus[t]:4.0f} us cpu"
                          + (f", engine {engine_cpus[t]:4.0f} us" if t in engine_cpus else "") + ")"
                          for t, r in rates.items())
              + f"   best {max(rates.values()):.0f}/s", flush=True)


# -- query cost ------------------------------------------------------------------------------------

def bench_query(args) -> None:
    from chalicelib import cursors
    from chalicelib.store import directory as directory_store
    from chalicelib.store.inbox import InboxItem

    partitions = [int(p) for p in args.partitions.split(",")]
    print("one page from the middle of a partition (median of 9), as the partition (and table) grows")
    filled = 0
    for size in partitions:
        fill_members(f"q{size}", size)  # a new partition of this size; the older ones stay in the table
        filled += size
        pk = f"{TENANT}#org#q{size}"
        middle = cursors.encode({"sk": f"m#q{size}-u{size // 2:07d}"})  # a members cursor
        samples = []
        for _ in range(9):
            begin = time.perf_counter()
            items, _next = directory_store.members_page(TENANT, "org", f"q{size}", 500, middle)
            samples.append(time.perf_counter() - begin)
        assert len(items) == min(500, size - size // 2 - 1), len(items)
        # an inbox page on the sparse unread LSI: one user's partition grown to `size`
        from chalicelib import ids

        user = f"q{size}"
        sks = sorted(ids.new_ulid() for _ in range(size))
        fill("inbox", (inbox_items([user], sk)[0].serialize() for sk in sks))
        isamples = []
        for _ in range(9):
            begin = time.perf_counter()
            page = list(InboxItem.unread.query(f"{TENANT}#{user}", scan_index_forward=False, limit=20,
                                               page_size=20, consistent_read=True))
            isamples.append(time.perf_counter() - begin)
        assert len(page) == 20
        print(f"  partition of {size:>7} (directory table {filled:>7} items): members page of 500 "
              f"{statistics.median(samples) * 1000:7.1f} ms; inbox unread page of 20 "
              f"{statistics.median(isamples) * 1000:7.1f} ms", flush=True)


# -- end to end ------------------------------------------------------------------------------------

def bench_fanout(args) -> None:
    import json

    from chalice.test import Client

    from app import app
    from chalicelib.auth.tokens import issue
    from notifications.local.runtime import start_poller, start_queue_workers
    from chalicelib.store.work_queue import ensure_queues

    headers = {"Authorization": f"Bearer {issue('dev')}", "Content-Type": "application/json"}
    os.environ.setdefault("SQS_ENDPOINT", os.environ["DYNAMODB_ENDPOINT"])  # as `make dev`: one moto server
    os.environ["WORK_QUEUE_URL"] = ensure_queues()
    poller = start_poller()
    workers = start_queue_workers()
    print("broadcast to an organization, end to end (POST, coordinator, work queue, writers; chunks of "
          f"{os.environ.get('FANOUT_CHUNK_SIZE', 500)})")
    try:
        with Client(app) as c:
            sizes = [int(m) for m in args.members.split(",")]
            for run, n in enumerate([200] + sizes):  # the first, unreported: imports and first calls
                org = f"e2e{run}-{n}"
                fill_members(org, n)
                begin, cpu = time.perf_counter(), time.process_time()
                engine_before = engine_cpu() if ENGINE["process"] else 0.0
                r = c.http.post("/v1/notifications", headers=headers,
                                body=json.dumps({"organization": org, "type": "Bench", "message": "m"}))
                assert r.status_code == 202, r.body
                bid = json.loads(r.body)["broadcastId"]
                while True:
                    status = json.loads(c.http.get(f"/v1/broadcasts/{bid}", headers=headers).body)
                    if status["status"] in ("complete", "failed"):
                        break
                    time.sleep(0.2)
                elapsed, cpu = time.perf_counter() - begin, time.process_time() - cpu
                assert status["status"] == "complete" and status["delivered"] == n, status
                if run == 0:
                    continue
                engine = (f", engine {(engine_cpu() - engine_before) / n * 1e6:.0f} us cpu/member"
                          if ENGINE["process"] else "")
                print(f"  {n:>6} members: {elapsed:6.2f} s = {n / elapsed:5.0f} members/s, "
                      f"{elapsed / n * 1e6:6.0f} us/member ({cpu / n * 1e6:.0f} us cpu/member{engine})", flush=True)
    finally:
        workers.stop()
        poller.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["write", "query", "fanout"])
    parser.add_argument("--sizes", default="0,10000,100000")
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--threads", default="1,2,4,8")
    parser.add_argument("--partitions", default="1000,10000,100000")
    parser.add_argument("--members", default="1000,10000")
    parser.add_argument("--profile", help="write merged cProfile stats of all threads here")
    parser.add_argument("--engine", choices=["embedded", "process"], default="process",
                        help="embedded: in this process, as `make dev` runs it; process: in a child process")
    args = parser.parse_args()
    from chalicelib.logs import configure_logging

    configure_logging()  # as the dev runtime does (werkzeug's request log off)
    if args.profile:
        profile_all_threads()
    ENGINE["process"] = args.engine == "process"
    server = start()
    try:
        {"write": bench_write, "query": bench_query, "fanout": bench_fanout}[args.what](args)
    finally:
        if args.profile:
            dump_profiles(args.profile)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
