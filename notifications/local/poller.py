"""Reads a DynamoDB stream (moto server, DynamoDB Local or AWS) and invokes a Lambda-style
handler, as Lambda's event source mapping would: records in order per partition key, partial
batch failures retried from the first failed record with backoff, and after `max_retries` the
batch goes to the on-failure callback and the poller moves on.

Like a mapping's `ParallelizationFactor` (the stack sets 10 for the coordinator), up to
`parallelization` batches run at once, each holding the records of one partition key: another
tenant's broadcast is not held behind a large broadcast's coordinator step (measured with one
lane: a 10-member broadcast beside a 10k one took 1.8-2.7 s instead of 0.5 s).
"""
from __future__ import annotations

import logging
import threading
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, Callable

import boto3

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any] | None]


def to_lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A Streams API record in the shape Lambda delivers (moto lacks eventSourceARN and gives
    ApproximateCreationDateTime as text; Lambda gives epoch seconds)."""
    out = dict(record)
    data = dict(out.get("dynamodb", {}))
    created = data.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        data["ApproximateCreationDateTime"] = created.timestamp()
    elif isinstance(created, str):
        try:
            data["ApproximateCreationDateTime"] = datetime.fromisoformat(created).timestamp()
        except ValueError:
            data["ApproximateCreationDateTime"] = time.time()
    out["dynamodb"] = data
    out.setdefault("eventSource", "aws:dynamodb")
    out.setdefault("awsRegion", region)
    out["eventSourceARN"] = stream_arn
    return out


def backoff_seconds(attempt: int) -> float:
    """The pause before re-delivering a failed batch the `attempt`-th time."""
    return min(5.0, 0.05 * 2 ** attempt)


def invoke_with_retries(handler: Handler, batch: list[dict[str, Any]], *, max_retries: int,
                        backoff: Callable[[int], float] | None = backoff_seconds,
                        stopping: Callable[[], bool] = lambda: False,
                        on_invoke: Callable[[list[dict[str, Any]]], None] | None = None) -> list[dict[str, Any]]:
    """Invoke `handler` on the batch as an event source mapping does: a partial failure
    (`batchItemFailures`) or a crash re-delivers from the first failed record, after `backoff(attempt)`
    seconds (None: at once). Returns the records still failing after `max_retries` re-deliveries
    (empty once the batch succeeded, or when `stopping()`)."""
    attempt = 0
    while batch and not stopping():
        if on_invoke:
            on_invoke(batch)
        try:
            result = handler({"Records": batch}) or {}
            failures = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
        except Exception:  # noqa: BLE001 - a crashed invocation fails the whole batch
            log.exception("stream handler raised")
            failures = [batch[0]["dynamodb"]["SequenceNumber"]]
        if not failures:
            return []
        attempt += 1
        sequences = [r["dynamodb"]["SequenceNumber"] for r in batch]
        batch = batch[min((sequences.index(f) for f in failures if f in sequences), default=0):]
        if attempt > max_retries:
            return batch
        if backoff:
            time.sleep(backoff(attempt))
    return []


class StreamPoller:
    def __init__(self, table_name: str, handler: Handler, *, endpoint: str | None, region: str,
                 batch_size: int = 100, max_retries: int = 10, idle_sleep: float = 0.1,
                 parallelization: int = 10, lanes: int | None = None,
                 on_failure: Callable[[list[dict[str, Any]]], None] | None = None) -> None:
        self.table_name = table_name
        self.handler = handler
        self.region = region
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.idle_sleep = idle_sleep
        # None: one lane per partition key. N: keys hashed onto N lanes, so a batch spans many keys as a
        # Lambda batch does (the realtime push reads 100 inboxes' sockets in one call), each key in order.
        self.lanes = lanes
        self.on_failure = on_failure or (lambda records: log.error("dropped %d records after retries",
                                                                   len(records)))
        self._ddb = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint)
        self._streams = boto3.client("dynamodbstreams", region_name=region, endpoint_url=endpoint)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._iterators: dict[str, str | None] = {}
        self._done_shards: set[str] = set()
        self._last_seq: dict[str, str] = {}
        self._trimmed: set[str] = set()  # shards whose last read was refused as trimmed
        self.stream_arn = ""
        self.invocations = 0
        self._lanes: dict[str, Future] = {}  # partition key -> its last batch handed to the pool
        self._slots = threading.BoundedSemaphore(parallelization)
        self._pool = ThreadPoolExecutor(max_workers=parallelization,
                                        thread_name_prefix=f"stream-poller-{table_name}-lane")

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> "StreamPoller":
        self.stream_arn = self._ddb.describe_table(TableName=self.table_name)["Table"]["LatestStreamArn"]
        self._thread = threading.Thread(target=self._run, name=f"stream-poller-{self.table_name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- polling ----------------------------------------------------------------------------
    def _run(self) -> None:
        last_discovery = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - last_discovery > 1.0:
                    self._discover()
                    last_discovery = time.monotonic()
                busy = False
                for shard_id in list(self._iterators):
                    busy |= self._poll_shard(shard_id)
                if not busy:
                    self._stop.wait(self.idle_sleep)
            except Exception:  # noqa: BLE001 - keep polling; the engine may be restarting
                log.exception("stream poller error")
                self._stop.wait(1.0)

    def _discover(self) -> None:
        description = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id in self._iterators or shard_id in self._done_shards:
                continue
            self._iterators[shard_id] = self._fresh_iterator(shard_id)

    def _fresh_iterator(self, shard_id: str) -> str:
        """Just after the last record delivered from the shard, or its oldest record."""
        last = self._last_seq.get(shard_id)
        kwargs = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last} if last
                  else {"ShardIteratorType": "TRIM_HORIZON"})
        return self._streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, **kwargs)["ShardIterator"]

    def _poll_shard(self, shard_id: str) -> bool:
        iterator = self._iterators.get(shard_id)
        if iterator is None:
            self._iterators.pop(shard_id, None)
            self._done_shards.add(shard_id)
            return False
        try:
            response = self._streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
        except self._streams.exceptions.ClientError as exc:
            # DynamoDB Local answers TrimmedDataAccessException for a TRIM_HORIZON iterator taken while
            # the shard was empty, once records arrive; AWS expires iterators after 15 minutes (the
            # embedded moto engine forgets old ones too). Either way: take a new iterator from the
            # last record delivered.
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("TrimmedDataAccessException", "ExpiredIteratorException"):
                raise
            if code == "TrimmedDataAccessException" and shard_id in self._trimmed and shard_id in self._last_seq:
                # Trimmed again just after the last record delivered: the records after it are gone
                # (older than the stream keeps). Go on from the oldest record kept rather than loop.
                log.error("stream of %s, shard %s: records after %s were trimmed before they were read; "
                          "continuing from the oldest record kept", self.table_name, shard_id,
                          self._last_seq[shard_id])
                self._trimmed.discard(shard_id)
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                return True
            if code == "TrimmedDataAccessException":
                self._trimmed.add(shard_id)
            self._iterators[shard_id] = self._fresh_iterator(shard_id)
            return True
        self._trimmed.discard(shard_id)
        records = response.get("Records", [])
        next_iterator = response.get("NextShardIterator")
        if not records:
            self._iterators[shard_id] = next_iterator
            return False
        self._deliver(records)
        self._last_seq[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
        self._iterators[shard_id] = next_iterator
        return True

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        """Hand each partition key's records to the pool, behind that key's previous batch."""
        by_key: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            keys = record.get("dynamodb", {}).get("Keys", {})
            key = repr(keys.get("pk", keys))  # the partition key (the whole key of a table without `pk`)
            if self.lanes:
                key = str(zlib.crc32(key.encode()) % self.lanes)
            by_key.setdefault(key, []).append(to_lambda_record(record, self.stream_arn, self.region))
        for key, batch in by_key.items():
            self._slots.acquire()  # at most `parallelization` batches in flight, as on AWS
            previous = self._lanes.get(key)
            future = self._pool.submit(self._deliver_after, previous, batch)
            future.add_done_callback(lambda _: self._slots.release())
            self._lanes[key] = future
        for key in [k for k, lane in self._lanes.items() if lane.done()]:
            del self._lanes[key]

    def _deliver_after(self, previous: Future | None, batch: list[dict[str, Any]]) -> None:
        if previous is not None:
            previous.result()  # this key's earlier records first (never raises: _invoke catches)
        self._invoke(batch)

    def _invoke(self, batch: list[dict[str, Any]]) -> None:
        left = invoke_with_retries(self.handler, batch, max_retries=self.max_retries, stopping=self._stop.is_set,
                                   on_invoke=self._count_invocation)
        if left:
            self.on_failure(left)

    def _count_invocation(self, batch: list[dict[str, Any]]) -> None:
        self.invocations += 1
