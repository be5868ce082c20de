"""Drive the broadcast fan-out in unit tests (moto in-process has no stream poller).

Reads the broadcasts table's stream the way `chalicelib.local.poller` does (describe_stream,
get_shard_iterator, get_records), converts each record with `to_lambda_record` and hands the
batch to `chalicelib.streams.handle_broadcast_stream`, the same function Lambda runs. Each
processed chunk writes the broadcast item again, which is a new stream record, so `drain()`
keeps reading until a round brings no new records.

    from tests.streams_helper import fanout  # noqa: F401  (a pytest fixture)

    def test_org_send(server, fanout):
        server.post(...)          # queues a broadcast
        fanout.drain()            # delivers it to every eligible member
"""
from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config

from chalicelib.local.poller import to_lambda_record
from chalicelib.settings import get_settings
from chalicelib.streams import handle_broadcast_stream


class FanoutDriver:
    """Reads new stream records since the last drain and runs the fan-out handler on them."""

    def __init__(self) -> None:
        settings = get_settings()
        self.region = settings.region
        self._ddb = boto3.client("dynamodb", region_name=self.region)
        # Recent botocore sends stream calls to an account-based host
        # (<account>.streams-ddb.<region>.amazonaws.com) that moto's in-process mock does not
        # route; the classic regional host is what moto serves.
        self._streams = boto3.client("dynamodbstreams", region_name=self.region,
                                     config=Config(account_id_endpoint_mode="disabled"))
        self.stream_arn = self._ddb.describe_table(
            TableName=settings.table_name("broadcasts"))["Table"]["LatestStreamArn"]
        self._iterators: dict[str, str | None] = {}
        self.batches: list[dict[str, Any]] = []  # every handler result, for assertions

    def _discover(self) -> None:
        shards = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"].get("Shards", [])
        for shard in shards:
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self._streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"],
                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def _read(self) -> list[dict[str, Any]]:
        self._discover()
        records: list[dict[str, Any]] = []
        for shard_id, iterator in list(self._iterators.items()):
            while iterator:
                response = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                got = response.get("Records", [])
                iterator = response.get("NextShardIterator")
                self._iterators[shard_id] = iterator
                records.extend(got)
                if not got:
                    break
        return records

    def drain(self, max_rounds: int = 100) -> int:
        """Process records until the stream is quiet; returns how many records were handled."""
        handled = 0
        for _ in range(max_rounds):
            records = self._read()
            if not records:
                return handled
            batch = [to_lambda_record(r, self.stream_arn, self.region) for r in records]
            result = handle_broadcast_stream({"Records": batch})
            self.batches.append(result)
            assert result == {"batchItemFailures": []}, result
            handled += len(records)
        raise AssertionError(f"stream still busy after {max_rounds} rounds")


@pytest.fixture
def fanout(client) -> FanoutDriver:
    """A stream driver bound to the current test's moto tables (needs the `client` fixture)."""
    return FanoutDriver()
