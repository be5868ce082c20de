"""Fault injection over real HTTP against DynamoDB Local.

The service runs in its own process, so the test cannot patch
`chalicelib.domain.delivery.commit_hook` itself. `notifications dev` loads
`chalicelib/local/faults.py` when NOTIFICATIONS_FAULTS is set: inbox transaction
commits in the stream poller's thread then throttle (ProvisionedThroughputExceeded),
die before committing or die right after committing (a chunk dies part-way), and
stream batches are delivered twice or replayed later. When the broadcast completes,
every eligible member holds exactly one copy and every unread counter equals the
number of unread items, read from DynamoDB Local directly (a Scan sees duplicates the
API would hide) and through the API.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.integration.conftest import (ddb_client, ddb_env, needs_local_process, scan_all, start_service,
                                        stop_service, wait_for)

MEMBERS = 3000
BANNED = {f"f{i:05d}" for i in range(0, MEMBERS, 97)}
FAULTS = {"seed": 20261123, "throttle": 0.2, "fail_before": 0.006, "fail_after": 0.006, "duplicate": 0.3,
          "replay": 0.15}
PREFIX = "it-faults"


@pytest.fixture(scope="module")
def faulty_service(dynamodb_local):
    needs_local_process()
    env = ddb_env(dynamodb_local, PREFIX)
    env.update({"NOTIFICATIONS_FAULTS": json.dumps(FAULTS), "FANOUT_CHUNK_SIZE": "100"})
    svc = start_service(env)
    yield svc
    stop_service(svc)


def test_broadcast_under_faults_delivers_exactly_once(faulty_service, dynamodb_local):
    svc = faulty_service
    headers = dict(svc.session().headers)
    users = [f"f{i:05d}" for i in range(MEMBERS)]

    def join(user: str) -> int:
        with requests.Session() as s:
            return s.put(svc.url(f"/v1/communities/com-faults/members/{user}"), headers=headers,
                         json={"role": "Subscriber", "banned": user in BANNED}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(join, users)) == {201}
    srv = svc.session()
    r = srv.post(svc.url("/v1/notifications"),
                 json={"community": "com-faults", "type": "Incident", "message": "Fault drill"})
    assert r.status_code == 202, r.text
    bid = r.json()["broadcastId"]
    final = wait_for(lambda: (lambda b: b if b["status"] in ("complete", "failed") else None)(
        srv.get(svc.url(f"/v1/broadcasts/{bid}")).json()), timeout=400, interval=0.5)
    eligible = [u for u in users if u not in BANNED]
    assert final["status"] == "complete", final
    assert final["eligible"] == len(eligible) and final["delivered"] == len(eligible)

    # Some members read theirs (through the API) before the books are checked.
    readers = eligible[::7]

    def read_all(user: str) -> int:
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {svc.token(user=user)}"
            return s.post(svc.url("/v1/users/me/notifications/read"), json={"all": True}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(read_all, readers)) <= {200, 202}

    client = ddb_client(dynamodb_local)
    inbox = [i for i in scan_all(client, f"{PREFIX}-inbox") if not i["sk"]["S"].startswith("g#")]
    copies = Counter(i["pk"]["S"].split("#", 1)[1] for i in inbox if i.get("bid", {}).get("S") == bid)
    assert {u: n for u, n in copies.items() if n != 1} == {}, "duplicated copies"
    assert set(copies) == set(eligible), "missing or ineligible recipients"
    unread_items = Counter(i["pk"]["S"] for i in inbox if "unr" in i)
    counters = {c["pk"]["S"]: int(c.get("unread", {}).get("N", "0")) for c in scan_all(client, f"{PREFIX}-counters")}
    wrong = {pk: (counters.get(pk, 0), unread_items.get(pk, 0)) for pk in set(counters) | set(unread_items)
             if counters.get(pk, 0) != unread_items.get(pk, 0)}
    assert wrong == {}, "counter != unread items"
    assert sum(unread_items.values()) == len(eligible) - len(readers)

    # The API agrees for a sample of members, readers and banned members.
    def count(user: str) -> int:
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {svc.token(user=user)}"
            return s.get(svc.url("/v1/users/me/notifications/unread-count")).json()["unreadCount"]

    sample = eligible[1::50] + readers[:20] + sorted(BANNED)[:10]
    with ThreadPoolExecutor(8) as pool:
        got = dict(zip(sample, pool.map(count, sample)))
    expected = {u: 0 if (u in BANNED or u in readers) else 1 for u in sample}
    assert got == expected

    # The faults really happened: the runtime logs its counts when it stops.
    stop_service(svc)
    log = svc.log_path.read_text()
    match = re.search(r"fault injection stats: (\{.*\})", log)
    assert match, log[-2000:]
    stats = json.loads(match.group(1))
    print(f"\nfault injection: {stats}")
    for kind in ("throttle", "fail_before", "fail_after", "duplicate", "replay"):
        assert stats[kind] > 0, stats
