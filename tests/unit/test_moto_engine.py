"""The dev runtime's moto shim (notifications/local/moto_engine.py) on a real moto server, started
in this process with ThreadedMotoServer on a free port, hit by concurrent threads.

A short GIL switch interval makes the threads interleave inside moto's request handlers, which
is what exposes the races the shim removes (without it, moto 5.2.5 lost conditional updates,
let two conditional puts claim one key, and restored stale table copies over other writes).
"""
from __future__ import annotations

import json
import random
import re
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from notifications.local import moto_engine
from notifications.local.runtime import free_port
from tests.threads import run_threads

REGION = "eu-central-1"  # not the unit tier's region: this server's data never meets mock_aws tests
CONFIG = Config(max_pool_connections=64, retries={"max_attempts": 0}, connect_timeout=5, read_timeout=60)


def _reset_backends() -> None:
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    for backends in (dynamodb_backends, dynamodbstreams_backends):
        for account in list(backends.keys()):
            if REGION in backends[account]:
                backends[account][REGION].reset()


@pytest.fixture
def engine():
    """A moto server with the shim installed; yields a factory of clients for it."""
    from moto.server import ThreadedMotoServer

    with moto_engine.patched(max_stream_records=moto_engine.DEFAULT_MAX_STREAM_RECORDS,
                             max_shard_iterators=moto_engine.DEFAULT_MAX_SHARD_ITERATORS):
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{port}"

        def make(service: str = "dynamodb"):
            return boto3.client(service, endpoint_url=endpoint, region_name=REGION, config=CONFIG)

        moto_engine.reset_stats()
        try:
            yield make
        finally:
            server.stop()
            _reset_backends()


@pytest.fixture
def interleave():
    """Switch threads every 10 µs (default 5 ms) so requests interleave inside moto."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def create_tables(ddb, stream: bool = True) -> None:
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}} if stream else {}
    ddb.create_table(TableName="items", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}], **extra)
    ddb.create_table(TableName="counters", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])


def scan(ddb, table: str) -> list[dict]:
    return [item for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
            for item in page["Items"]]


def counter(ddb, user: str) -> int:
    item = ddb.get_item(TableName="counters", Key={"pk": {"S": user}}, ConsistentRead=True).get("Item", {})
    return int(item.get("unread", {"N": "0"})["N"])


# -- pin and shape -------------------------------------------------------------------------------

def test_shim_is_pinned_to_the_moto_version_in_pyproject():
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    pin = re.search(r'"moto\[[^\]]*\]==([^"]+)"', pyproject).group(1)
    assert pin == moto_engine.MOTO_VERSION
    moto_engine.check_moto()  # the installed moto is that version, with the code the shim replaces


def test_another_moto_is_refused_loudly(monkeypatch):
    monkeypatch.setattr(moto_engine, "MOTO_VERSION", "5.0.0")
    with pytest.raises(moto_engine.MotoEngineMismatch, match="written for moto 5.0.0"):
        moto_engine.check_moto()


def test_a_changed_moto_function_is_refused_loudly(monkeypatch):
    name = "moto.dynamodb.models.DynamoDBBackend.transact_write_items"
    monkeypatch.setitem(moto_engine.SOURCE_HASHES, name, "0" * 64)
    with pytest.raises(moto_engine.MotoEngineMismatch, match=re.escape(name)):
        moto_engine.check_moto()
    assert not moto_engine.installed()
    with pytest.raises(moto_engine.MotoEngineMismatch):
        moto_engine.install()
    assert not moto_engine.installed()


def test_uninstall_restores_moto():
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    original = DynamoDBBackend.transact_write_items
    with moto_engine.patched():
        assert DynamoDBBackend.transact_write_items is moto_engine.transact_write_items
        assert "call_action" in DynamoDBStreamsHandler.__dict__
    assert DynamoDBBackend.transact_write_items is original
    assert "call_action" not in DynamoDBStreamsHandler.__dict__  # inherited again, as before


# -- exact under concurrency -----------------------------------------------------------------------

def test_concurrent_conditional_transactions_keep_counters_exact(engine, interleave):
    """8 threads deliver overlapping items (conditional put + counter ADD) and toggle their read
    state (conditional update + counter ADD -1/+1), as delivery and read state do."""
    ddb = engine()
    create_tables(ddb)
    users = ["u0", "u1"]
    ids = [f"n{i:02d}" for i in range(12)]

    def deliver(user: str, batch: list[str], client) -> None:
        pending = list(batch)
        while pending:
            actions = [{"Put": {"TableName": "items", "Item": {"pk": {"S": user}, "sk": {"S": nid}, "unr": {"N": "1"}},
                                "ConditionExpression": "attribute_not_exists(sk)"}} for nid in pending]
            actions.append({"Update": {"TableName": "counters", "Key": {"pk": {"S": user}},
                                       "UpdateExpression": "ADD unread :n",
                                       "ExpressionAttributeValues": {":n": {"N": str(len(pending))}}}})
            try:
                client.transact_write_items(TransactItems=actions)
                return
            except client.exceptions.TransactionCanceledException as exc:
                reasons = exc.response["CancellationReasons"]
                exists = {i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"}
                assert exists, reasons
                pending = [nid for i, nid in enumerate(pending) if i not in exists]

    def toggle(user: str, nid: str, read: bool, client) -> None:
        item = {"TableName": "items", "Key": {"pk": {"S": user}, "sk": {"S": nid}}}
        if read:
            item.update(UpdateExpression="REMOVE unr", ConditionExpression="attribute_exists(unr)")
            delta = "-1"
        else:
            item.update(UpdateExpression="SET unr = :one", ConditionExpression="attribute_exists(sk) AND "
                        "attribute_not_exists(unr)", ExpressionAttributeValues={":one": {"N": "1"}})
            delta = "1"
        try:
            client.transact_write_items(TransactItems=[
                {"Update": item},
                {"Update": {"TableName": "counters", "Key": {"pk": {"S": user}}, "UpdateExpression": "ADD unread :d",
                            "ExpressionAttributeValues": {":d": {"N": delta}}}}])
        except client.exceptions.TransactionCanceledException:
            pass  # already in that state, or not delivered yet

    def worker(index: int) -> None:
        rng = random.Random(index)
        client = engine()
        for round_ in range(25):
            user = rng.choice(users)
            if round_ % 5 == 0:
                deliver(user, rng.sample(ids, 5), client)
            else:
                toggle(user, rng.choice(ids), rng.random() < 0.5, client)

    assert run_threads(8, worker) == []
    items = scan(ddb, "items")
    for user in users:
        mine = [i for i in items if i["pk"]["S"] == user]
        assert len({i["sk"]["S"] for i in mine}) == len(mine)
        assert counter(ddb, user) == sum(1 for i in mine if "unr" in i), user
    assert moto_engine.stats["transactions"] >= 8 * 25


def test_concurrent_conditional_updates_and_puts_are_atomic(engine, interleave):
    """Plain UpdateItem/PutItem: the condition check and the write do not interleave with
    another request (moto alone lost increments and let two puts claim one key)."""
    ddb = engine()
    create_tables(ddb, stream=False)
    ddb.put_item(TableName="counters", Item={"pk": {"S": "occ"}, "v": {"N": "0"}})
    wins: list[tuple[int, str]] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        client = engine()
        done = 0
        while done < 15:  # optimistic increments: v = v + 1 if v is still what was read
            v = int(client.get_item(TableName="counters", Key={"pk": {"S": "occ"}},
                                    ConsistentRead=True)["Item"]["v"]["N"])
            try:
                client.update_item(TableName="counters", Key={"pk": {"S": "occ"}}, UpdateExpression="SET v = :new",
                                   ConditionExpression="v = :old",
                                   ExpressionAttributeValues={":new": {"N": str(v + 1)}, ":old": {"N": str(v)}})
                done += 1
            except client.exceptions.ConditionalCheckFailedException:
                continue
        for key in range(40):  # each key claimed by exactly one thread
            try:
                client.put_item(TableName="counters", Item={"pk": {"S": f"claim{key}"}, "by": {"N": str(index)}},
                                ConditionExpression="attribute_not_exists(pk)")
                with lock:
                    wins.append((key, str(index)))
            except client.exceptions.ConditionalCheckFailedException:
                pass

    assert run_threads(8, worker) == []
    assert int(ddb.get_item(TableName="counters", Key={"pk": {"S": "occ"}})["Item"]["v"]["N"]) == 8 * 15
    assert sorted(key for key, _ in wins) == list(range(40))
    for key, by in wins:
        assert ddb.get_item(TableName="counters", Key={"pk": {"S": f"claim{key}"}})["Item"]["by"]["N"] == by


# -- rollback touches only the transaction's items --------------------------------------------------

def stream_records(engine, table: str) -> list[dict]:
    ddb, streams = engine(), engine("dynamodbstreams")
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records: list[dict] = []
    while True:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        if not page["Records"]:
            return records
        records.extend(page["Records"])
        iterator = page["NextShardIterator"]


def test_cancelled_transaction_restores_its_items_and_stream(engine):
    ddb = engine()
    create_tables(ddb)
    ddb.put_item(TableName="items", Item={"pk": {"S": "u"}, "sk": {"S": "a"}, "v": {"N": "1"}})
    ddb.put_item(TableName="items", Item={"pk": {"S": "u"}, "sk": {"S": "d"}, "v": {"N": "1"}})
    ddb.put_item(TableName="items", Item={"pk": {"S": "u"}, "sk": {"S": "other"}, "v": {"N": "7"}})
    ddb.put_item(TableName="counters", Item={"pk": {"S": "u"}, "unread": {"N": "5"}})
    before_items, before_counters = scan(ddb, "items"), scan(ddb, "counters")
    before_stream = stream_records(engine, "items")
    moto_engine.reset_stats()
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": "items", "Key": {"pk": {"S": "u"}, "sk": {"S": "a"}},
                        "UpdateExpression": "SET v = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Put": {"TableName": "items", "Item": {"pk": {"S": "u"}, "sk": {"S": "b"}}}},
            {"Delete": {"TableName": "items", "Key": {"pk": {"S": "u"}, "sk": {"S": "d"}}}},
            {"Update": {"TableName": "counters", "Key": {"pk": {"S": "u"}}, "UpdateExpression": "ADD unread :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"ConditionCheck": {"TableName": "items", "Key": {"pk": {"S": "u"}, "sk": {"S": "missing"}},
                                "ConditionExpression": "attribute_exists(sk)"}},
        ])
    reasons = [r["Code"] for r in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "None", "ConditionalCheckFailed"]
    assert scan(ddb, "items") == before_items
    assert scan(ddb, "counters") == before_counters
    assert stream_records(engine, "items") == before_stream  # the cancelled writes left no records
    assert moto_engine.stats["rollbacks"] == 1
    assert moto_engine.stats["items_copied"] == 2  # the two updated items; puts/deletes keep the old object
    # The next write's stream record follows on from the last kept one.
    ddb.put_item(TableName="items", Item={"pk": {"S": "u"}, "sk": {"S": "e"}})
    after = stream_records(engine, "items")
    assert int(after[-1]["dynamodb"]["SequenceNumber"]) == int(before_stream[-1]["dynamodb"]["SequenceNumber"]) + 1


def test_cancelled_transactions_do_not_undo_other_requests(engine, interleave):
    """moto restored whole-table copies on cancellation, discarding writes other requests had made
    meanwhile; only the cancelled transaction's own items are restored now."""
    ddb = engine()
    create_tables(ddb)
    ddb.put_item(TableName="items", Item={"pk": {"S": "x"}, "sk": {"S": "exists"}})

    def worker(index: int) -> None:
        client = engine()
        if index % 2 == 0:
            for _ in range(30):
                with pytest.raises(ClientError):
                    client.transact_write_items(TransactItems=[
                        {"Put": {"TableName": "items", "Item": {"pk": {"S": "x"}, "sk": {"S": f"t{index}"}}}},
                        {"Put": {"TableName": "items", "Item": {"pk": {"S": "x"}, "sk": {"S": "exists"}},
                                 "ConditionExpression": "attribute_not_exists(sk)"}}])
        else:
            for n in range(60):
                client.put_item(TableName="items", Item={"pk": {"S": f"w{index}"}, "sk": {"S": f"{n:03d}"}})

    assert run_threads(8, worker) == []
    keys = {(i["pk"]["S"], i["sk"]["S"]) for i in scan(ddb, "items")}
    assert keys == {("x", "exists")} | {(f"w{i}", f"{n:03d}") for i in range(1, 8, 2) for n in range(60)}


def test_transaction_cost_does_not_grow_with_table_size(engine, monkeypatch):
    """Items copied per transaction: the items it updates, never the tables (moto deep-copied
    every named table, with its stream records, on every call)."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    table_copies = []
    real_deepcopy = models.copy.deepcopy

    class CountingCopy:
        @staticmethod
        def deepcopy(value, *args, **kwargs):
            if isinstance(value, Table):
                table_copies.append(value.name)
            return real_deepcopy(value, *args, **kwargs)

    monkeypatch.setattr(models, "copy", CountingCopy)
    ddb = engine()
    create_tables(ddb)

    def transaction(round_: int) -> None:
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": "counters", "Key": {"pk": {"S": "c"}}, "UpdateExpression": "ADD unread :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Update": {"TableName": "items", "Key": {"pk": {"S": "seed"}, "sk": {"S": "0"}},
                        "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"N": str(round_)}}}},
            {"Put": {"TableName": "items", "Item": {"pk": {"S": "new"}, "sk": {"S": str(round_)}},
                     "ConditionExpression": "attribute_not_exists(sk)"}}])

    ddb.put_item(TableName="counters", Item={"pk": {"S": "c"}, "unread": {"N": "0"}})
    ddb.put_item(TableName="items", Item={"pk": {"S": "seed"}, "sk": {"S": "0"}})
    copied = {}
    for size, fill in (("small", 0), ("large", 3000)):
        for start in range(0, fill, 25):
            ddb.batch_write_item(RequestItems={"items": [
                {"PutRequest": {"Item": {"pk": {"S": f"fill{(start + i) // 100}"}, "sk": {"S": f"{start + i:05d}"},
                                         "body": {"S": "x" * 200}}}} for i in range(25)]})
        moto_engine.reset_stats()
        for round_ in range(5):
            transaction(round_ if size == "small" else 100 + round_)
        copied[size] = moto_engine.stats["items_copied"]
    assert copied == {"small": 10, "large": 10}  # 2 existing items updated per transaction
    assert table_copies == []


# -- bounded streams and iterators ------------------------------------------------------------------

def test_stream_keeps_a_bounded_tail_and_trim_horizon_still_reads(engine):
    moto_engine.install(max_stream_records=50)
    ddb, streams = engine(), engine("dynamodbstreams")
    create_tables(ddb)
    arn = ddb.describe_table(TableName="items")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    early = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    for n in range(300):
        ddb.put_item(TableName="items", Item={"pk": {"S": "p"}, "sk": {"S": f"{n:04d}"}})
    records = stream_records(engine, "items")
    assert 50 <= len(records) <= 55
    assert records[-1]["dynamodb"]["Keys"]["sk"]["S"] == "0299"
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequences == list(range(sequences[0], sequences[0] + len(records)))
    assert moto_engine.stats["records_trimmed"] == 300 - len(records)
    with pytest.raises(ClientError, match="TrimmedDataAccessException"):
        streams.get_records(ShardIterator=early)  # its position was trimmed away, as on AWS
    latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    ddb.put_item(TableName="items", Item={"pk": {"S": "p"}, "sk": {"S": "last"}})
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for r in streams.get_records(ShardIterator=latest)["Records"]] == ["last"]


def test_old_records_are_trimmed_after_a_day(engine, monkeypatch):
    import datetime as dt

    import moto.core.utils

    ddb = engine()
    create_tables(ddb)
    for n in range(5):
        ddb.put_item(TableName="items", Item={"pk": {"S": "p"}, "sk": {"S": f"old{n}"}})
    import moto.dynamodb.models.table

    later = moto.core.utils.utcnow() + dt.timedelta(hours=24, minutes=1)
    monkeypatch.setattr(moto.core.utils, "utcnow", lambda: later)
    monkeypatch.setattr(moto.dynamodb.models.table, "utcnow", lambda: later)  # the records' clock
    ddb.put_item(TableName="items", Item={"pk": {"S": "p"}, "sk": {"S": "new"}})
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for r in stream_records(engine, "items")] == ["new"]


def test_shard_iterators_are_bounded_and_old_ones_expire(engine):
    moto_engine.install(max_shard_iterators=20)
    ddb, streams = engine(), engine("dynamodbstreams")
    create_tables(ddb)
    arn = ddb.describe_table(TableName="items")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    first = iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    for _ in range(100):  # an idle poller: each empty read hands out a new iterator
        iterator = streams.get_records(ShardIterator=iterator)["NextShardIterator"]
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    kept = sum(len(b.shard_iterators) for account in dynamodbstreams_backends.values()
               for region, b in account.items() if region == REGION)
    assert kept <= 20
    with pytest.raises(ClientError, match="ExpiredIteratorException"):
        streams.get_records(ShardIterator=first)
    ddb.put_item(TableName="items", Item={"pk": {"S": "p"}, "sk": {"S": "x"}})
    assert len(streams.get_records(ShardIterator=iterator)["Records"]) == 1


def test_poller_goes_on_from_the_oldest_record_kept_after_a_trim(engine):
    """A reader that fell behind the trim point gets TrimmedDataAccessException; the local poller
    then continues from TRIM_HORIZON instead of asking again forever."""
    from notifications.local.poller import StreamPoller

    moto_engine.install(max_stream_records=20)
    ddb = engine()
    create_tables(ddb)
    seen: list[str] = []
    gate = threading.Event()

    def handler(event):
        gate.wait(30)
        seen.extend(r["dynamodb"]["Keys"]["sk"]["S"] for r in event["Records"])
        return {"batchItemFailures": []}

    poller = StreamPoller("items", handler, endpoint=ddb.meta.endpoint_url, region=REGION, idle_sleep=0.02,
                          batch_size=5).start()
    try:
        ddb.put_item(TableName="items", Item={"pk": {"S": "p"}, "sk": {"S": "0000"}})
        deadline = time.monotonic() + 10
        while poller.invocations == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        for n in range(1, 200):  # while the handler is held on the first batch
            ddb.put_item(TableName="items", Item={"pk": {"S": "p"}, "sk": {"S": f"{n:04d}"}})
        gate.set()
        deadline = time.monotonic() + 30
        while "0199" not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.stop()
    assert seen[0] == "0000" and seen[-1] == "0199"
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert len(seen) < 200  # the trimmed records were skipped, not invented


def test_poller_runs_partition_keys_side_by_side_and_each_in_order(engine):
    """As a mapping with ParallelizationFactor: a batch held on one partition key does not hold
    another key's records back, and each key's records are handled in stream order."""
    from notifications.local.poller import StreamPoller

    ddb = engine()
    create_tables(ddb)
    seen: list[tuple[str, str]] = []
    b_seen = threading.Event()

    def handler(event):
        for record in event["Records"]:
            keys = record["dynamodb"]["Keys"]
            if keys["pk"]["S"] == "a" and keys["sk"]["S"] == "0000":
                assert b_seen.wait(20), "key b waited behind key a"
            seen.append((keys["pk"]["S"], keys["sk"]["S"]))
            if keys["pk"]["S"] == "b":
                b_seen.set()
        return {"batchItemFailures": []}

    poller = StreamPoller("items", handler, endpoint=ddb.meta.endpoint_url, region=REGION, idle_sleep=0.02,
                          batch_size=3).start()
    try:
        for n in range(6):
            ddb.put_item(TableName="items", Item={"pk": {"S": "a"}, "sk": {"S": f"{n:04d}"}})
        for n in range(4):
            ddb.put_item(TableName="items", Item={"pk": {"S": "b"}, "sk": {"S": f"{n:04d}"}})
        deadline = time.monotonic() + 30
        while len(seen) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.stop()
    assert [sk for pk, sk in seen if pk == "a"] == [f"{n:04d}" for n in range(6)]
    assert [sk for pk, sk in seen if pk == "b"] == [f"{n:04d}" for n in range(4)]
    assert seen.index(("b", "0000")) < seen.index(("a", "0000"))


# -- the same answers as moto: each fast path against unpatched moto on the same requests ----------
#
# A scenario is a function of a client factory that makes requests (drawn from a seeded random
# generator, so both runs make the same ones) and returns what it observed: every response or
# error, then the tables' contents and stream records. It runs once on moto 5.2.5 as it is and
# once with the shim installed, each on a fresh server; the observations must be equal.

@contextmanager
def moto_server(shim: bool):
    from moto.server import ThreadedMotoServer

    was = moto_engine.installed()
    if shim:
        moto_engine.install()
    else:
        moto_engine.uninstall()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    moto_engine.reset_stats()
    try:
        yield lambda service="dynamodb": boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                                                      config=CONFIG)
    finally:
        server.stop()
        _reset_backends()
        if was:
            moto_engine.install()
        else:
            moto_engine.uninstall()


def differential(scenario) -> dict[str, int]:
    """Runs the scenario on moto and on moto with the shim; returns the shim's stats."""
    with moto_server(shim=False) as make:
        expected = scenario(make)
    with moto_server(shim=True) as make:
        actual = scenario(make)
        used = dict(moto_engine.stats)
    assert len(actual) == len(expected)
    for index, (got, want) in enumerate(zip(actual, expected)):
        assert got == want, f"observation {index} differs"
    return used


def observe(call, **kwargs):
    """A response without its metadata, or the error's code, message and cancellation reasons."""
    try:
        response = call(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return ("error", error.get("Code"), error.get("Message"), exc.response.get("CancellationReasons"))
    response.pop("ResponseMetadata", None)
    return ("ok", response)


def table_state(make, tables: list[str]) -> list:
    ddb = make()
    state = [scan(ddb, name) for name in tables]
    for name in tables:
        description = ddb.describe_table(TableName=name)["Table"]
        if "LatestStreamArn" in description:
            records = stream_records(make, name)
            for record in records:  # random ids and clock readings differ between runs (SizeBytes
                record.pop("eventID", None)  # counts the digits of the record's time)
                record["dynamodb"].pop("ApproximateCreationDateTime", None)
                record["dynamodb"].pop("SizeBytes", None)
            state.append(records)
        state.append(description["ItemCount"])
    return state


def random_value(rng: random.Random, depth: int = 0) -> dict:
    kinds = ["S", "N", "BOOL", "NULL", "B", "SS", "NS", "BS"] + (["M", "L"] if depth < 2 else [])
    kind = rng.choice(kinds)
    if kind == "S":
        return {"S": rng.choice(["", "x", "héllo", "a" * rng.randint(1, 30), "#0", "size"])}
    if kind == "N":
        return {"N": rng.choice(["0", "1", "-7", "1.50", "3.14159", "100000000000000000001", "-0.5"])}
    if kind == "BOOL":
        return {"BOOL": rng.random() < 0.5}
    if kind == "NULL":
        return {"NULL": True}
    if kind == "B":
        return {"B": bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))}
    if kind == "SS":
        return {"SS": sorted({rng.choice("abcdef") * rng.randint(1, 3) for _ in range(rng.randint(1, 3))})}
    if kind == "NS":
        return {"NS": sorted({str(rng.randint(-5, 50)) for _ in range(rng.randint(1, 3))})}
    if kind == "BS":
        return {"BS": list({bytes([rng.randrange(256)]) for _ in range(rng.randint(1, 3))})}
    if kind == "M":
        return {"M": {rng.choice(["k", "key two", "ü", "n"]): random_value(rng, depth + 1)
                      for _ in range(rng.randint(0, 3))}}
    return {"L": [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]}


def create_update_table(ddb) -> None:
    ddb.create_table(TableName="u", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"},
                                           {"AttributeName": "lk", "AttributeType": "S"}],
                     LocalSecondaryIndexes=[{"IndexName": "by_lk", "Projection": {"ProjectionType": "ALL"},
                                             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                           {"AttributeName": "lk", "KeyType": "RANGE"}]}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    ddb.create_table(TableName="c", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])


ATTRIBUTES = ["a", "b", "c", "lk", "sk", "pk", "size", "name", "counter"]  # keys, an index key, reserved words


def random_update(rng: random.Random) -> dict:
    """An UpdateItem request: mostly the simple shapes the shim applies itself, some it leaves to
    moto (arithmetic, functions, nested paths, DELETE, repeated clauses) and some moto refuses."""
    names: dict[str, str] = {}
    values: dict[str, dict] = {}
    simple = rng.random() < 0.6  # distinct top-level attributes, values given, no functions
    unused = [a for a in ATTRIBUTES if a not in ("sk", "pk")]
    rng.shuffle(unused)

    def path() -> str:
        if simple:
            attribute = unused.pop() if unused else "a"
            if rng.random() < 0.7:
                names[f"#n{len(names)}"] = attribute
                return f"#n{len(names) - 1}"
            return attribute
        attribute = rng.choice(ATTRIBUTES)
        roll = rng.random()
        if roll < 0.55:
            placeholder = f"#n{len(names)}"
            names[placeholder] = attribute
            return placeholder
        if roll < 0.6:
            return "#missing"
        if roll < 0.65:
            return f"{attribute}.inner"
        return attribute

    def value(kind: str | None = None) -> str:
        placeholder = f":v{len(values)}"
        if kind == "N":
            values[placeholder] = {"N": rng.choice(["1", "-1", "2.5", "10"])}
        else:
            values[placeholder] = random_value(rng)
        return placeholder if simple or rng.random() > 0.03 else ":undefined"

    clauses = []
    for clause in rng.sample(["SET", "REMOVE", "ADD", "DELETE"], rng.randint(1, 3)):
        if clause == "DELETE" and (simple or rng.random() < 0.7):
            continue
        actions = []
        for _ in range(rng.randint(1, 3)):
            if clause == "SET":
                roll = 0.0 if simple else rng.random()
                if roll < 0.8:
                    actions.append(f"{path()} = {value()}")
                elif roll < 0.9:
                    actions.append(f"{path()} = {path()} + {value('N')}")
                else:
                    actions.append(f"{path()} = if_not_exists({path()}, {value()})")
            elif clause == "REMOVE":
                actions.append(path())
            elif clause == "ADD":
                actions.append(f"{path()} {value('N' if rng.random() < 0.8 else None)}")
            else:
                actions.append(f"{path()} {value()}")
        clauses.append(f"{clause} " + ", ".join(actions))
    if not simple and rng.random() < 0.05:
        clauses.append(f"SET {path()} = {value()}")  # maybe a second SET clause: moto refuses it
    request: dict = {"UpdateExpression": " ".join(clauses)}
    if rng.random() < 0.3:
        condition = rng.choice(["attribute_exists(#c0)", "attribute_not_exists(#c0)", "#c0 = :c0", "#c0 > :c0"])
        names["#c0"] = rng.choice(["a", "counter", "pk"])
        if ":c0" in condition:
            values[":c0"] = {"N": "1"} if rng.random() < 0.5 else {"S": "x"}
        request["ConditionExpression"] = condition
        if rng.random() < 0.5:
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    if names:
        request["ExpressionAttributeNames"] = names
    if values:
        request["ExpressionAttributeValues"] = values
    return request


def update_scenario(seed: int, operations: int):
    def scenario(make) -> list:
        rng = random.Random(seed)
        ddb = make()
        create_update_table(ddb)
        seen = []
        for _ in range(operations):
            key = {"pk": {"S": f"p{rng.randint(0, 2)}"}, "sk": {"S": f"s{rng.randint(0, 4)}"}}
            request = random_update(rng)
            roll = rng.random()
            if roll < 0.55:
                request["ReturnValues"] = rng.choice(["NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"])
                seen.append(observe(ddb.update_item, TableName="u", Key=key, **request))
            elif roll < 0.65:
                counter = {"UpdateExpression": "ADD #u :one, #t :one", "ExpressionAttributeNames": {"#u": "unread", "#t": "total"},
                           "ExpressionAttributeValues": {":one": {"N": rng.choice(["1", "-1"])}}}
                seen.append(observe(ddb.update_item, TableName="c", Key={"pk": key["pk"]}, ReturnValues="ALL_NEW",
                                    **counter))
            elif roll < 0.8:
                item = {**key, **{name: random_value(rng) for name in rng.sample(["a", "b", "counter", "name"], 2)}}
                if rng.random() < 0.3:
                    item["lk"] = {"S": rng.choice(["", "l1", "l2"])}
                seen.append(observe(ddb.put_item, TableName="u", Item=item))
            else:  # the same updates inside transactions, with puts, deletes and checks
                actions = []
                for index in range(rng.randint(1, 4)):
                    sk = {"S": f"t{index}"} if rng.random() < 0.5 else key["sk"]
                    target = {"pk": key["pk"], "sk": sk}
                    kind = rng.choice(["Update", "Update", "Put", "Delete", "ConditionCheck"])
                    if kind == "Update":
                        actions.append({"Update": {"TableName": "u", "Key": target, **random_update(rng)}})
                    elif kind == "Put":
                        actions.append({"Put": {"TableName": "u", "Item": {**target, "a": random_value(rng)},
                                                "ConditionExpression": "attribute_not_exists(sk)"}})
                    elif kind == "Delete":
                        actions.append({"Delete": {"TableName": "u", "Key": target}})
                    else:
                        actions.append({"ConditionCheck": {"TableName": "u", "Key": target,
                                                           "ConditionExpression": "attribute_exists(a)"}})
                seen.append(observe(ddb.transact_write_items, TransactItems=actions))
            seen.append(observe(ddb.get_item, TableName="u", Key=key, ConsistentRead=True))
        return seen + table_state(make, ["u", "c"])

    return scenario


def test_updates_give_moto_s_answers():
    """UpdateItem (alone and in transactions): same responses, errors, items and stream records as
    moto, while the simple updates take the shim's path."""
    used = differential(update_scenario(seed=11, operations=260))
    assert used["updates_fast"] > 60 and used["updates_slow"] > 30, used


def test_update_of_an_item_at_the_size_limit_fails_as_in_moto():
    def scenario(make) -> list:
        ddb = make()
        create_update_table(ddb)
        key = {"pk": {"S": "big"}, "sk": {"S": "1"}}
        seen = [observe(ddb.put_item, TableName="u", Item={**key, "a": {"S": "x" * 300_000}})]
        for size in (90_000, 110_000, 200_000):  # growing past the limit: moto refuses mid-update
            seen.append(observe(ddb.update_item, TableName="u", Key=key, UpdateExpression="SET #b = :b, #c = :c",
                                ExpressionAttributeNames={"#b": "b", "#c": "c"},
                                ExpressionAttributeValues={":b": {"S": "y" * size}, ":c": {"N": "1"}}))
        seen.append(observe(ddb.update_item, TableName="u", Key=key, UpdateExpression="REMOVE a ADD counter :one",
                            ExpressionAttributeValues={":one": {"N": "1"}}))
        seen.append(observe(ddb.put_item, TableName="u", Item={**key, "a": {"S": "x" * 406_000}}))
        return seen + table_state(make, ["u"])

    used = differential(scenario)
    assert used["updates_fast"] >= 3


def create_query_tables(ddb) -> None:
    ddb.create_table(TableName="q", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"},
                                           {"AttributeName": "l", "AttributeType": "N"},
                                           {"AttributeName": "g", "AttributeType": "S"}],
                     LocalSecondaryIndexes=[{"IndexName": "by_l", "Projection": {"ProjectionType": "ALL"},
                                             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                           {"AttributeName": "l", "KeyType": "RANGE"}]},
                                            {"IndexName": "by_l_keys", "Projection": {"ProjectionType": "KEYS_ONLY"},
                                             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                           {"AttributeName": "l", "KeyType": "RANGE"}]}],
                     GlobalSecondaryIndexes=[{"IndexName": "by_g", "Projection": {"ProjectionType": "ALL"},
                                              "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                            {"AttributeName": "sk", "KeyType": "RANGE"}]}])
    ddb.create_table(TableName="qn", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}])
    ddb.create_table(TableName="qb", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "B"}])


SORT_WORDS = ["", "a", "ab", "abc", "abd", "b", "ba", "m#", "m#u001", "m#u002", "m#u010", "m$", "z", "é", "ü",
              "\U0001f600", "A", "m#\uffff"]


def sort_key(rng: random.Random, table: str) -> dict:
    if table == "qn":
        return {"N": rng.choice(["-10", "-1.5", "0", "1", "1.25", "2", "10", "100", "99.999", str(rng.randint(-50, 50))])}
    if table == "qb":
        return {"B": bytes(rng.choice([0, 1, 0x61, 0x62, 0xfe, 0xff]) for _ in range(rng.randint(1, 3)))}
    word = rng.choice(SORT_WORDS[1:]) + rng.choice(SORT_WORDS)
    return {"S": word + (f"{rng.randint(0, 99):02d}" if rng.random() < 0.5 else "")}


def random_key_condition(rng: random.Random, table: str) -> tuple[str, dict]:
    one, two = sort_key(rng, table), sort_key(rng, table)
    kinds = ["=", "<", "<=", ">", ">=", "BETWEEN", "none"] + (["begins_with"] if table != "qn" else [])
    kind = rng.choice(kinds)
    if kind == "none":
        return "#p = :p", {}
    if kind == "BETWEEN":
        return "#p = :p AND #s BETWEEN :a AND :b", {":a": one, ":b": two}
    if kind == "begins_with":
        prefix = one
        if table == "q":
            prefix = {"S": one["S"][:rng.randint(1, 3)] or "m"}
        return "#p = :p AND begins_with(#s, :a)", {":a": prefix}
    return f"#p = :p AND #s {kind} :a", {":a": one}


def query_scenario(seed: int, queries: int):
    def scenario(make) -> list:
        rng = random.Random(seed)
        ddb = make()
        create_query_tables(ddb)
        seen = []
        partitions = {"p0": 0, "p1": 1, "p2": 6, "p3": 30, "p4": 100}
        for table in ("q", "qn", "qb"):
            for pk, size in partitions.items():
                for _ in range(size):
                    item = {"pk": {"S": pk}, "sk": sort_key(rng, table), "v": random_value(rng)}
                    if rng.random() < 0.7:
                        item["l"] = {"N": str(rng.randint(0, 20))}
                    if rng.random() < 0.5:
                        item["g"] = {"S": rng.choice(["g1", "g2"])}
                    if rng.random() < 0.05:
                        item["blob"] = {"S": "x" * rng.randint(1000, 50_000)}
                    ddb.put_item(TableName=table, Item=item)
        for number in range(queries):
            table = rng.choice(["q", "q", "qn", "qb"])
            pk = rng.choice(list(partitions) + ["none"])
            if number % 5 == 2:  # a local index's key changed in place (alone, and in transactions)
                target = {"pk": {"S": pk}, "sk": sort_key(rng, table)}
                change = rng.choice([("SET #l = :l", {":l": {"N": str(rng.randint(0, 20))}}), ("REMOVE #l", None),
                                     ("ADD #l :l", {":l": {"N": "3"}}), ("SET #l = #l + :l", {":l": {"N": "1"}})])
                update = {"TableName": table, "Key": target, "UpdateExpression": change[0],
                          "ExpressionAttributeNames": {"#l": "l"}}
                if change[1]:
                    update["ExpressionAttributeValues"] = change[1]
                if rng.random() < 0.5:
                    seen.append(observe(ddb.update_item, **update))
                else:
                    seen.append(observe(ddb.transact_write_items, TransactItems=[{"Update": update}, {"ConditionCheck": {
                        "TableName": table, "Key": {"pk": {"S": pk}, "sk": sort_key(rng, table)},
                        "ConditionExpression": rng.choice(["attribute_exists(pk)", "attribute_not_exists(pk)"])}}]))
            if number % 10 == 5:  # writes between reads: new keys, deleted keys, a cancelled transaction
                target = {"pk": {"S": pk}, "sk": sort_key(rng, table)}
                seen.append(observe(ddb.put_item, TableName=table, Item={**target, "l": {"N": "7"}}))
                seen.append(observe(ddb.delete_item, TableName=table, Key={"pk": {"S": pk}, "sk": sort_key(rng, table)}))
                seen.append(observe(ddb.transact_write_items, TransactItems=[
                    {"Put": {"TableName": table, "Item": {"pk": {"S": pk}, "sk": sort_key(rng, table)}}},
                    {"Delete": {"TableName": table, "Key": target}},
                    {"ConditionCheck": {"TableName": table, "Key": target, "ConditionExpression": "attribute_not_exists(pk)"}}]))
            condition, values = random_key_condition(rng, table)
            request: dict = {"TableName": table, "KeyConditionExpression": condition,
                             "ExpressionAttributeNames": {"#p": "pk"},
                             "ExpressionAttributeValues": {":p": {"S": pk}, **values},
                             "ScanIndexForward": rng.random() < 0.5, "ConsistentRead": True}
            if "#s" in condition:
                request["ExpressionAttributeNames"]["#s"] = "sk"
            if rng.random() < 0.7:
                request["Limit"] = rng.choice([1, 2, 3, 5, 8, 20])
            if rng.random() < 0.2:
                request["FilterExpression"] = "attribute_exists(#l)"
                request["ExpressionAttributeNames"]["#l"] = "l"
            roll = rng.random()
            if roll < 0.1:
                request["ProjectionExpression"] = "#p, v"
            elif roll < 0.2:
                request["ProjectionExpression"] = rng.choice(["#p, sk", "sk, #p, sk, missing", "g, #p"])
            elif roll < 0.25:
                request["Select"] = "COUNT"
            if table == "q" and rng.random() < 0.25:  # the local (and sometimes the global) index
                index = rng.choice(["by_l", "by_l", "by_l_keys", "by_g"])
                request["IndexName"] = index
                if index == "by_g":
                    request["KeyConditionExpression"] = "#p = :p"
                    request["ExpressionAttributeNames"] = {"#p": "g"}
                    request["ExpressionAttributeValues"] = {":p": {"S": rng.choice(["g1", "g2"])}}
                    request["ConsistentRead"] = False
                else:
                    request["KeyConditionExpression"] = "#p = :p AND #l > :a" if rng.random() < 0.6 else "#p = :p"
                    request["ExpressionAttributeNames"] = {"#p": "pk", "#l": "l"} if "#l" in request["KeyConditionExpression"] \
                        else {"#p": "pk"}
                    request["ExpressionAttributeValues"] = {":p": {"S": pk}}
                    if "#l" in request["KeyConditionExpression"]:
                        request["ExpressionAttributeValues"][":a"] = {"N": str(rng.randint(0, 20))}
                request.pop("FilterExpression", None)
                request.pop("ProjectionExpression", None)
                request.pop("Select", None)
                if "#l" not in request["KeyConditionExpression"]:
                    request["ExpressionAttributeNames"].pop("#l", None)
            if rng.random() < 0.15:  # a start key that is no page's end: in the partition, outside, absent
                request["ExclusiveStartKey"] = {"pk": {"S": rng.choice([pk, pk, "p3", "zz"])}, "sk": sort_key(rng, table)}
                if request.get("IndexName") in ("by_l", "by_l_keys"):
                    request["ExclusiveStartKey"]["l"] = {"N": str(rng.randint(0, 20))}
            pages = 0
            while pages < 60:  # every page, following LastEvaluatedKey
                page = observe(ddb.query, **request)
                seen.append(page)
                pages += 1
                if page[0] != "ok" or "LastEvaluatedKey" not in page[1]:
                    break
                request["ExclusiveStartKey"] = page[1]["LastEvaluatedKey"]
        return seen + table_state(make, ["q", "qn", "qb"])

    return scenario


def test_queries_give_moto_s_pages():
    """Query of a key range (every operator, ExclusiveStartKey, Limit, both directions, filters,
    projections, COUNT, local and global indexes) page by page: the same pages as moto, with
    writes between reads."""
    used = differential(query_scenario(seed=5, queries=110))
    assert used["queries_fast"] > 100 and used["queries_local"] > 20 and used["queries_slow"] >= 2, used
    assert used["projections_fast"] > 20, used


def test_query_pages_stop_at_1_mb_as_in_moto():
    def scenario(make) -> list:
        ddb = make()
        create_query_tables(ddb)
        for n in range(9):
            ddb.put_item(TableName="q", Item={"pk": {"S": "big"}, "sk": {"S": f"{n:02d}"}, "blob": {"S": "x" * 250_000}})
        ddb.put_item(TableName="q", Item={"pk": {"S": "big"}, "sk": {"S": "99"}, "small": {"S": "y"}})
        seen = []
        for forward in (True, False):
            for condition in ("#p = :p", "#p = :p AND #s < :s"):
                request = {"TableName": "q", "KeyConditionExpression": condition, "ScanIndexForward": forward,
                           "ExpressionAttributeNames": {"#p": "pk", **({"#s": "sk"} if "#s" in condition else {})},
                           "ExpressionAttributeValues": {":p": {"S": "big"}, **({":s": {"S": "07"}} if "#s" in condition else {})}}
                while True:
                    page = observe(ddb.query, **request)
                    seen.append((page[0], [i["sk"] for i in page[1].get("Items", [])], page[1].get("LastEvaluatedKey")))
                    if "LastEvaluatedKey" not in page[1]:
                        break
                    request["ExclusiveStartKey"] = page[1]["LastEvaluatedKey"]
        return seen

    used = differential(scenario)
    assert used["queries_fast"] >= 8


def test_every_attribute_type_reads_back_as_in_moto():
    """Items of every attribute type, nested, put and read back by GetItem, BatchGetItem, Query, Scan
    and the stream: the request parsing and response serialization are the shim's."""
    def scenario(make) -> list:
        rng = random.Random(3)
        ddb = make()
        create_update_table(ddb)
        seen = []
        keys = []
        for n in range(60):
            key = {"pk": {"S": f"p{n % 4}"}, "sk": {"S": f"{n:03d}"}}
            keys.append(key)
            item = {**key, **{f"a{i}": random_value(rng) for i in range(rng.randint(1, 6))}}
            seen.append(observe(ddb.put_item, TableName="u", Item=item, ReturnValues="ALL_OLD"))
        for key in keys[:10]:
            seen.append(observe(ddb.get_item, TableName="u", Key=key, ConsistentRead=True))
        seen.append(observe(ddb.batch_get_item, RequestItems={"u": {"Keys": keys[10:40], "ConsistentRead": True}}))
        seen.append(observe(ddb.query, TableName="u", KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "p1"}}))
        return seen + table_state(make, ["u"])

    differential(scenario)


def _parse_and_serialize(operation: str, body: dict, output: dict) -> tuple:
    from moto.core.parse import JSONParser
    from moto.core.serialize import JSONSerializer, XFormedAttributePicker
    from moto.core.utils import get_service_model

    model = get_service_model("dynamodb").operation_model(operation)
    raw = json.dumps(body).encode()
    parsed = JSONParser(model).parse({"method": "POST", "values": {}, "headers": {}, "body": raw, "url_path": "/",
                                      "url_params": {}})
    serializer = JSONSerializer(operation_model=model, value_picker=XFormedAttributePicker(response_transformers={}))
    return parsed, serializer.serialize(output)["body"]


def test_attribute_values_parse_and_serialize_as_in_moto():
    """Request parsing and response serialization of random AttributeValue trees, odd shapes
    included (an empty map key, null members, unknown members, lowercase member names)."""
    import base64

    rng = random.Random(8)

    def wire(value):  # an AttributeValue as JSON carries it
        kind, inner = next(iter(value.items()))
        if kind == "B":
            return {"B": base64.b64encode(inner).decode()}
        if kind == "BS":
            return {"BS": [base64.b64encode(v).decode() for v in inner]}
        if kind == "M":
            return {"M": {k: wire(v) for k, v in inner.items()}}
        if kind == "L":
            return {"L": [wire(v) for v in inner]}
        return dict(value)

    odd = [{"M": {"": {"S": "empty key"}}}, {"S": None, "N": "1"}, {"s": "lower"}, {"S": "x", "Extra": 1},
           {"L": [None]}, {"M": {"k": None}}, {"NULL": False}, {"S": ""}, {"SS": []}]
    cases = []
    for n in range(200):
        item = {f"a{i}": wire(random_value(rng)) for i in range(rng.randint(1, 6))}
        if n % 10 == 0:
            item["odd"] = odd[(n // 10) % len(odd)]
        cases.append(item)

    def run() -> list:
        out = []
        for item in cases:
            body = {"TableName": "t", "Item": {"pk": {"S": "k"}, **item}}
            response = {"Attributes": {"pk": {"S": "k"}, **item}}
            for name, value in item.items():  # as moto's handlers give values: blobs decoded
                if "B" in value and isinstance(value["B"], str):
                    response["Attributes"][name] = {"B": base64.b64decode(value["B"])}
            try:
                out.append(_parse_and_serialize("PutItem", body, response))
            except Exception as exc:  # noqa: BLE001 - the same failure is expected from both
                out.append(("raised", type(exc).__name__, str(exc)))
        return out

    moto_engine.uninstall()
    expected = run()
    with moto_engine.patched():
        actual = run()
    assert actual == expected


# -- SortedPartition ----------------------------------------------------------------------------------

def test_sorted_partition_keeps_key_order_through_every_change():
    import copy as copy_module
    import pickle

    from moto.dynamodb.models.dynamo_type import DynamoType

    rng = random.Random(4)
    partition = moto_engine.SortedPartition()

    def check():
        expected = sorted(dict.keys(partition), key=lambda k: k.cast_value)
        assert partition.order() == expected

    numbers = ["1", "1.0", "-0", "0", "2", "10", "1e1", "-3.5", "100"]
    check()
    for step in range(400):
        key = DynamoType({"N": rng.choice(numbers + [str(rng.randint(-20, 20))])})
        roll = rng.random()
        if roll < 0.5:
            partition[key] = step
        elif roll < 0.7:
            partition.pop(key, None)
        elif roll < 0.8 and key in partition:
            del partition[key]
        elif roll < 0.85:
            partition.setdefault(key, step)
        elif roll < 0.9:
            partition.update({key: step})
        elif roll < 0.92 and partition:
            partition.popitem()
        check()
    clone = copy_module.deepcopy(partition)
    assert type(clone) is moto_engine.SortedPartition and dict(clone) == dict(partition)
    assert clone.order() == partition.order()
    restored = pickle.loads(pickle.dumps(partition))
    assert type(restored) is moto_engine.SortedPartition and restored.order() == partition.order()
    shallow = copy_module.copy(partition)
    shallow[DynamoType({"N": "12345"})] = "new"
    assert DynamoType({"N": "12345"}) not in partition
    partition.clear()
    check()


def test_tables_with_a_sort_key_hold_sorted_partitions():
    from moto.dynamodb.models.table import Table

    with moto_engine.patched():
        table = Table("t", account_id="123456789012", region=REGION,
                      schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                      attr=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}])
        table.put_item({"pk": {"S": "a"}, "sk": {"S": "2"}})
        table.put_item({"pk": {"S": "a"}, "sk": {"S": "1"}})
        partition = next(iter(table.items.values()))
        assert isinstance(partition, moto_engine.SortedPartition)
        assert [k.value for k in partition.order()] == ["1", "2"]
        from moto.dynamodb.models.dynamo_type import DynamoType

        table.delete_item(DynamoType({"S": "a"}), partition.order()[0])
        assert [k.value for k in partition.order()] == ["2"]
        hash_only = Table("h", account_id="123456789012", region=REGION,
                          schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          attr=[{"AttributeName": "pk", "AttributeType": "S"}])
        assert type(hash_only.items["x"]) is dict  # only tables with a sort key have partitions


def test_local_index_pages_follow_in_place_changes_of_the_index_key():
    """A local index's order is kept per partition; an update changes the index key in place
    (fast and moto's paths, alone and in transactions, cancelled or not) and the next pages follow."""
    def scenario(make) -> list:
        ddb = make()
        create_query_tables(ddb)
        for n in range(30):
            ddb.put_item(TableName="q", Item={"pk": {"S": "u"}, "sk": {"S": f"{n:02d}"}, "l": {"N": str(n % 7)}})
        query = {"TableName": "q", "IndexName": "by_l", "KeyConditionExpression": "pk = :p AND l >= :l",
                 "ExpressionAttributeValues": {":p": {"S": "u"}, ":l": {"N": "2"}}, "Limit": 4}
        seen = []

        def pages():
            request = dict(query)
            while True:
                page = observe(ddb.query, **request)
                seen.append(page)
                if page[0] != "ok" or "LastEvaluatedKey" not in page[1]:
                    return
                request["ExclusiveStartKey"] = page[1]["LastEvaluatedKey"]

        def key(n):
            return {"pk": {"S": "u"}, "sk": {"S": f"{n:02d}"}}

        pages()
        changes = [
            lambda: ddb.update_item(TableName="q", Key=key(3), UpdateExpression="SET l = :v",
                                    ExpressionAttributeValues={":v": {"N": "6"}}),
            lambda: ddb.update_item(TableName="q", Key=key(4), UpdateExpression="REMOVE l"),
            lambda: ddb.update_item(TableName="q", Key=key(5), UpdateExpression="SET l = l + :one",  # moto's path
                                    ExpressionAttributeValues={":one": {"N": "1"}}),
            lambda: ddb.update_item(TableName="q", Key=key(40), UpdateExpression="SET l = :v",  # a new item
                                    ExpressionAttributeValues={":v": {"N": "3"}}),
            lambda: ddb.transact_write_items(TransactItems=[  # cancelled: l of 06 stays
                {"Update": {"TableName": "q", "Key": key(6), "UpdateExpression": "SET l = :v",
                            "ExpressionAttributeValues": {":v": {"N": "0"}}}},
                {"ConditionCheck": {"TableName": "q", "Key": key(99), "ConditionExpression": "attribute_exists(pk)"}}]),
            lambda: ddb.transact_write_items(TransactItems=[
                {"Update": {"TableName": "q", "Key": key(7), "UpdateExpression": "ADD l :v",
                            "ExpressionAttributeValues": {":v": {"N": "10"}}}},
                {"Delete": {"TableName": "q", "Key": key(8)}}]),
            lambda: ddb.put_item(TableName="q", Item={**key(9), "other": {"S": "no index key now"}}),
            lambda: ddb.put_item(TableName="q", Item={**key(10), "l": {"S": "a string"}}),  # moto cannot sort it
        ]
        for change in changes:
            seen.append(observe(lambda: dict(change())))
            pages()
        return seen

    used = differential(scenario)
    assert used["queries_local"] >= 8, used
