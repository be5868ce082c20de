"""The work queue: an SQS standard queue of fan-out chunks and mark-all-read steps.

Each message is one unit of work (JSON, under 1 KB) sent with the tenant as its message
group: on AWS a standard queue with message groups is a *fair* queue, so one tenant's
backlog does not hold back the others' messages (the local drain gives the same order by
itself). Delivery is at least once; every unit of work is idempotent (see domain.chunks).

The dead-letter queue (`<name>-dlq`) receives a message after `work_queue_max_receives`
failed receives; `redrive()` moves them back (`aws sqs start-message-move-task` on AWS).
"""
from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.settings import get_settings

BATCH = 10  # SendMessageBatch's limit
_clients: dict[tuple, Any] = {}
_urls: dict[tuple, str] = {}
_lock = threading.Lock()


def client() -> Any:
    s = get_settings()
    key = (s.region, s.sqs_endpoint)
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = boto3.client("sqs", region_name=s.region, endpoint_url=s.sqs_endpoint,
                                 config=Config(retries={"max_attempts": 5, "mode": "standard"},
                                               max_pool_connections=32))
            _clients[key] = found
    return found


def queue_url() -> str:
    """WORK_QUEUE_URL: the stack sets it on every function, the local runtime and tests after
    creating the queue (no GetQueueUrl at run time, so the roles need not allow it)."""
    url = get_settings().work_queue_url
    if not url:
        raise RuntimeError("WORK_QUEUE_URL is not set: the fan-out has no work queue to feed")
    return url


def url_by_name(name: str | None = None) -> str:
    """The URL of the work queue (or another queue) by name: for the runtime, tests and the CLI."""
    key = (get_settings().region, get_settings().sqs_endpoint, name or get_settings().work_queue_name)
    url = _urls.get(key)
    if url is None:
        url = client().get_queue_url(QueueName=key[2])["QueueUrl"]
        _urls[key] = url
    return url


def send(messages: list[dict[str, Any]], group: str) -> None:
    """Enqueue every message (SendMessageBatch, ten at a time), retrying entries SQS refuses
    for a transient reason; raises if one still cannot be sent, so the caller's step is retried."""
    url = queue_url()
    for start in range(0, len(messages), BATCH):
        pending = {str(i): json.dumps(m, separators=(",", ":"), ensure_ascii=False)
                   for i, m in enumerate(messages[start:start + BATCH])}
        for attempt in range(6):
            response = client().send_message_batch(QueueUrl=url, Entries=[
                {"Id": i, "MessageBody": body, "MessageGroupId": group} for i, body in pending.items()])
            failed = response.get("Failed") or []
            if not failed:
                break
            sender_faults = [f for f in failed if f.get("SenderFault")]
            if sender_faults:
                raise RuntimeError(f"SQS refused a work message: {sender_faults[0].get('Code')}: "
                                   f"{sender_faults[0].get('Message')}")
            pending = {f["Id"]: pending[f["Id"]] for f in failed}
            time.sleep(random.uniform(0, 0.05 * 2 ** attempt))
        else:
            raise RuntimeError(f"SQS did not accept {len(pending)} work messages after retries")


def ensure_queues() -> str:
    """Create the work queue and its dead-letter queue if missing (local runtime and tests); returns
    the work queue's URL, for WORK_QUEUE_URL."""
    s = get_settings()
    sqs = client()
    dlq_url = sqs.create_queue(QueueName=f"{s.work_queue_name}-dlq",
                               Attributes={"MessageRetentionPeriod": str(14 * 86400)})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=s.work_queue_name, Attributes={
        "VisibilityTimeout": "120",
        "MessageRetentionPeriod": str(4 * 86400),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": str(s.work_queue_max_receives)}),
    })["QueueUrl"]
    _urls.clear()
    return url


def dead_letter_url() -> str:
    return url_by_name(f"{get_settings().work_queue_name}-dlq")


def redrive() -> int:
    """Move every dead-lettered message back to the work queue, marked with a `redriven` attribute
    (local runtime and tests; on AWS use `aws sqs start-message-move-task`). Returns how many."""
    sqs = client()
    source, target = dead_letter_url(), get_settings().work_queue_url or url_by_name()
    moved = 0
    while True:
        received = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                       MessageSystemAttributeNames=["MessageGroupId"]).get("Messages", [])
        if not received:
            return moved
        for message in received:
            group = message.get("Attributes", {}).get("MessageGroupId") or "redrive"
            sqs.send_message(QueueUrl=target, MessageBody=message["Body"], MessageGroupId=group,
                             MessageAttributes={"redriven": {"DataType": "Number", "StringValue": "1"}})
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
