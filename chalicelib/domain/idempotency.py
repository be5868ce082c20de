"""Idempotency-Key: a retried request returns the first result instead of acting twice.

The record keeps the ULID the first attempt chose; if that attempt died half-way, a
retry after the lease reuses it, so the conditional inbox writes fill in what is
missing rather than sending a second copy.
"""
from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from chalicelib import ids
from chalicelib.domain.errors import Conflict, DomainError, InvalidInput
from chalicelib.domain.principal import Caller
from chalicelib.store import idempotency as store

LEASE_MS = 30_000
KEEP = timedelta(hours=24)
MAX_KEY = 255


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def record_key(caller: Caller, key: str) -> str:
    """The record's key: tenant, principal and the Idempotency-Key (`store.idempotency` says how)."""
    return store.record_key(caller.tenant, caller.principal, key)


def run_once(caller: Caller, key: str, payload: Any,
             action: Callable[[str], tuple[int, Any]]) -> tuple[int, Any, bool]:
    """Run `action(ulid)` once per key; returns (status, body, replayed)."""
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise InvalidInput("invalid_idempotency_key", f"Idempotency-Key must be 1-{MAX_KEY} printable characters",
                           "Idempotency-Key")
    pk = record_key(caller, key)
    digest = fingerprint(payload)
    now = int(time.time() * 1000)
    record = store.claim(pk, fingerprint=digest, ulid=ids.new_ulid(), now_ms=now,
                         expires=datetime.now(timezone.utc) + KEEP)
    if record is None:
        existing = store.get(pk)
        if existing is None:
            raise Conflict("idempotency_conflict", "request with this Idempotency-Key is being processed; retry",
                           "Idempotency-Key")
        if existing.fingerprint != digest:
            raise Conflict("idempotency_key_reused",
                           "this Idempotency-Key was used with a different request body", "Idempotency-Key")
        if existing.status == store.DONE:
            return int(existing.response["status"]), existing.response["body"], True
        if now - int(existing.started) < LEASE_MS or not store.take_over(existing, now):
            raise Conflict("idempotency_in_progress", "a request with this Idempotency-Key is still in progress",
                           "Idempotency-Key")
        record = existing
    try:
        status, body = action(record.ulid)
    except DomainError:
        # Refused input wrote nothing: forget the key so a corrected request may use it.
        store.forget(pk)
        raise
    store.complete(record, {"status": status, "body": body})
    return status, body, False
