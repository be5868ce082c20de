"""The idempotency table: the first result of a send, keyed by caller and Idempotency-Key.

Key pattern (`pk`, no sort key): `<tenant>#<principal>#<sha256 hex of the Idempotency-Key>`. User ids
and keys may both contain '#', so the raw key after the principal had two readings (user "al" with key
"x#k" and user "al#x" with key "k" met in one record); a tenant id never holds '#' and the digest has a
fixed length, so this key has one reading. No index, no stream; TTL `expires`.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from chalicelib.store.attributes import CompactJSONAttribute
from chalicelib.store.base import BaseModel, get_or_none, lazy_meta, save_if_absent

IN_PROGRESS, DONE = "in_progress", "done"


class IdempotencyRecord(BaseModel):
    Meta = lazy_meta("idempotency")

    pk = UnicodeAttribute(hash_key=True)
    fingerprint = UnicodeAttribute()
    status = UnicodeAttribute()  # in_progress | done
    response = CompactJSONAttribute(null=True)
    ulid = UnicodeAttribute()  # the send's sort key, reused if a crashed attempt is retried
    started = NumberAttribute()
    expires = TTLAttribute(null=True)


def record_key(tenant: str, principal: str, key: str) -> str:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{tenant}#{principal}#{digest}"


def get(pk: str) -> IdempotencyRecord | None:
    return get_or_none(IdempotencyRecord, pk)


def claim(pk: str, *, fingerprint: str, ulid: str, now_ms: int, expires: datetime) -> IdempotencyRecord | None:
    """Create the record in progress; None when one exists already."""
    record = IdempotencyRecord(pk, fingerprint=fingerprint, status=IN_PROGRESS, ulid=ulid, started=now_ms,
                               expires=expires)
    return record if save_if_absent(record) else None


def take_over(record: IdempotencyRecord, now_ms: int) -> bool:
    """Restart a stale attempt's lease; False when another retry took it first (or the write failed:
    the caller is told to retry either way)."""
    try:
        record.update(actions=[IdempotencyRecord.started.set(now_ms)],
                      condition=IdempotencyRecord.started == record.started)
    except UpdateError:
        return False
    return True


def complete(record: IdempotencyRecord, response: dict[str, Any]) -> None:
    record.update(actions=[IdempotencyRecord.status.set(DONE), IdempotencyRecord.response.set(response)])


def forget(pk: str) -> None:
    IdempotencyRecord(pk).delete()
