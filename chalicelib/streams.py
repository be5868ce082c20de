"""Lambda-shaped DynamoDB stream events in, partial batch failures out.

The deployed Lambda, the local poller and the tests all call `handle_broadcast_stream`.
"""
from __future__ import annotations

import logging
from typing import Any

from chalicelib.domain.fanout import process_image
from chalicelib.store.broadcasts import BroadcastItem

log = logging.getLogger(__name__)


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


def handle_broadcast_stream(event: dict[str, Any]) -> dict[str, Any]:
    """Process records in order; on the first failure report it and every later record,
    so the event source resumes from there (ReportBatchItemFailures)."""
    records = event.get("Records", [])
    for position, record in enumerate(records):
        try:
            if _relevant(record):
                outcome = process_image(BroadcastItem.from_raw_data(record["dynamodb"]["NewImage"]))
                log.debug("record %s: %s", record.get("dynamodb", {}).get("SequenceNumber"), outcome)
        except Exception:  # noqa: BLE001 - the event source retries from this record
            log.exception("stream record failed")
            return {"batchItemFailures": [
                {"itemIdentifier": r.get("dynamodb", {}).get("SequenceNumber")} for r in records[position:]
            ]}
    return {"batchItemFailures": []}
