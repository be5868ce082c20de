"""The fault drill: a broadcast over real HTTP while everything that can go wrong does, on
DynamoDB Local and on `make dev`'s default engine (the embedded moto server).

The service runs in its own process; `notifications dev` loads `notifications/local/faults.py`
when NOTIFICATIONS_FAULTS is set, which wraps the fan-out from outside production code:
inbox transactions throttle, die before or right after committing; coordinator stream
batches are delivered twice or replayed late, and a step dies after enqueuing its chunks;
work-queue messages are delivered twice (after success) or to two writers at once (racing
to mark the chunk and to complete the broadcast); writers die between their inbox writes
and the chunk marker; one chunk fails until it is dead-lettered, so the broadcast ends
`failed`, then `notifications redrive` moves it back and the broadcast completes. Members
join, leave and are banned while it runs.

Afterwards every member eligible at send time (and not removed or banned meanwhile) holds
exactly one copy, members removed or banned meanwhile hold at most one, joiners none;
every unread counter equals that inbox's unread items (read from the engine directly: a
Scan sees duplicates the API would hide, and through the API); the broadcast's progress
counts exactly the members holding it.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import requests

from tests.integration.conftest import ddb_env, needs_local_process, scan_all, start_service, stop_service, wait_for

# Rates high enough that each fault strikes several times per run (the test checks each did), and low
# enough that the coordinator does not die on one step 5 times running (that fails a broadcast, as it
# should in production). One chunk per coordinator step: ~30 steps for the step faults to strike.
FAULTS = {"seed": 20261202, "throttle": 0.2, "fail_before": 0.01, "fail_after": 0.02, "duplicate": 0.3,
          "replay": 0.15, "die_after_enqueue": 0.15, "sqs_duplicate": 0.3, "sqs_race": 0.3,
          "die_before_marker": 0.2, "dead_letter_chunks": [3]}
# Members per drill, in chunks of CHUNK_SIZE; 10 actions per transaction on both (DynamoDB Local's
# own limit), so each has hundreds of inbox commits for the commit faults to strike, and 20-30
# chunks for the chunk and step faults.
ENGINES = {"dynamodb-local": 1500, "moto": 1000}
CHUNK_SIZE = 50


def _engine_endpoints(log: str) -> tuple[str, str]:
    dynamodb = re.search(r"storage: .*? at (http://[0-9.:]+)", log)
    sqs = re.search(r"SQS at (http://[0-9.:]+)", log)
    assert dynamodb and sqs, log[-2000:]
    return dynamodb.group(1), sqs.group(1)


@pytest.fixture(scope="module", params=sorted(ENGINES))
def drill(request):
    needs_local_process()
    engine = request.param
    prefix = f"it-faults-{engine}"
    env = {"TENANT_KEYS": os.environ["TENANT_KEYS"], "TABLE_PREFIX": prefix}
    if engine == "dynamodb-local":
        env = ddb_env(request.getfixturevalue("dynamodb_local"), prefix)
    env.update({"NOTIFICATIONS_FAULTS": json.dumps(FAULTS), "FANOUT_CHUNK_SIZE": str(CHUNK_SIZE),
                "FANOUT_CHUNKS_PER_STEP": "1", "WORK_QUEUE_MAX_RECEIVES": "4", "DYNAMODB_TRANSACTION_LIMIT": "10"})
    svc = start_service(env)
    svc.engine_name, svc.prefix, svc.members = engine, prefix, ENGINES[engine]
    svc.dynamodb_endpoint, svc.sqs_endpoint = _engine_endpoints(svc.log_path.read_text())
    yield svc
    stop_service(svc)


def _ddb(svc):
    return boto3.client("dynamodb", endpoint_url=svc.dynamodb_endpoint, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def _seed_members(svc, users, banned: set[str]) -> None:
    """Members written straight into the engine (as the API writes them): thousands of PUTs over
    HTTP would take minutes on a loaded machine and are not what this drill is about."""
    client = _ddb(svc)
    items = [{"PutRequest": {"Item": {
        "pk": {"S": "dev#com#com-faults"}, "sk": {"S": f"m#{user}"}, "mkey": {"S": f"dev#{user}"},
        "role": {"S": "Subscriber"}, "banned": {"BOOL": user in banned}, "is_api": {"BOOL": False},
        "joined": {"N": "0"}}}} for user in users]
    for start in range(0, len(items), 25):
        pending = {f"{svc.prefix}-directory": items[start:start + 25]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _put_members(svc, headers, users, **body) -> set[int]:
    def put(user: str) -> int:
        with requests.Session() as s:
            return s.put(svc.url(f"/v1/communities/com-faults/members/{user}"), headers=headers,
                         json={"role": "Subscriber", **body}).status_code

    with ThreadPoolExecutor(8) as pool:
        return set(pool.map(put, users))


def test_broadcast_under_faults_delivers_exactly_once(drill):
    svc = drill
    srv = svc.session()
    headers = dict(srv.headers)
    users = [f"f{i:05d}" for i in range(svc.members)]
    banned_before = set(users[::97])
    _seed_members(svc, users, banned_before)

    r = srv.post(svc.url("/v1/notifications"),
                 json={"community": "com-faults", "type": "Incident", "message": "Fault drill"})
    assert r.status_code == 202, r.text
    bid = r.json()["broadcastId"]
    # While it runs: some members leave, some are banned, some join (after the send: not theirs).
    leavers = set(users[-40::3])
    banned_during = set(users[-41::5]) - leavers - banned_before
    joiners = [f"late{i:03d}" for i in range(30)]

    def leave(user: str) -> int:
        with requests.Session() as s:
            return s.delete(svc.url(f"/v1/communities/com-faults/members/{user}"), headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(leave, sorted(leavers))) <= {200, 204}
    assert _put_members(svc, headers, sorted(banned_during), banned=True) <= {200, 201}
    assert _put_members(svc, headers, joiners) == {201}

    def status():
        return srv.get(svc.url(f"/v1/broadcasts/{bid}")).json()

    # One chunk fails every attempt: the broadcast ends failed, naming it, with the others delivered.
    failed = wait_for(lambda: (lambda b: b if b["status"] in ("complete", "failed") else None)(status()),
                      timeout=600, interval=0.5)
    assert failed["status"] == "failed", failed
    assert failed["chunks"]["failed"] == 1 and failed["chunks"]["done"] == failed["chunks"]["total"] - 1, failed
    # The operator redrives the dead-letter queue; the chunk is delivered and the broadcast completes.
    # The failure is recorded on the last receive; SQS moves the message to the dead-letter queue on
    # the receive after it (once its visibility timeout lapses), so the operator may find it empty
    # for a few seconds.
    def redrive() -> str | None:
        run = subprocess.run([sys.executable, "-m", "notifications.cli", "redrive"], capture_output=True,
                             text=True, timeout=60, env={**os.environ, "SQS_ENDPOINT": svc.sqs_endpoint,
                                                         "TABLE_PREFIX": svc.prefix})
        assert run.returncode == 0, (run.stdout, run.stderr)
        return run.stdout if re.search(r"moved [1-9]\d* ", run.stdout) else None

    wait_for(redrive, timeout=90, interval=1.0)
    final = wait_for(lambda: (lambda b: b if b["status"] == "complete" else None)(status()), timeout=120,
                     interval=0.5)
    assert final["chunks"]["failed"] == 0 and final["chunks"]["done"] == final["chunks"]["total"], final

    client = _ddb(svc)
    inbox = [i for i in scan_all(client, f"{svc.prefix}-inbox") if not i["sk"]["S"].startswith("g#")]
    copies = Counter(i["pk"]["S"].split("#", 1)[1] for i in inbox if i.get("bid", {}).get("S") == bid)
    assert {u: n for u, n in copies.items() if n != 1} == {}, "duplicated copies"
    steady = set(users) - banned_before - leavers - banned_during
    assert steady <= set(copies), f"missing: {sorted(steady - set(copies))[:10]}"
    assert set(copies) <= steady | leavers | banned_during, "ineligible recipients"
    assert final["delivered"] == len(copies) and final["eligible"] == len(copies), (final, len(copies))

    # Some members read theirs (through the API) before the books are checked.
    readers = sorted(steady)[::7]

    def read_all(user: str) -> int:
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {svc.token(user=user)}"
            return s.post(svc.url("/v1/users/me/notifications/read"), json={"all": True}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(read_all, readers)) <= {200, 202}
    inbox = [i for i in scan_all(client, f"{svc.prefix}-inbox") if not i["sk"]["S"].startswith("g#")]
    unread_items = Counter(i["pk"]["S"] for i in inbox if "unr" in i)
    counters = {c["pk"]["S"]: int(c.get("unread", {}).get("N", "0"))
                for c in scan_all(client, f"{svc.prefix}-counters")}
    wrong = {pk: (counters.get(pk, 0), unread_items.get(pk, 0)) for pk in set(counters) | set(unread_items)
             if counters.get(pk, 0) != unread_items.get(pk, 0)}
    assert wrong == {}, "counter != unread items"
    assert sum(unread_items.values()) == len(copies) - len(readers)

    # The API agrees for a sample of members, readers, joiners and members banned before the send.
    def count(user: str) -> int:
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {svc.token(user=user)}"
            return s.get(svc.url("/v1/users/me/notifications/unread-count")).json()["unreadCount"]

    sample = sorted(steady)[1::50] + readers[:20] + sorted(banned_before)[:10] + joiners[:5]
    with ThreadPoolExecutor(8) as pool:
        got = dict(zip(sample, pool.map(count, sample)))
    expected = {u: 1 if (u in steady and u not in readers) else 0 for u in sample}
    assert got == expected

    # The faults really happened: the runtime logs its counts when it stops.
    stop_service(svc)
    log = svc.log_path.read_text()
    match = re.search(r"fault injection stats: (\{.*\})", log)
    assert match, log[-2000:]
    stats = json.loads(match.group(1))
    print(f"\nfault injection on {svc.engine_name}: {stats}")
    for kind in ("throttle", "fail_before", "fail_after", "duplicate", "replay", "die_after_enqueue",
                 "sqs_duplicate", "sqs_race", "die_before_marker", "dead_letter"):
        assert stats[kind] > 0, (kind, stats)
