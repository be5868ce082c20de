"""The dev runtime's moto shim (chalicelib/local/moto_engine.py) on a real moto server, started
in this process with ThreadedMotoServer on a free port, hit by concurrent threads.

A short GIL switch interval makes the threads interleave inside moto's request handlers, which
is what exposes the races the shim removes (without it, moto 5.2.5 lost conditional updates,
let two conditional puts claim one key, and restored stale table copies over other writes).
"""
from __future__ import annotations

import random
import re
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.local import moto_engine
from chalicelib.local.runtime import free_port
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
    from chalicelib.local.poller import StreamPoller

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
