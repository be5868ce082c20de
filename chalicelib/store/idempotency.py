"""The idempotency table: the first result of a send, keyed by caller and Idempotency-Key."""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.store.attributes import CompactJSONAttribute
from chalicelib.store.base import BaseModel, lazy_meta


class IdempotencyRecord(BaseModel):
    Meta = lazy_meta("idempotency")

    pk = UnicodeAttribute(hash_key=True)
    fingerprint = UnicodeAttribute()
    status = UnicodeAttribute()  # in_progress | done
    response = CompactJSONAttribute(null=True)
    ulid = UnicodeAttribute()  # the send's sort key, reused if a crashed attempt is retried
    started = NumberAttribute()
    expires = TTLAttribute(null=True)


def get(pk: str) -> IdempotencyRecord | None:
    try:
        return IdempotencyRecord.get(pk, consistent_read=True)
    except IdempotencyRecord.DoesNotExist:
        return None
