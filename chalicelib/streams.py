"""Lambda-shaped DynamoDB stream events in, partial batch failures out.

The deployed Lambdas, the local poller and the tests all call these functions.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from chalicelib import ids, metrics
from chalicelib.logs import log_batch
from chalicelib.domain.expiry import settle_expired
from chalicelib.domain.fanout import process_image
from chalicelib.store.broadcasts import job_from_image, owner_of_pk

log = logging.getLogger(__name__)

TTL_PRINCIPAL = "dynamodb.amazonaws.com"


def _run(source: str, records: list[dict[str, Any]], act: Callable[[dict[str, Any]], None],
         broadcast_ids: Callable[[list[dict[str, Any]]], list[str]] = lambda records: []) -> dict[str, Any]:
    """Process records in order; on the first failure report it and every later record,
    so the event source resumes from there (ReportBatchItemFailures). Ends with one log line for the
    batch and the metrics it counted flushed."""
    started = time.perf_counter()
    result: dict[str, Any] = {"batchItemFailures": []}
    for position, record in enumerate(records):
        try:
            act(record)
        except Exception:  # noqa: BLE001 - the event source retries from this record
            log.exception("stream record failed")
            result = {"batchItemFailures": [
                {"itemIdentifier": r.get("dynamodb", {}).get("SequenceNumber")} for r in records[position:]
            ]}
            break
    failed = len(result["batchItemFailures"])
    log_batch(source, records=len(records), failed=failed, outcome="retry" if failed else "ok",
              latency_ms=(time.perf_counter() - started) * 1000, broadcast_ids=broadcast_ids(records))
    metrics.flush()
    return result


# ---- broadcasts stream → fan-out --------------------------------------------------------------

def _relevant(record: dict[str, Any]) -> bool:
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return False  # REMOVE: TTL expiry or deletion, nothing to do
    data = record.get("dynamodb", {})
    new = data.get("NewImage")
    if not new:
        return False
    if record.get("eventName") == "MODIFY" and data.get("OldImage") == new:
        return False  # a write that changed nothing (moto emits these)
    return new.get("kind", {}).get("S") in ("broadcast", "readall") and \
        new.get("status", {}).get("S") in ("queued", "running")


def _fan_out(record: dict[str, Any]) -> None:
    if _relevant(record):
        outcome = process_image(job_from_image(record["dynamodb"]["NewImage"]))
        log.debug("record %s: %s", record.get("dynamodb", {}).get("SequenceNumber"), outcome)


def _broadcast_ids(records: list[dict[str, Any]]) -> list[str]:
    """The ids (as the API shows them) of the broadcasts and mark-all-read jobs the records advance."""
    out = []
    for record in records:
        if _relevant(record):
            image = record["dynamodb"]["NewImage"]
            owner = owner_of_pk(image.get("pk", {}).get("S", ""))
            if owner and image.get("sk", {}).get("S"):
                out.append(ids.broadcast_id(owner, image["sk"]["S"]))
    return out


def handle_broadcast_stream(event: dict[str, Any]) -> dict[str, Any]:
    return _run("broadcasts-stream", event.get("Records", []), _fan_out, _broadcast_ids)


# ---- inbox stream → counters of TTL-expired notifications ----------------------------------------

def is_ttl_expiry(record: dict[str, Any]) -> bool:
    """A REMOVE made by DynamoDB's TTL process (not a user's delete) of a notification item."""
    identity = record.get("userIdentity") or {}
    old = record.get("dynamodb", {}).get("OldImage") or {}
    return (record.get("eventName") == "REMOVE" and identity.get("type") == "Service"
            and identity.get("principalId") == TTL_PRINCIPAL and "act" in old)


def _settle(record: dict[str, Any]) -> None:
    if is_ttl_expiry(record):
        old = record["dynamodb"]["OldImage"]
        settle_expired(old["pk"]["S"], old["sk"]["S"], was_unread="unr" in old)


def handle_inbox_stream(event: dict[str, Any]) -> dict[str, Any]:
    return _run("inbox-stream", event.get("Records", []), _settle)
