"""Lambda-shaped SQS events of the work queue in, partial batch failures out.

The deployed writer function, the local queue workers and the tests all call this.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from chalicelib import ids, metrics
from chalicelib.domain import chunks
from chalicelib.logs import log_batch
from chalicelib.settings import get_settings
from chalicelib.store.broadcasts import owner_of_pk

log = logging.getLogger(__name__)


def _receives(record: dict[str, Any]) -> int:
    try:
        return int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        return 1


def handle_work_queue(event: dict[str, Any]) -> dict[str, Any]:
    """Process each message; report the ones that failed, so only they are received again
    (ReportBatchItemFailures). A message failing its last receive before the dead-letter queue
    is recorded as a failed chunk first. Ends with one log line for the batch and the metrics it
    counted flushed."""
    started = time.perf_counter()
    records = event.get("Records", [])
    failures = []
    outcomes: list[str] = []
    broadcast_ids: list[str] = []
    for record in records:
        try:
            message = json.loads(record["body"])
        except (KeyError, TypeError, ValueError):
            log.error("work message %s is not JSON; dropped", record.get("messageId"))
            outcomes.append("dropped")
            continue
        broadcast_ids.extend(_broadcast_id(message))
        try:
            outcome = chunks.process(message)
            outcomes.append(outcome)
            log.debug("work message %s: %s", record.get("messageId"), outcome)
        except Exception as exc:  # noqa: BLE001 - received again, up to the redrive limit
            log.exception("work message %s failed (receive %d)", record.get("messageId"), _receives(record))
            if _receives(record) >= get_settings().work_queue_max_receives:
                try:
                    chunks.record_failure(message, f"{type(exc).__name__}: {exc}")
                except Exception:  # noqa: BLE001 - the dead-letter queue still holds it
                    log.exception("could not record the failure of work message %s", record.get("messageId"))
            failures.append({"itemIdentifier": record.get("messageId")})
            outcomes.append("retry")
    log_batch("work-queue", records=len(records), failed=len(failures),
              outcome=",".join(sorted(set(outcomes))) or "empty",
              latency_ms=(time.perf_counter() - started) * 1000, broadcast_ids=broadcast_ids)
    metrics.flush()
    return {"batchItemFailures": failures}


def _broadcast_id(message: Any) -> list[str]:
    """The id of the broadcast (or mark-all-read job) a work message belongs to, as the API shows it."""
    try:
        owner = owner_of_pk(message["pk"])
        return [ids.broadcast_id(owner, message["sk"])] if owner else []
    except (AttributeError, KeyError, TypeError):
        return []
