"""The broadcasts table: one item per send to an audience, keyed by owner, with a stream.

Key patterns (`pk`, `sk`) and item kinds (attribute `kind`):
- `broadcast` (`tenant#<owner kind>#<owner id>`, ULID): a send to an organization or community.
  Its stream records drive the coordinator, one step per record: it carries the cursor into the
  membership, `seq` (the step guard) and `chunks` (how many were enqueued). Status: queued ->
  running (cutting) -> delivering (all chunks enqueued) -> complete | failed. Its body is a
  `message` item (`spec.ref`), so the job item stays under 1 KB.
- `manifest` (job pk, `<ULID>#m#<seq>`): the chunks one coordinator step cut (key ranges of the
  membership), written once, so a retried step enqueues the same chunks.
- `recipients` (job pk, `<ULID>#r#<index>`): who a chunk delivers to, decided by its first attempt
  and written once, so a retried chunk writes and counts the same members even if some left or
  changed their settings meanwhile.
- `chunk` (job pk, `<ULID>#c#<index>`): written once when a writer has delivered that chunk; its
  counts are added to the progress item in the same transaction, so they count once.
- `chunkfail` (job pk, `<ULID>#f#<index>`): a chunk whose last receive failed (it is in the
  dead-letter queue); removed again if a redrive delivers it.
- `progress` (job pk, `<ULID>#p`): eligible / delivered / skipped members, chunks done / failed /
  total. Kept off the job item so writers' updates do not wake the coordinator's stream.
- `readall` (`tenant#readall#<user>`, ULID): a mark-all-read job too large for one request; the
  coordinator hands it to the work queue.
- `message` (`tenant#msg`, the send's ULID): the body of a multi-recipient send or a broadcast,
  stored once and referenced by each inbox item.
Only `broadcast` and `readall` items in status queued/running wake the coordinator.
"""
from __future__ import annotations

from typing import Any

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.store.attributes import ITEM_BUDGET, CompactJSONAttribute, stored_size
from chalicelib.store.base import BaseModel, connection, failed_conditions, lazy_meta, with_backoff

KIND_BROADCAST = "broadcast"
KIND_READALL = "readall"
KIND_MESSAGE = "message"
KIND_MANIFEST = "manifest"
KIND_CHUNK = "chunk"
KIND_CHUNK_FAILED = "chunkfail"
KIND_RECIPIENTS = "recipients"
KIND_PROGRESS = "progress"

# Job statuses. Only the first two wake the coordinator (the stream filter in infra/ says the same).
QUEUED, RUNNING, DELIVERING, COMPLETE, FAILED = "queued", "running", "delivering", "complete", "failed"
COORDINATING = (QUEUED, RUNNING)
# Markers and manifests only serve retries and redrives (SQS keeps a message at most 14 days).
MARKER_TTL_S = 30 * 86400


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
    chunks = NumberAttribute(null=True)  # job: chunks enqueued so far
    done = NumberAttribute(null=True)  # progress: chunks delivered
    failed = NumberAttribute(null=True)  # progress: chunks dead-lettered (and not redriven since)
    total = NumberAttribute(null=True)  # progress: chunks in all, once the coordinator has cut them all
    spec = CompactJSONAttribute(null=True)  # what to deliver: body, type, priority, audience
    expires = TTLAttribute(null=True)


def get(pk: str, sk: str) -> BroadcastItem | None:
    try:
        return BroadcastItem.get(pk, sk, consistent_read=True)
    except BroadcastItem.DoesNotExist:
        return None


def job_pk(tenant: str, owner: str) -> str:
    return f"{tenant}#{owner}"


def _marker_expiry(now_s: float) -> Any:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(now_s) + MARKER_TTL_S, timezone.utc)


def _put_once(item: BroadcastItem) -> bool:
    """Put unless the key exists; False when it did."""
    try:
        with_backoff(lambda: item.save(condition=BroadcastItem.sk.does_not_exist()))
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


# ---- manifests (coordinator) ----------------------------------------------------------------------

def manifest(pk: str, sk: str, seq: int) -> dict[str, Any] | None:
    item = get(pk, f"{sk}#m#{seq:06d}")
    return item.spec if item is not None else None


def put_manifest(pk: str, sk: str, seq: int, spec: dict[str, Any], now_s: float) -> dict[str, Any]:
    """Record what step `seq` cut, once: a retried step gets the manifest the first attempt wrote."""
    return _spec_once(pk, f"{sk}#m#{seq:06d}", KIND_MANIFEST, spec, now_s)


def _spec_once(pk: str, sk: str, kind: str, spec: dict[str, Any], now_s: float) -> dict[str, Any]:
    """Put `spec` at (pk, sk) unless something is there; returns what is stored (the first writer's)."""
    if _put_once(BroadcastItem(pk, sk, kind=kind, spec=spec, expires=_marker_expiry(now_s))):
        return spec
    found = get(pk, sk)
    assert found is not None and found.spec is not None
    return found.spec


def advance_job(pk: str, sk: str, seq: int, actions: list, *, total: int | None) -> bool:
    """Move the job past step `seq` (guarded by `seq`, so a duplicate step counts once). With
    `total`, the cutting is over: the progress item learns how many chunks make the whole."""
    guard = (BroadcastItem.seq == seq) & BroadcastItem.status.is_in(*COORDINATING)
    actions = actions + [BroadcastItem.seq.set(seq + 1)]
    try:
        if total is None:
            with_backoff(lambda: BroadcastItem(pk, sk).update(actions=actions, condition=guard))
        else:
            def commit() -> None:
                with TransactWrite(connection=connection()) as tx:
                    tx.update(BroadcastItem(pk, sk), actions=actions, condition=guard)
                    tx.update(BroadcastItem(pk, f"{sk}#p"), actions=[
                        BroadcastItem.kind.set(KIND_PROGRESS), BroadcastItem.total.set(total)])
            with_backoff(commit)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    except TransactWriteError as exc:
        if 0 in failed_conditions(exc):
            return False
        raise
    return True


# ---- chunks (writers) ---------------------------------------------------------------------------

def chunk_done(pk: str, sk: str, index: int) -> bool:
    return get(pk, f"{sk}#c#{index:07d}") is not None


def chunk_recipients(pk: str, sk: str, index: int) -> dict[str, Any] | None:
    item = get(pk, f"{sk}#r#{index:07d}")
    return item.spec if item is not None else None


def put_chunk_recipients(pk: str, sk: str, index: int, spec: dict[str, Any], now_s: float) -> dict[str, Any]:
    """Record who chunk `index` delivers to, once; a retry gets what the first attempt decided.
    A list too large for an item (500 ids of up to 1 KB each) is not kept: a retry then decides
    again, which can only differ for members who left or changed settings between attempts."""
    if stored_size(spec) > ITEM_BUDGET:
        return spec
    return _spec_once(pk, f"{sk}#r#{index:07d}", KIND_RECIPIENTS, spec, now_s)


def record_chunk(pk: str, sk: str, index: int, counts: dict[str, int], now_s: float) -> bool:
    """Mark chunk `index` delivered and add its counts to the progress, in one transaction, once.
    False when it was already marked (a duplicate or redelivered message). A chunk recorded as
    failed before (dead-lettered, then redriven) leaves the failed count."""
    was_failed = get(pk, f"{sk}#f#{index:07d}") is not None
    actions = [BroadcastItem.kind.set(KIND_PROGRESS), BroadcastItem.done.add(1)]
    actions += [getattr(BroadcastItem, name).add(value) for name, value in counts.items()]
    if was_failed:
        actions.append(BroadcastItem.failed.add(-1))

    def commit() -> None:
        with TransactWrite(connection=connection()) as tx:
            tx.save(BroadcastItem(pk, f"{sk}#c#{index:07d}", kind=KIND_CHUNK, expires=_marker_expiry(now_s)),
                    condition=BroadcastItem.sk.does_not_exist())
            tx.update(BroadcastItem(pk, f"{sk}#p"), actions=actions)
            if was_failed:
                tx.delete(BroadcastItem(pk, f"{sk}#f#{index:07d}"), condition=BroadcastItem.sk.exists())

    try:
        with_backoff(commit)
    except TransactWriteError as exc:
        if 0 in failed_conditions(exc):
            return False
        if 2 in failed_conditions(exc):  # another redrive of the same chunk got there first
            return record_chunk(pk, sk, index, counts, now_s)
        raise
    return True


def record_chunk_failure(pk: str, sk: str, index: int, error: str, now_s: float) -> bool:
    """Count chunk `index` as failed (its message goes to the dead-letter queue), once."""
    def commit() -> None:
        with TransactWrite(connection=connection()) as tx:
            tx.condition_check(BroadcastItem, pk, f"{sk}#c#{index:07d}", condition=BroadcastItem.sk.does_not_exist())
            tx.save(BroadcastItem(pk, f"{sk}#f#{index:07d}", kind=KIND_CHUNK_FAILED, error=error[:500],
                                  expires=_marker_expiry(now_s)), condition=BroadcastItem.sk.does_not_exist())
            tx.update(BroadcastItem(pk, f"{sk}#p"), actions=[BroadcastItem.kind.set(KIND_PROGRESS),
                                                               BroadcastItem.failed.add(1)])

    try:
        with_backoff(commit)
    except TransactWriteError as exc:
        if failed_conditions(exc):
            return False  # delivered meanwhile, or already counted as failed
        raise
    return True


def progress(pk: str, sk: str) -> BroadcastItem | None:
    return get(pk, f"{sk}#p")


def finish(pk: str, sk: str, status: str, now_ms: int, error: str | None = None) -> bool:
    """Set a delivering (or failed, after a redrive) job's final status; False if already so."""
    actions = [BroadcastItem.status.set(status), BroadcastItem.updated.set(now_ms),
               BroadcastItem.completed.set(now_ms)]
    actions.append(BroadcastItem.error.set(error) if error else BroadcastItem.error.remove())
    condition = BroadcastItem.status.is_in(DELIVERING, FAILED) & (BroadcastItem.status != status)
    try:
        with_backoff(lambda: BroadcastItem(pk, sk).update(actions=actions, condition=condition))
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True
