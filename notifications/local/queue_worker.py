"""Drains the work queue (moto's SQS) into the writer handler, as Lambda's SQS event source
would, with a pool of worker threads, fairly across message groups (tenants).

On AWS a standard queue with message groups is a fair queue: SQS itself keeps one tenant's
backlog from holding back another's messages. moto accepts the groups but delivers in
arrival order, so this drain is the fair part locally: a receiver thread takes every
visible message into per-group lanes (received with a long visibility timeout, so nothing
reappears while it waits), and each free worker takes the next message from the next lane
in turn, and one tenant may hold all workers but one. Another tenant's 10-member broadcast
thus starts at once beside a million-member one, instead of waiting for its chunks.

Each message is handed to the handler as a Lambda SQS event of one record (attributes
included: ApproximateReceiveCount, MessageGroupId). A success deletes it; a failure makes
it visible again after a backoff, so it is received again, and after the queue's
maxReceiveCount moto moves it to the dead-letter queue.
"""
from __future__ import annotations

import collections
import logging
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any] | None]
HOLD_S = 900  # visibility while a message waits in a lane or runs (the longest a chunk may take)


def to_lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A ReceiveMessage message in the shape Lambda delivers it to a function."""
    attributes = dict(message.get("Attributes") or {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message.get("MessageAttributes") or {},
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def receive_all(sqs: Any, url: str, visibility: int, limit: int = 10_000) -> list[dict[str, Any]]:
    """Every message visible now (up to `limit`), hidden for `visibility` seconds."""
    out: list[dict[str, Any]] = []
    while len(out) < limit:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility,
                                    WaitTimeSeconds=0, AttributeNames=["All"],
                                    MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
        if not batch:
            break
        out.extend(batch)
    return out


class FairLanes:
    """Messages waiting per group, handed out round-robin over the groups, with at most `per_group`
    of one group's messages running at once: a worker is always left for another tenant."""

    def __init__(self, per_group: int | None = None) -> None:
        self.per_group = per_group
        self._lanes: dict[str, collections.deque] = {}
        self._order: collections.deque[str] = collections.deque()
        self._running: collections.Counter[str] = collections.Counter()
        self._ready = threading.Condition()

    def __len__(self) -> int:
        with self._ready:
            return sum(len(lane) for lane in self._lanes.values())

    def put(self, group: str, item: Any) -> None:
        with self._ready:
            lane = self._lanes.get(group)
            if lane is None:
                lane = self._lanes[group] = collections.deque()
                self._order.append(group)
            lane.append(item)
            self._ready.notify()

    def _next_group(self) -> str | None:
        for _ in range(len(self._order)):
            group = self._order.popleft()
            if self.per_group is None or self._running[group] < self.per_group:
                return group
            self._order.append(group)  # at its limit: the others first
        return None

    def take(self, timeout: float) -> tuple[str, Any] | None:
        """(group, item), or None if nothing could be taken within `timeout`. Call `done(group)`
        when the item has been handled."""
        with self._ready:
            group = self._next_group()
            if group is None:
                self._ready.wait(timeout)
                group = self._next_group()
            if group is None:
                return None
            lane = self._lanes[group]
            item = lane.popleft()
            if lane:
                self._order.append(group)  # back of the line: every other group goes first
            else:
                del self._lanes[group]
            self._running[group] += 1
            return group, item

    def done(self, group: str) -> None:
        with self._ready:
            self._running[group] -= 1
            if not self._running[group]:
                del self._running[group]
            self._ready.notify_all()


class QueueWorkers:
    def __init__(self, queue_url: str, handler: Handler, *, sqs: Any, region: str, workers: int = 4,
                 idle_sleep: float = 0.05, retry_delay: Callable[[int], int] | None = None) -> None:
        self.queue_url = queue_url
        self.handler = handler
        self.sqs = sqs
        self.region = region
        self.workers = workers
        self.idle_sleep = idle_sleep
        self.retry_delay = retry_delay or (lambda receives: min(30, 2 ** (receives - 1)))
        # One tenant may occupy all workers but one, so another tenant's message starts at once.
        self.lanes = FairLanes(per_group=max(1, workers - 1))
        self.queue_arn = ""
        self.invocations = 0
        self.busy = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "QueueWorkers":
        self.queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._threads = [threading.Thread(target=self._receive, name="queue-receiver", daemon=True)]
        self._threads += [threading.Thread(target=self._work, name=f"queue-worker-{i}", daemon=True)
                          for i in range(self.workers)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def idle(self) -> bool:
        with self._lock:
            return self.busy == 0 and len(self.lanes) == 0

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                messages = receive_all(self.sqs, self.queue_url, HOLD_S)
            except Exception:  # noqa: BLE001 - keep draining; the engine may be restarting
                log.exception("work queue receive failed")
                self._stop.wait(1.0)
                continue
            for message in messages:
                group = (message.get("Attributes") or {}).get("MessageGroupId") or ""
                self.lanes.put(group, message)
            if not messages:
                self._stop.wait(self.idle_sleep)

    def _work(self) -> None:
        while not self._stop.is_set():
            taken = self.lanes.take(timeout=0.2)
            if taken is None:
                continue
            group, message = taken
            with self._lock:
                self.busy += 1
            try:
                self._run(message)
            except Exception:  # noqa: BLE001 - the message reappears after its visibility timeout
                log.exception("work queue worker error")
            finally:
                self.lanes.done(group)
                with self._lock:
                    self.busy -= 1

    def _run(self, message: dict[str, Any]) -> None:
        record = to_lambda_record(message, self.queue_arn, self.region)
        with self._lock:
            self.invocations += 1
        try:
            result = self.handler({"Records": [record]}) or {}
            failed = bool(result.get("batchItemFailures"))
        except Exception:  # noqa: BLE001 - a crashed invocation fails its whole batch
            log.exception("work queue handler raised")
            failed = True
        if not failed:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            return
        receives = int((message.get("Attributes") or {}).get("ApproximateReceiveCount", 1))
        self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"],
                                           VisibilityTimeout=self.retry_delay(receives))
