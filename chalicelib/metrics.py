"""Business metrics in CloudWatch's embedded metric format (EMF), through Powertools' EphemeralMetrics.

The domain counts an event where it happens (`count("sends", tenant=...)`); the handler that ran
the invocation (an API view, a stream or queue batch) calls `flush()` once at its end, which prints
one EMF JSON line per tenant where the log lines go (stdout), with the dimension sets [service, tenant]
and [service]: per tenant and in total. On Lambda the log agent turns those lines into metrics in the namespace
METRICS_NAMESPACE (default InboxNotifications); METRICS=off drops them (`notifications dev`).

Counts are kept per process and summed under a lock, so the fan-out's writer threads may count
while one invocation runs; a flush emits whatever was counted since the last one.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib.logs import write_line
from chalicelib.settings import SERVICE_NAME, get_settings

# The metrics this service emits (a typo in a name is a KeyError in the tests, not a new metric).
SENDS = "sends"                # a send accepted: recipients listed, or a broadcast queued
RECIPIENTS = "recipients"      # recipients named by a direct send
BROADCASTS = "broadcasts"      # broadcasts queued (organization / community)
CHUNKS = "chunks"              # broadcast chunks enqueued by the coordinator
DELIVERIES = "deliveries"      # notifications written to an inbox (direct or by a chunk)
SKIPS = "skips"                # broadcast members skipped (banned, API user, settings)
FAILURES = "failures"          # chunks that failed for good (dead-lettered)
NAMES = (SENDS, RECIPIENTS, BROADCASTS, CHUNKS, DELIVERIES, SKIPS, FAILURES)

_pending: dict[str | None, Counter[str]] = {}
_lock = threading.Lock()


def count(name: str, value: int = 1, *, tenant: str | None = None) -> None:
    """Add `value` to metric `name` (one of NAMES) for `tenant`, emitted at the next flush."""
    if name not in NAMES:
        raise KeyError(f"unknown metric {name!r}")
    if value <= 0:
        return
    with _lock:
        _pending.setdefault(tenant, Counter())[name] += value


def flush() -> list[dict[str, Any]]:
    """Emit everything counted since the last flush (one EMF line per tenant) and forget it.
    Returns the EMF objects (empty when nothing was counted or METRICS=off)."""
    with _lock:
        pending = {tenant: counts for tenant, counts in _pending.items() if counts}
        _pending.clear()
    settings = get_settings()
    if not pending or settings.metrics == "off":
        return []
    emitted = []
    for tenant, counts in sorted(pending.items(), key=lambda item: item[0] or ""):
        metrics = EphemeralMetrics(namespace=settings.metrics_namespace, service=SERVICE_NAME)
        if tenant:
            metrics.add_dimension(name="tenant", value=tenant)
            metrics.add_dimensions(service=SERVICE_NAME)  # a second dimension set: the total over tenants
        for name, value in sorted(counts.items()):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        serialized = metrics.serialize_metric_set()
        write_line(json.dumps(serialized, separators=(",", ":")))  # as Powertools' flush_metrics prints it
        emitted.append(serialized)
    return emitted


def discard() -> None:
    """Forget what was counted (tests)."""
    with _lock:
        _pending.clear()
