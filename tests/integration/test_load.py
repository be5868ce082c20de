"""Hardening proof B: the service under concurrent load, over real HTTP, loses nothing,
duplicates nothing and keeps every counter exact.

Three scenarios, each against `notifications dev` on DynamoDB Local (`service`) and on the
default embedded moto engine (`moto_service`, marked `moto_engine`: deselect it with
`-m "not moto_engine"`):

1. senders: 16 concurrent senders to one recipient, then to many recipients;
2. mark-read: the same ids marked read concurrently and repeatedly from several clients
   (PATCH /v1/notifications/{id} and POST .../read with ids), racing read/unread toggles;
3. broadcasts: concurrent broadcasts to overlapping organizations and a community while
   members are added, removed and banned; then every broadcast must report `complete`.

Then: every 201 send is in its recipient's inbox; every member who was a member for the whole
run holds each broadcast to that owner exactly once; no inbox holds two notifications with
the same broadcastId; nobody holds a broadcast to an owner they never belonged to; each
broadcast's `delivered` equals the inboxes holding it; unread-count equals the unread items
listed with status=unread, and the listed totals equal the counters' totals (Spark's
`TotalRows`). Each scenario prints requests, errors and p50/p99 latency; there must be no
transport error and no 5xx.

The driver is threads with one requests.Session each, bounded by a request count and a
deadline. LOAD_SCALE (default 1; `make load` uses 10) multiplies counts and deadlines.
Ids carry a per-run suffix (the tier shares one DynamoDB Local per session).
"""
from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
import requests

SCALE = max(0.1, float(os.environ.get("LOAD_SCALE", "1") or 1))
SENDERS = 16
NOT_LOAD = ("setup-", "check-", "wait-")  # operations outside the measured load


def scaled(n: float, factor: float = 1.0) -> int:
    return max(1, int(round(n * SCALE * factor)))


# ---- the driver -----------------------------------------------------------------------------------

@dataclass
class Sample:
    op: str
    status: int | None  # None: transport error
    ms: float
    detail: str = ""


@dataclass
class Stats:
    """Every request one scenario made, and what it expected."""

    name: str
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    def call(self, session: requests.Session, op: str, method: str, url: str, expect: tuple[int, ...],
             **kw: Any) -> requests.Response | None:
        """One request, recorded; None on a transport error (recorded too). Reads made to check
        the outcome (`check-`) are retried after a transport error: the load's figures keep them."""
        for attempt in range(3 if op.startswith("check-") else 1):
            r = self._once(session, op, method, url, expect, **kw)
            if r is not None:
                return r
            time.sleep(0.5)
        return None

    def _once(self, session: requests.Session, op: str, method: str, url: str, expect: tuple[int, ...],
              **kw: Any) -> requests.Response | None:
        t0 = time.perf_counter()
        try:
            r = session.request(method, url, timeout=60, **kw)
        except requests.RequestException as exc:
            self._add(Sample(op, None, (time.perf_counter() - t0) * 1000, f"{type(exc).__name__}: {exc}"))
            return None
        ms = (time.perf_counter() - t0) * 1000
        detail = "" if r.status_code in expect else f"{method} {url} -> {r.status_code} {r.text[:300]}"
        self._add(Sample(op, r.status_code, ms, detail))
        return r

    def _add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def stop(self) -> None:
        self.ended = time.monotonic()

    # figures
    def transport_errors(self) -> list[Sample]:
        return [s for s in self.samples if s.status is None]

    def server_errors(self) -> list[Sample]:
        return [s for s in self.samples if s.status is not None and s.status >= 500]

    def unexpected(self) -> list[Sample]:
        """Answers with a status the caller did not expect (a 5xx always is one)."""
        return [s for s in self.samples if s.status is not None and s.detail]

    def lines(self, engine: str) -> list[str]:
        """The headline covers the load itself; each operation (setup and checks too) gets a line."""
        elapsed = (self.ended or time.monotonic()) - self.started
        groups: dict[str, list[Sample]] = defaultdict(list)
        for s in self.samples:
            groups[s.op].append(s)
        load = [s for s in self.samples if not s.op.startswith(NOT_LOAD)]
        out = [f"[load {engine} x{SCALE:g}] {self.name}", f"    {'LOAD':<22} {self.summary(load, elapsed)}"]
        for op in sorted(groups):
            out.append(f"    {op:<22} {self.summary(groups[op], None)}")
        return out

    @staticmethod
    def summary(samples: list[Sample], elapsed: float | None) -> str:
        ms = sorted(s.ms for s in samples if s.status is not None)
        statuses = Counter(s.status for s in samples)
        text = (f"requests={len(samples)} transport_errors={statuses.get(None, 0)} "
                f"5xx={sum(n for st, n in statuses.items() if st is not None and st >= 500)} "
                f"unexpected={sum(1 for s in samples if s.status is not None and s.detail)} "
                f"p50={pct(ms, 50):.1f}ms p99={pct(ms, 99):.1f}ms max={ms[-1] if ms else 0:.1f}ms")
        if elapsed:
            text += f" elapsed={elapsed:.1f}s rate={len(samples) / elapsed:.1f}/s"
        codes = ",".join(f"{st}:{n}" for st, n in sorted(statuses.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)))
        return f"{text} statuses[{codes}]"


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def run_workers(workers: list[Callable[[float], None]], seconds: float) -> None:
    """Start every worker at once (a barrier) with a common deadline; re-raise a worker's crash."""
    deadline = [0.0]
    barrier = threading.Barrier(len(workers), action=lambda: deadline.__setitem__(0, time.monotonic() + seconds))

    def start(worker: Callable[[float], None]) -> None:
        barrier.wait()
        worker(deadline[0])

    with ThreadPoolExecutor(len(workers)) as pool:
        for future in [pool.submit(start, w) for w in workers]:
            future.result()


# ---- engines --------------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=[
    pytest.param("dynamodb-local", id="dynamodb_local"),
    # The default engine is exact under concurrent requests since notifications/local/moto_engine.py.
    pytest.param("moto", id="moto", marks=[pytest.mark.moto_engine]),
])
def target(request):
    if request.param == "moto":
        svc = request.getfixturevalue("moto_service")
    else:
        svc = request.getfixturevalue("service")
    engine = Engine(request.param, svc)
    with engine.server() as s:  # warm up (first-request imports, a JIT-cold engine): not measured
        r = s.post(engine.url("/v1/notifications"), json={"recipients": [f"ld0-{engine.run}"], "type": "LoadTest",
                                                           "message": "warm-up"}, timeout=120)
        assert r.status_code == 201, r.text
    return engine


# The embedded moto engine is far slower under concurrency (each transaction deep-copies the
# tables): half the counts keep its run short. DynamoDB Local runs the full counts.
ENGINE_FACTOR = {"dynamodb-local": 1.0, "moto": 0.5}


class Engine:
    def __init__(self, name: str, svc) -> None:
        self.name = name
        self.svc = svc
        self.factor = ENGINE_FACTOR[name]
        self.run = uuid.uuid4().hex[:6]
        self.server_headers = {"Authorization": f"Bearer {svc.token()}", "Content-Type": "application/json"}

    def url(self, path: str) -> str:
        return self.svc.url(path)

    def scaled(self, n: float) -> int:
        return scaled(n, self.factor)

    def server(self) -> requests.Session:
        s = requests.Session()
        s.headers.update(self.server_headers)
        return s

    def user(self, user: str) -> requests.Session:
        return self.svc.session(user=user)


@pytest.fixture
def report(target, capsys):
    """Collects each scenario's Stats and prints their figures (also without -s)."""
    collected: list[Stats] = []
    yield collected
    with capsys.disabled():
        print()
        for stats in collected:
            for line in stats.lines(target.name):
                print(line)


def request_problems(stats: Stats) -> list[str]:
    """Transport errors and unexpected statuses (every 5xx is one). Listed after the consistency
    problems, so a failed request never hides what the data looks like."""
    problems = [f"transport error: {s.op} {s.detail}" for s in stats.transport_errors()]
    problems += [f"unexpected status: {s.op} {s.detail}" for s in stats.unexpected()]
    return problems


def verdict(stats: Stats, problems: list[str]) -> None:
    found = problems + request_problems(stats)
    assert not found, f"{stats.name}: {len(found)} problems, first ones:\n" + "\n".join(found[:30])


# ---- reading an inbox back (server token) ---------------------------------------------------------

def list_all(engine: Engine, session: requests.Session, user: str, stats: Stats, status: str = "all") -> list[dict]:
    items: list[dict] = []
    cursor = None
    for _ in range(10_000):
        params = {"limit": "100", "status": status}
        if cursor:
            params["cursor"] = cursor
        r = stats.call(session, f"check-list-{status}", "GET", engine.url(f"/v1/users/{user}/notifications"),
                       (200,), params=params)
        assert r is not None and r.status_code == 200, (user, r and r.text)
        page = r.json()
        items.extend(page["notifications"])
        cursor = page["cursor"]
        if not cursor:
            return items
    raise AssertionError("listing did not end")


@dataclass
class InboxView:
    user: str
    items: list[dict]
    unread_items: list[dict]
    unread_count: int
    spark_total: int
    spark_unread: int


def read_inbox(engine: Engine, session: requests.Session, user: str, stats: Stats) -> InboxView:
    items = list_all(engine, session, user, stats)
    unread_items = list_all(engine, session, user, stats, status="unread")
    r = stats.call(session, "check-unread-count", "GET", engine.url(f"/v1/users/{user}/notifications/unread-count"),
                   (200,))
    unread_count = r.json()["unreadCount"]
    r = stats.call(session, "check-spark-count", "GET", engine.url("/spark/v1/notifications"), (200,),
                   params={"_apiuser": user, "_pagination": "count"})
    spark_total = r.json()["D"]["Pagination"]["TotalRows"]
    r = stats.call(session, "check-spark-unread", "GET", engine.url("/spark/v1/notifications/unread"), (200,),
                   params={"_apiuser": user})
    spark_unread = r.json()["D"]["Pagination"]["TotalRows"]
    return InboxView(user, items, unread_items, unread_count, spark_total, spark_unread)


def counter_problems(view: InboxView) -> list[str]:
    """The counters against the listing: exact, whatever happened before."""
    problems = []
    ids = [n["id"] for n in view.items]
    if len(ids) != len(set(ids)):
        problems.append(f"{view.user}: listing repeats ids {[i for i, n in Counter(ids).items() if n > 1][:3]}")
    listed_unread = [n for n in view.items if not n["read"]]
    if {n["id"] for n in view.unread_items} != {n["id"] for n in listed_unread}:
        problems.append(f"{view.user}: status=unread lists {len(view.unread_items)} items, the full listing has "
                        f"{len(listed_unread)} unread")
    if any(n["read"] for n in view.unread_items):
        problems.append(f"{view.user}: status=unread lists read items")
    if view.unread_count != len(view.unread_items):
        problems.append(f"{view.user}: unread-count {view.unread_count} != {len(view.unread_items)} unread listed")
    if view.spark_unread != view.unread_count:
        problems.append(f"{view.user}: Spark unread TotalRows {view.spark_unread} != unread-count {view.unread_count}")
    if view.spark_total != len(view.items):
        problems.append(f"{view.user}: counter total (Spark TotalRows) {view.spark_total} != {len(view.items)} listed")
    return problems


def read_inboxes(engine: Engine, users: list[str], stats: Stats) -> dict[str, InboxView]:
    local = threading.local()

    def one(user: str) -> InboxView:
        if not hasattr(local, "s"):
            local.s = engine.server()
        return read_inbox(engine, local.s, user, stats)

    with ThreadPoolExecutor(8) as pool:
        return dict(zip(users, pool.map(one, users)))


# ---- 1. senders -----------------------------------------------------------------------------------

def test_concurrent_senders(target: Engine, report):
    engine = target
    run = engine.run
    one = f"ld1-{run}-target"
    many = [f"ld1-{run}-u{i:03d}" for i in range(engine.scaled(24))]
    per_sender = engine.scaled(6)
    sent: dict[str, set[str]] = defaultdict(set)  # recipient -> ids from 201 responses
    sent_lock = threading.Lock()
    stats = Stats("1 senders (16 concurrent, one recipient then many)")
    report.append(stats)

    def sender(k: int, to_many: bool) -> Callable[[float], None]:
        def work(deadline: float) -> None:
            rnd = random.Random(f"{run}-{k}-{to_many}")
            with engine.server() as s:
                for i in range(per_sender):
                    if time.monotonic() > deadline:
                        return
                    recipients = rnd.sample(many, rnd.randint(1, min(4, len(many)))) if to_many else [one]
                    r = stats.call(s, "send-many" if to_many else "send-one", "POST",
                                   engine.url("/v1/notifications"), (201,),
                                   json={"recipients": recipients, "type": "LoadTest",
                                         "message": f"s{k} #{i} to {len(recipients)}"})
                    if r is not None and r.status_code == 201:
                        body = r.json()
                        assert not body["skipped"], body
                        with sent_lock:
                            for n in body["notifications"]:
                                sent[n["recipient"]].add(n["id"])
        return work

    run_workers([sender(k, False) for k in range(SENDERS)], 10 * SCALE)
    run_workers([sender(k, True) for k in range(SENDERS)], 10 * SCALE)
    stats.stop()

    views = read_inboxes(engine, [one] + many, stats)
    problems = []
    for user, view in views.items():
        listed = {n["id"] for n in view.items}
        if listed != sent[user]:
            problems.append(f"{user}: lost {sorted(sent[user] - listed)[:3]} ({len(sent[user] - listed)}), "
                            f"unexpected {sorted(listed - sent[user])[:3]}")
        if view.unread_count != len(sent[user]):  # nobody read anything
            problems.append(f"{user}: unread-count {view.unread_count}, sent {len(sent[user])}")
        problems += counter_problems(view)
    if len(sent[one]) != sum(1 for s in stats.samples if s.op == "send-one" and s.status == 201):
        problems.append(f"{one}: {len(sent[one])} distinct ids from the 201 answers to single-recipient sends")
    verdict(stats, problems)


# ---- 2. mark read ---------------------------------------------------------------------------------

def test_concurrent_repeated_mark_read(target: Engine, report):
    engine = target
    run = engine.run
    users = [f"ld2-{run}-u{i}" for i in range(4)]
    per_user = engine.scaled(24)
    stats = Stats("2 mark-read (same ids from 4 clients per user, PATCH and POST .../read, read/unread toggles)")
    report.append(stats)

    # setup: each user's notifications (one sender per user)
    def fill(user: str) -> list[str]:
        out = []
        with engine.server() as s:
            for i in range(per_user):
                r = stats.call(s, "setup-send", "POST", engine.url("/v1/notifications"), (201,),
                               json={"recipients": [user], "type": "LoadTest", "message": f"r{i}"})
                assert r is not None and r.status_code == 201, r and r.text
                out.append(r.json()["notifications"][0]["id"])
        return out

    with ThreadPoolExecutor(len(users)) as pool:
        ids = dict(zip(users, pool.map(fill, users)))
    # per user: half must end read, a quarter is toggled read/unread at random, a quarter untouched
    target_ids = {u: v[: per_user // 2] for u, v in ids.items()}
    toggled = {u: v[per_user // 2: per_user * 3 // 4] for u, v in ids.items()}
    untouched = {u: v[per_user * 3 // 4:] for u, v in ids.items()}
    marked_by_post: Counter[str] = Counter()
    acked: dict[str, set[str]] = defaultdict(set)  # ids a 200 answer said are now read
    lock = threading.Lock()
    clients_per_user = SENDERS // len(users)

    def client(user: str, k: int) -> Callable[[float], None]:
        def work(deadline: float) -> None:
            with engine.user(user) as s:
                go_over(s, random.Random(f"{run}-{user}-{k}"), deadline)

        def go_over(s: requests.Session, rnd: random.Random, deadline: float) -> None:
            for _ in range(2):  # every client goes over the whole target set twice
                order = target_ids[user][:]
                rnd.shuffle(order)
                while order:
                    if time.monotonic() > deadline:
                        return
                    if toggled[user] and rnd.random() < 0.3:
                        nid = rnd.choice(toggled[user])
                        stats.call(s, "toggle-patch", "PATCH", engine.url(f"/v1/notifications/{nid}"), (200,),
                                   json={"read": rnd.random() < 0.5})
                    if rnd.random() < 0.5:
                        nid = order.pop()
                        r = stats.call(s, "read-patch", "PATCH", engine.url(f"/v1/notifications/{nid}"), (200,),
                                       json={"read": True})
                        if r is not None and r.status_code == 200:
                            with lock:
                                acked[user].add(nid)
                    else:
                        batch = [order.pop() for _ in range(min(len(order), rnd.randint(1, 12)))]
                        if rnd.random() < 0.2:
                            batch.append(batch[0])  # the same id twice in one request
                        r = stats.call(s, "read-post-ids", "POST", engine.url("/v1/users/me/notifications/read"),
                                       (200,), json={"ids": batch})
                        if r is not None and r.status_code == 200:
                            with lock:
                                marked_by_post[user] += r.json()["marked"]
                                acked[user].update(batch)
        return work

    run_workers([client(u, k) for u in users for k in range(clients_per_user)], 15 * SCALE)
    stats.stop()

    views = read_inboxes(engine, users, stats)
    problems = []
    for user, view in views.items():
        by_id = {n["id"]: n for n in view.items}
        if set(by_id) != set(ids[user]):
            problems.append(f"{user}: listing {len(by_id)} items, sent {len(ids[user])}")
        still_unread = [i for i in acked[user] if not by_id.get(i, {}).get("read")]
        if still_unread:
            problems.append(f"{user}: {len(still_unread)} ids acknowledged read are unread: {still_unread[:3]}")
        if acked[user] - set(target_ids[user]):
            problems.append(f"{user}: acknowledged ids outside the target set")
        wrongly_read = [i for i in untouched[user] if by_id.get(i, {}).get("read")]
        if wrongly_read:
            problems.append(f"{user}: untouched ids read: {wrongly_read[:3]}")
        # each target id flips to read once: the POSTs (which mark only target ids) report at most that many
        if marked_by_post[user] > len(target_ids[user]):
            problems.append(f"{user}: POST .../read reported {marked_by_post[user]} marked, more than the "
                            f"{len(target_ids[user])} ids ever marked")
        problems += counter_problems(view)
    verdict(stats, problems)


# ---- 3. broadcasts with membership churn ----------------------------------------------------------

ORG_ROLE = {"organizations": "Standard User", "communities": "Subscriber"}
BROADCASTERS = 4
CHURNERS = 8


def test_concurrent_broadcasts_with_membership_churn(target: Engine, report):
    engine = target
    run = engine.run
    o1, o2, c1 = f"ld3-{run}-o1", f"ld3-{run}-o2", f"ld3-{run}-c1"
    owners = {o1: "organizations", o2: "organizations", c1: "communities"}
    n = engine.scaled(8)
    only_o1 = [f"ld3-{run}-a{i:03d}" for i in range(n)]
    only_o2 = [f"ld3-{run}-b{i:03d}" for i in range(n)]
    o1_o2 = [f"ld3-{run}-ab{i:03d}" for i in range(n)]          # in both organizations
    o1_c1 = [f"ld3-{run}-ac{i:03d}" for i in range(n)]          # in o1 and the community
    all3 = [f"ld3-{run}-abc{i:03d}" for i in range(n)]          # everywhere
    stable: dict[str, set[str]] = defaultdict(set)  # user -> owners they belong to for the whole run
    for group, where in ((only_o1, {o1}), (only_o2, {o2}), (o1_o2, {o1, o2}), (o1_c1, {o1, c1}),
                         (all3, {o1, o2, c1})):
        for u in group:
            stable[u] |= where
    churn = {owner: [f"ld3-{run}-x{tag}{i:03d}" for i in range(engine.scaled(6))]
             for owner, tag in ((o1, "o1-"), (o2, "o2-"), (c1, "c1-"))}  # each touches only its owner
    stats = Stats(f"3 broadcasts ({BROADCASTERS} broadcasters to 2 orgs + 1 community, {CHURNERS} clients adding/removing/banning)")
    report.append(stats)

    def member_url(owner: str, user: str) -> str:
        return engine.url(f"/v1/{owners[owner]}/{owner}/members/{user}")

    # setup: stable members, and half of the churn users already in
    setup = [(owner, u) for u, where in stable.items() for owner in where]
    setup += [(owner, u) for owner, us in churn.items() for u in us[::2]]
    local = threading.local()

    def join(job: tuple[str, str]) -> None:
        owner, user = job
        if not hasattr(local, "s"):
            local.s = engine.server()
        body = {"role": ORG_ROLE[owners[owner]]}
        r = stats.call(local.s, "setup-member-put", "PUT", member_url(owner, user), (201,), json=body)
        assert r is not None and r.status_code == 201, r and r.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(join, setup))

    broadcasts: list[tuple[str, str]] = []  # (broadcast id, owner)
    final: dict[str, dict] = {}  # broadcast id -> its status once complete (or failed)
    b_lock = threading.Lock()
    per_broadcaster = engine.scaled(3)
    wait_seconds = 60 + 60 * SCALE  # for the fan-out to finish once everything is sent
    broadcasters_left = [BROADCASTERS]
    all_sent = threading.Event()
    all_final = threading.Event()

    def broadcaster(k: int) -> Callable[[float], None]:
        def work(deadline: float) -> None:
            rnd = random.Random(f"{run}-b{k}")
            try:
                with engine.server() as s:
                    for i in range(per_broadcaster):
                        if time.monotonic() > deadline:
                            return
                        owner = rnd.choice(sorted(owners))
                        key = "organization" if owners[owner] == "organizations" else "community"
                        r = stats.call(s, "broadcast", "POST", engine.url("/v1/notifications"), (202,),
                                       json={key: owner, "type": "LoadBroadcast", "message": f"b{k}.{i} to {owner}"})
                        if r is not None and r.status_code == 202:
                            with b_lock:
                                broadcasts.append((r.json()["broadcastId"], owner))
                        time.sleep(rnd.uniform(0, 0.3))
            finally:
                with b_lock:
                    broadcasters_left[0] -= 1
                    if broadcasters_left[0] == 0:
                        all_sent.set()
        return work

    def watcher(deadline: float) -> None:
        """After the last broadcast is sent, poll each until complete; the churn goes on meanwhile."""
        try:
            all_sent.wait()
            wait_until = time.monotonic() + wait_seconds
            with engine.server() as s:
                while len(final) < len(broadcasts) and time.monotonic() < wait_until:
                    for bid, _ in broadcasts:
                        if bid in final:
                            continue
                        r = stats.call(s, "wait-broadcast-status", "GET", engine.url(f"/v1/broadcasts/{bid}"), (200,))
                        if r is not None and r.status_code == 200 and r.json()["status"] in ("complete", "failed"):
                            final[bid] = r.json()
                    time.sleep(0.2)
        finally:
            all_final.set()

    def churner(k: int) -> Callable[[float], None]:
        def work(deadline: float) -> None:
            rnd = random.Random(f"{run}-c{k}")
            ops = 0
            hard_stop = deadline + wait_seconds
            with engine.server() as s:
                # a few operations at least, then until every broadcast is final, however long that takes
                while (ops < 6 or not all_final.is_set()) and time.monotonic() < hard_stop:
                    owner = rnd.choice(sorted(owners))
                    user = rnd.choice(churn[owner])
                    roll = rnd.random()
                    if roll < 0.45:
                        body: dict[str, Any] = {"role": ORG_ROLE[owners[owner]]}
                        if owners[owner] == "communities":
                            body["banned"] = rnd.random() < 0.3
                        stats.call(s, "member-put", "PUT", member_url(owner, user), (200, 201), json=body)
                    elif roll < 0.7 and owners[owner] == "communities":
                        stats.call(s, "member-ban", "PUT", member_url(owner, user), (200, 201),
                                   json={"role": "Subscriber", "banned": True})
                    else:
                        stats.call(s, "member-delete", "DELETE", member_url(owner, user), (204, 404))
                    ops += 1
                    time.sleep(rnd.uniform(0, 0.02))
        return work

    run_workers([broadcaster(k) for k in range(BROADCASTERS)] + [churner(k) for k in range(CHURNERS)]
                + [watcher], 15 * SCALE)  # the broadcasters' deadline
    stats.stop()
    assert broadcasts, "no broadcast was accepted:\n" + "\n".join(request_problems(stats)[:20])
    problems = []
    pending = [bid for bid, _ in broadcasts if bid not in final]
    if pending:
        problems.append(f"{len(pending)} of {len(broadcasts)} broadcasts not complete in time: {pending[:3]}")
    failed = {bid: b for bid, b in final.items() if b["status"] != "complete"}
    if failed:
        problems.append(f"failed broadcasts: {failed}")
    verdict(stats, problems)  # the inbox checks below need every broadcast complete

    everyone = sorted(stable) + sorted(u for us in churn.values() for u in us)
    views = read_inboxes(engine, everyone, stats)
    owner_of = dict(broadcasts)
    holders: Counter[str] = Counter()  # broadcast id -> inboxes holding it
    for user, view in views.items():
        held = Counter(n["broadcastId"] for n in view.items if n["broadcastId"])
        dupes = {b: c for b, c in held.items() if c > 1}
        if dupes:
            problems.append(f"{user}: duplicated broadcasts {dupes}")
        unknown = set(held) - set(owner_of)
        if unknown:
            problems.append(f"{user}: broadcasts this run did not send {sorted(unknown)[:3]}")
        holders.update(set(held))
        allowed = stable.get(user) or {o for o, us in churn.items() if user in us}
        strays = {b for b in held if owner_of.get(b) not in allowed}
        if strays:
            problems.append(f"{user}: holds broadcasts to owners it never belonged to: "
                            f"{[(b, owner_of.get(b)) for b in sorted(strays)[:3]]}")
        if user in stable:
            missing = [b for b, owner in broadcasts if owner in stable[user] and held[b] != 1]
            if missing:
                problems.append(f"{user} (member of {sorted(stable[user])} for the whole run): "
                                f"missing {len(missing)} broadcasts, e.g. {missing[:2]}")
        problems += counter_problems(view)
    for bid, b in final.items():
        if b["delivered"] != holders[bid]:
            problems.append(f"broadcast {bid} to {owner_of[bid]}: delivered={b['delivered']} but "
                            f"{holders[bid]} inboxes hold it (eligible={b['eligible']}, skipped={b['skipped']})")
        expected_min = sum(1 for u in stable if owner_of[bid] in stable[u])
        if b["eligible"] < expected_min:
            problems.append(f"broadcast {bid}: eligible={b['eligible']} < {expected_min} stable members")
    verdict(stats, problems)
