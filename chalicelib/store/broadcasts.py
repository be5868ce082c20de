"""The broadcasts table: one item per send to an audience, keyed by owner, with a stream.

Item kinds (attribute `kind`):
- `broadcast`: a send to an organization or community; its stream records drive the
  fan-out, one chunk per record, and it carries the cursor and progress counts. Its body is a
  `message` item (`spec.ref`), so the job item, rewritten at every step, stays small.
- `readall`: a mark-all-read job too large for one request; processed the same way.
- `message`: the body of a multi-recipient send or a broadcast (`pk = tenant#msg`, `sk` = the
  send's ULID), stored once and referenced by each inbox item. The stream handler ignores it.
"""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.store.attributes import CompactJSONAttribute
from chalicelib.store.base import BaseModel, lazy_meta

KIND_BROADCAST = "broadcast"
KIND_READALL = "readall"
KIND_MESSAGE = "message"


class BroadcastItem(BaseModel):
    Meta = lazy_meta("broadcasts")
    Meta.stream_view_type = "NEW_AND_OLD_IMAGES"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    status = UnicodeAttribute(null=True)
    seq = NumberAttribute(default=0)
    cursor = UnicodeAttribute(null=True)
    eligible = NumberAttribute(default=0)
    delivered = NumberAttribute(default=0)
    skipped = NumberAttribute(default=0)
    created = NumberAttribute(null=True)
    updated = NumberAttribute(null=True)
    completed = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    spec = CompactJSONAttribute(null=True)  # what to deliver: body, type, priority, audience
    expires = TTLAttribute(null=True)


def get(pk: str, sk: str) -> BroadcastItem | None:
    try:
        return BroadcastItem.get(pk, sk, consistent_read=True)
    except BroadcastItem.DoesNotExist:
        return None
