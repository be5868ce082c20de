"""PLACEHOLDER so the CDK stack can synthesize a `writer` function (branch `infra`).

The real work-queue handler (fan-out v2: chunk writer, mark-all-read jobs) is written on main
and replaces this file; nothing here does any work.
"""
from __future__ import annotations

from typing import Any


def handle_work_queue(event: dict[str, Any]) -> dict[str, Any]:
    """Placeholder: reports no failures and does nothing."""
    return {"batchItemFailures": []}
