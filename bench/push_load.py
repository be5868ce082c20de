#!/usr/bin/env python3
"""Realtime push under load: N WebSockets held on `notifications dev`, a broadcast to M members fanned out.

    .venv/bin/python bench/push_load.py                       # 1,000 sockets, 10,000 members, moto engine
    .venv/bin/python bench/push_load.py --sockets 100 --members 1000 --engine local

Starts `notifications dev` as a developer does (bench/harness/service.py), seeds M members of one
organization straight into the engine (as the fan-out bench does), opens one socket for each of N of
them (tickets asked by the tenant's server on their behalf; the members are spread over the key range),
then:

1. single sends: `--sends` notifications, one at a time, each to one connected member; the time from
   the POST until its socket receives `notification.created` (the push path alone: the issue's 1 s
   target);
2. the broadcast: POST to the organization (202), wait until every connected member's socket has its
   `notification.created`; per socket the time from the POST (fan-out included) and the broadcast's own
   completion time; sockets that got nothing within `--timeout` seconds after the broadcast completed
   are the dropped messages (must be 0).

Prints p50/p95/max of both and the dropped count; `--json` prints the figures as JSON too. The
integration tier runs the same measurement small (tests/integration/test_push_load.py).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

TENANT = "dev"


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def seed_members(endpoint: str | None, prefix: str, org: str, users: list[str], threads: int = 4) -> float:
    """Members of `org`, written as the directory store writes them (as bench/harness/engine_worker.py's
    seed_members does), with BatchWriteItem. Seconds."""
    import boto3

    saved = dict(os.environ)
    os.environ["TABLE_PREFIX"] = prefix
    try:
        from chalicelib.store.directory import MemberItem, member_key, owner_pk

        pk = owner_pk(TENANT, "org", org)
        items = [MemberItem(pk, f"m#{u}", member_key=member_key(TENANT, u), role="Standard User", banned=False,
                            is_api_user=False, joined_at=0).serialize() for u in users]
        table = f"{prefix}-directory"
    finally:
        os.environ.clear()
        os.environ.update(saved)
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")

    def write(chunk: list[dict]) -> None:
        request = {table: [{"PutRequest": {"Item": item}} for item in chunk]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, [items[i:i + 25] for i in range(0, len(items), 25)]))
    return time.perf_counter() - started


@dataclass
class Socket:
    user: str
    ws: Any
    received: dict[str, float] = field(default_factory=dict)  # message text -> arrival (perf_counter)
    received_at: dict[str, float] = field(default_factory=dict)  # message text -> arrival (epoch seconds)
    events: list[dict] = field(default_factory=list)
    waiters: dict[str, asyncio.Future] = field(default_factory=dict)


async def _reader(sock: Socket) -> None:
    try:
        async for text in sock.ws:
            now, wall = time.perf_counter(), time.time()
            message = json.loads(text)
            sock.events.append(message)
            body = (message.get("notification") or {}).get("message")
            if message.get("event") == "notification.created" and body is not None:
                sock.received.setdefault(body, now)
                sock.received_at.setdefault(body, wall)
                waiter = sock.waiters.pop(body, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(now)
    except Exception:  # noqa: BLE001 - a closed socket: counted as missing what it did not get
        pass


def write_times(endpoint: str | None, prefix: str, users: set[str]) -> dict[str, float]:
    """user -> when their copy of the broadcast was written (epoch seconds), from the inbox stream's INSERT
    records: the push latency of a broadcast is measured from there (its fan-out excluded). Only the embedded
    moto engine stamps records finely enough (DynamoDB Local: whole seconds); elsewhere this is empty."""
    import boto3

    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="local", aws_secret_access_key="local")
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    arn = ddb.describe_table(TableName=f"{prefix}-inbox")["Table"]["LatestStreamArn"]
    out: dict[str, float] = {}
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in response["Records"]:
                data = record["dynamodb"]
                user = data["Keys"]["pk"]["S"].partition("#")[2]
                created = data.get("ApproximateCreationDateTime")
                if record["eventName"] == "INSERT" and user in users and "bid" in data.get("NewImage", {}) \
                        and hasattr(created, "timestamp") and created.microsecond:
                    out[user] = created.timestamp()
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return out


async def measure(base: str, endpoint: str | None, prefix: str, *, sockets: int, members: int, sends: int = 20,
                  timeout: float = 30.0, token=None, say=print) -> dict[str, Any]:
    """The measurement (see the module docstring) against a running service."""
    from websockets.asyncio.client import connect

    if token is None:
        from chalicelib.auth.tokens import issue

        def token(user: str | None = None) -> str:
            return issue(TENANT, user=user)
    run_id = f"{int(time.time()) % 100000:05d}{random.randint(0, 999):03d}"
    org = f"push-{run_id}"
    users = [f"push{run_id}-u{i:06d}" for i in range(members)]
    seeded = seed_members(endpoint, prefix, org, users)
    say(f"seeded {members} members in {seeded:.1f} s")
    step = max(1, members // sockets)
    connected_users = users[::step][:sockets]
    server_token = token()
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {server_token}"

    def ticket(user: str) -> str:
        s = requests.Session()
        r = s.post(f"{base}/v1/realtime/tickets?userId={user}", headers={"Authorization": f"Bearer {server_token}"},
                   timeout=60)
        r.raise_for_status()
        return r.json()["url"]

    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        urls = list(pool.map(ticket, connected_users))
    opened: list[Socket] = []
    semaphore = asyncio.Semaphore(32)

    async def open_one(user: str, url: str) -> None:
        async with semaphore:
            ws = await connect(url, open_timeout=60, ping_interval=None, max_queue=None)
        opened.append(Socket(user, ws))

    await asyncio.gather(*(open_one(u, url) for u, url in zip(connected_users, urls)))
    readers = [asyncio.create_task(_reader(s)) for s in opened]
    say(f"{len(opened)} sockets open in {time.perf_counter() - started:.1f} s")
    loop = asyncio.get_running_loop()
    by_user = {s.user: s for s in opened}

    # 1. single sends, one at a time
    single: list[float] = []
    single_missed = 0
    for i in range(sends):
        sock = opened[(i * 7919) % len(opened)]
        body = f"single-{run_id}-{i}"
        waiter = loop.create_future()
        sock.waiters[body] = waiter
        t0 = time.perf_counter()
        r = await asyncio.to_thread(http.post, f"{base}/v1/notifications", json={
            "recipients": [sock.user], "type": "PushLoad", "message": body})
        r.raise_for_status()
        try:
            single.append(await asyncio.wait_for(waiter, timeout) - t0)
        except asyncio.TimeoutError:
            single_missed += 1

    # 2. the broadcast
    body = f"broadcast-{run_id}"
    t0 = time.perf_counter()
    r = await asyncio.to_thread(http.post, f"{base}/v1/notifications", json={
        "organization": org, "type": "PushLoad", "message": body})
    r.raise_for_status()
    broadcast_id = r.json()["broadcastId"]
    complete_s = None
    deadline = None
    while True:
        if complete_s is None:
            status = (await asyncio.to_thread(http.get, f"{base}/v1/broadcasts/{broadcast_id}")).json()
            if status["status"] in ("complete", "failed"):
                complete_s = time.perf_counter() - t0
                deadline = time.perf_counter() + timeout
                say(f"broadcast {status['status']} in {complete_s:.1f} s: {status['delivered']} delivered")
        if all(body in s.received for s in opened):
            break
        if deadline is not None and time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.1)
    latencies = [s.received[body] - t0 for s in opened if body in s.received]
    try:
        written = await asyncio.to_thread(write_times, endpoint, prefix, {s.user for s in opened})
    except Exception as exc:  # noqa: BLE001 - the figure is then missing, said so
        say(f"no write times from the inbox stream: {exc}")
        written = {}
    push_lags = [s.received_at[body] - written[s.user] for s in opened if body in s.received and s.user in written]
    dropped = sum(1 for s in opened if body not in s.received)
    duplicates = sum(1 for s in opened for m in s.events
                     if m.get("event") == "notification.created" and (m.get("notification") or {}).get("message") == body) - len(latencies)
    foreign = sum(1 for s in opened for m in s.events
                  if (m.get("notification") or {}).get("recipient") not in (None, s.user))
    for s in opened:
        await s.ws.close()
    for task in readers:
        task.cancel()
    ms = lambda v: None if v is None else round(v * 1000, 1)  # noqa: E731
    return {
        "sockets": len(opened), "members": members, "connected_users": len(by_user),
        "single_sends": {"count": sends, "missed": single_missed, "p50_ms": ms(percentile(single, 50)),
                         "p95_ms": ms(percentile(single, 95)), "max_ms": ms(max(single) if single else None)},
        "broadcast": {"complete_s": None if complete_s is None else round(complete_s, 2),
                      "received": len(latencies), "dropped": dropped, "duplicates": duplicates,
                      "foreign_messages": foreign,
                      "p50_ms": ms(percentile(latencies, 50)), "p95_ms": ms(percentile(latencies, 95)),
                      "max_ms": ms(max(latencies) if latencies else None),
                      # how long the last push trailed the fan-out's completion (the push's own backlog)
                      "last_push_after_complete_s": None if complete_s is None or not latencies
                      else round(max(latencies) - complete_s, 2),
                      # from the moment each recipient's copy was written (the inbox stream's timestamp)
                      "push_lag": {"measured": len(push_lags), "p50_ms": ms(percentile(push_lags, 50)),
                                   "p95_ms": ms(percentile(push_lags, 95)),
                                   "max_ms": ms(max(push_lags) if push_lags else None)}},
    }


def report(figures: dict[str, Any]) -> str:
    s, b = figures["single_sends"], figures["broadcast"]
    return (f"{figures['sockets']} sockets held, {figures['members']} members\n"
            f"  single sends ({s['count']}, one at a time): send -> socket p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, "
            f"max {s['max_ms']} ms; missed {s['missed']}\n"
            f"  broadcast to {figures['members']}: fan-out complete in {b['complete_s']} s; POST -> socket "
            f"p50 {b['p50_ms']} ms, p95 {b['p95_ms']} ms, max {b['max_ms']} ms; received {b['received']}, "
            f"dropped {b['dropped']}, duplicates {b['duplicates']}, messages for another user {b['foreign_messages']}; "
            f"the last push {b['last_push_after_complete_s']} s after the fan-out completed\n"
            f"  broadcast push lag (copy written -> socket, {b['push_lag']['measured']} sockets): "
            f"p50 {b['push_lag']['p50_ms']} ms, p95 {b['push_lag']['p95_ms']} ms, max {b['push_lag']['max_ms']} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--sends", type=int, default=50)
    parser.add_argument("--engine", choices=("moto", "local"), default="moto")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import resource
    import tempfile

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.sockets + 256)), hard))
    from bench.harness.service import DevService
    from notifications.local.ports import free_port

    log_dir = Path(tempfile.mkdtemp(prefix="push-load-"))
    service = DevService.start(args.engine, log_dir, {"WS_PORT": str(free_port())})
    print(f"notifications dev ({args.engine}) at {service.base}; log {service.log_path}", flush=True)
    try:
        figures = asyncio.run(measure(service.base, service.endpoint, service.prefix, sockets=args.sockets,
                                      members=args.members, sends=args.sends, timeout=args.timeout,
                                      say=lambda m: print(m, flush=True)))
    finally:
        service.stop()
    print(report(figures))
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0 if figures["broadcast"]["dropped"] == 0 and figures["single_sends"]["missed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
