"""Lambda-shaped SQS events of the work queue in, partial batch failures out.

The deployed writer function, the local queue workers and the tests all call this.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from chalicelib.domain import chunks
from chalicelib.settings import get_settings

log = logging.getLogger(__name__)


def _receives(record: dict[str, Any]) -> int:
    try:
        return int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        return 1


def handle_work_queue(event: dict[str, Any]) -> dict[str, Any]:
    """Process each message; report the ones that failed, so only they are received again
    (ReportBatchItemFailures). A message failing its last receive before the dead-letter queue
    is recorded as a failed chunk first."""
    failures = []
    for record in event.get("Records", []):
        try:
            message = json.loads(record["body"])
        except (KeyError, TypeError, ValueError):
            log.error("work message %s is not JSON; dropped", record.get("messageId"))
            continue
        try:
            outcome = chunks.process(message)
            log.debug("work message %s: %s", record.get("messageId"), outcome)
        except Exception as exc:  # noqa: BLE001 - received again, up to the redrive limit
            log.exception("work message %s failed (receive %d)", record.get("messageId"), _receives(record))
            if _receives(record) >= get_settings().work_queue_max_receives:
                try:
                    chunks.record_failure(message, f"{type(exc).__name__}: {exc}")
                except Exception:  # noqa: BLE001 - the dead-letter queue still holds it
                    log.exception("could not record the failure of work message %s", record.get("messageId"))
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures}
