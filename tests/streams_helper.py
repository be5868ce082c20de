"""Drive the broadcast fan-out in unit tests (moto in-process has no stream poller or queue workers).

Reads the broadcasts table's stream the way `notifications.local.poller` does, converts each
record with `to_lambda_record` and hands batches to `chalicelib.streams.handle_broadcast_stream`
(the coordinator, as Lambda runs it); then receives the work queue's messages and hands each
to `chalicelib.queues.handle_work_queue` (the writers), deleting those that succeed and making
the others visible again (moto dead-letters them after the redrive policy's receives).
`drain()` alternates until both are quiet. It can also re-deliver stream batches
(at-least-once) and retries partial failures from the first failed record, as the event
source mapping does; every writer event handled is kept in `work_events` for replays.

    from tests.streams_helper import fanout  # noqa: F401  (a pytest fixture)

    def test_org_send(server, fanout):
        server.post(...)          # queues a broadcast
        fanout.drain()            # delivers it to every eligible member
"""
from __future__ import annotations

from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config

from notifications.local import queue_worker
from notifications.local.poller import invoke_with_retries, to_lambda_record
from chalicelib.queues import handle_work_queue
from chalicelib.settings import get_settings
from chalicelib.store import work_queue
from chalicelib.streams import handle_broadcast_stream


class StreamDriver:
    def __init__(self, handler: Callable[[dict[str, Any]], dict[str, Any]] = handle_broadcast_stream,
                 writer: Callable[[dict[str, Any]], dict[str, Any]] = handle_work_queue):
        s = get_settings()
        self.handler = handler
        self.writer = writer
        self.work_events: list[dict[str, Any]] = []
        self.writer_invocations = 0
        ddb = boto3.client("dynamodb", region_name=s.region)
        self.arn = ddb.describe_table(TableName=s.table_name("broadcasts"))["Table"]["LatestStreamArn"]
        # Recent botocore sends stream calls to an account-based host
        # (<account>.streams-ddb.<region>.amazonaws.com) that moto's in-process mock does not
        # route; the classic regional host is what moto serves.
        self.streams = boto3.client("dynamodbstreams", region_name=s.region,
                                    config=Config(account_id_endpoint_mode="disabled"))
        self.iterators: dict[str, str | None] = {}
        self.invocations = 0
        self.delivered_records = 0

    def _fetch(self, limit: int) -> list[tuple[str, list[dict[str, Any]], str | None]]:
        shards = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        out = []
        for shard in shards:
            sid = shard["ShardId"]
            if sid not in self.iterators:
                self.iterators[sid] = self.streams.get_shard_iterator(
                    StreamArn=self.arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            it = self.iterators[sid]
            if it is None:
                continue
            resp = self.streams.get_records(ShardIterator=it, Limit=limit)
            out.append((sid, resp.get("Records", []), resp.get("NextShardIterator")))
        return out

    def drain(self, batch_size: int = 10, max_rounds: int = 100000, duplicate_every: int = 0,
              max_retries: int = 50) -> int:
        """Deliver every record until the stream is quiet. `duplicate_every=n` re-delivers every
        n-th batch a second time (at-least-once delivery). Returns invocations."""
        rounds = 0
        while rounds < max_rounds:
            rounds += 1
            batches = self._fetch(batch_size)
            if not any(records for _, records, _ in batches):
                if self.drain_queue():
                    continue
                return self.invocations
            for sid, records, next_it in batches:
                if not records:
                    self.iterators[sid] = next_it
                    continue
                batch = [to_lambda_record(r, self.arn, "us-east-1") for r in records]
                self._deliver(batch, max_retries)
                if duplicate_every and self.invocations % duplicate_every == 0:
                    self._deliver(batch, max_retries)
                self.iterators[sid] = next_it
        raise AssertionError("stream did not go quiet")

    def drain_queue(self, duplicate: bool = False) -> int:
        """Hand every visible work-queue message to the writer once. Returns how many."""
        sqs, url = work_queue.client(), work_queue.queue_url()
        messages = queue_worker.receive_all(sqs, url, visibility=300)
        for message in messages:
            event = {"Records": [queue_worker.to_lambda_record(message, "arn:aws:sqs:us-east-1:123456789012:work",
                                                               "us-east-1")]}
            self.work_events.append(event)
            self.writer_invocations += 1
            try:
                failed = bool(self.writer(event)["batchItemFailures"])
            except Exception:  # noqa: BLE001 - a crashed invocation: received again
                failed = True
            if failed:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            if duplicate:
                self.writer(event)
        return len(messages)

    def _deliver(self, batch: list[dict[str, Any]], max_retries: int) -> None:
        left = invoke_with_retries(self.handler, batch, max_retries=max_retries, backoff=None,
                                   on_invoke=self._count_invocation)
        assert not left, "record kept failing"

    def _count_invocation(self, batch: list[dict[str, Any]]) -> None:
        self.invocations += 1
        self.delivered_records += len(batch)


@pytest.fixture
def fanout(client) -> StreamDriver:
    """A stream driver bound to the current test's moto tables (needs the `client` fixture)."""
    return StreamDriver()
