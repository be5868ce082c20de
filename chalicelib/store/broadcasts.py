"""The broadcasts table: one item per send to an audience, keyed by owner, with a stream.

Every item names its class in `kind` (PynamoDB's discriminator over the attribute items have always
carried), so a read returns the right class. Key patterns (`pk`, `sk`) per class:
- `BroadcastJob` (kind `broadcast`): `<tenant>#<owner kind>#<owner id>`, ULID. A send to an
  organization (`org`) or community (`com`). Its stream records drive the coordinator, one step per
  record: it carries the cursor into the membership, `seq` (the step guard) and `chunks` (how many
  were enqueued). Status: queued -> running (cutting) -> delivering (all chunks enqueued) -> complete |
  failed. Its body is a `MessageBody` (`spec.ref`), so the job item stays under 1 KB.
- `ReadAllJob` (kind `readall`): `<tenant>#readall#<user>`, ULID: a mark-all-read job too large for
  one request; the coordinator hands it to the work queue.
- `ManifestItem` (kind `manifest`): job pk, `<ULID>#m#<seq, 6 digits>`: the chunks one coordinator
  step cut (key ranges of the membership), written once, so a retried step enqueues the same chunks.
- `RecipientsItem` (kind `recipients`): job pk, `<ULID>#r#<index, 7 digits>`: who a chunk delivers to,
  decided by its first attempt and written once, so a retried chunk writes and counts the same members
  even if some left or changed their settings meanwhile.
- `ChunkDoneItem` (kind `chunk`): job pk, `<ULID>#c#<index>`: written once when a writer has delivered
  that chunk; its counts are added to the progress item in the same transaction, so they count once.
- `ChunkFailedItem` (kind `chunkfail`): job pk, `<ULID>#f#<index>`: a chunk whose last receive failed
  (it is in the dead-letter queue); removed again if a redrive delivers it.
- `ProgressItem` (kind `progress`): job pk, `<ULID>#p`: eligible / delivered / skipped members, chunks
  done / failed / total. Kept off the job item so writers' updates do not wake the coordinator's stream.
- `MessageBody` (kind `message`): `<tenant>#msg`, the send's ULID: the body of a multi-recipient send
  or a broadcast, stored once and referenced (`<pk>|<sk>`) by each inbox item.
Only job items in status queued/running wake the coordinator (the stream filter in infra/ says the same).
No index; stream NEW_AND_OLD_IMAGES; TTL `expires` on markers, manifests and bodies.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from pynamodb.attributes import DiscriminatorAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.store.attributes import ITEM_BUDGET, CompactJSONAttribute, stored_size
from chalicelib.store.base import (BaseModel, condition_failed, connection, failed_conditions, get_or_none, lazy_meta,
                                   save_if_absent, with_backoff)

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
    """The table: keys, the item kind, TTL (what bootstrap and the stack build)."""

    Meta = lazy_meta("broadcasts")
    Meta.stream_view_type = "NEW_AND_OLD_IMAGES"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute(attr_name="kind")
    expires = TTLAttribute(null=True)


class JobItem(BroadcastItem):
    """What both kinds of job hold."""

    status = UnicodeAttribute(null=True)
    seq = NumberAttribute(default=0)  # the coordinator's step guard
    cursor = UnicodeAttribute(null=True)  # JSON: the member key the next step starts after
    eligible = NumberAttribute(default=0)  # jobs cut before the progress item counted here
    delivered = NumberAttribute(default=0)
    skipped = NumberAttribute(default=0)
    created = NumberAttribute(null=True)
    updated = NumberAttribute(null=True)
    completed = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    spec = CompactJSONAttribute(null=True)  # what to deliver: body ref, audience, snapshot, sender

    @property
    def tenant(self) -> str:
        return self.pk.split("#", 1)[0]


class BroadcastJob(JobItem, discriminator=KIND_BROADCAST):
    chunks_enqueued = NumberAttribute(null=True, attr_name="chunks")


class ReadAllJob(JobItem, discriminator=KIND_READALL):
    pass


class ManifestItem(BroadcastItem, discriminator=KIND_MANIFEST):
    cut = CompactJSONAttribute(null=True, attr_name="spec")


class RecipientsItem(BroadcastItem, discriminator=KIND_RECIPIENTS):
    plan = CompactJSONAttribute(null=True, attr_name="spec")


class ChunkDoneItem(BroadcastItem, discriminator=KIND_CHUNK):
    pass


class ChunkFailedItem(BroadcastItem, discriminator=KIND_CHUNK_FAILED):
    error = UnicodeAttribute(null=True)


class ProgressItem(BroadcastItem, discriminator=KIND_PROGRESS):
    eligible = NumberAttribute(null=True)
    delivered = NumberAttribute(null=True)
    skipped = NumberAttribute(null=True)
    chunks_done = NumberAttribute(null=True, attr_name="done")
    chunks_failed = NumberAttribute(null=True, attr_name="failed")  # dead-lettered, not redriven since
    chunks_total = NumberAttribute(null=True, attr_name="total")  # known once the coordinator has cut them all


class MessageBody(BroadcastItem, discriminator=KIND_MESSAGE):
    spec = CompactJSONAttribute(null=True)  # {"content": the notification body}
    created = NumberAttribute(null=True)


PROGRESS_COUNTS = {"eligible": ProgressItem.eligible, "delivered": ProgressItem.delivered,
                   "skipped": ProgressItem.skipped}


# ---- keys ---------------------------------------------------------------------------------------

def job_owner(owner_kind: str, owner_id: str) -> str:
    """The owner part of a job's key (and of its public id): `org#<id>`, `com#<id>`, `readall#<user>`."""
    return f"{owner_kind}#{owner_id}"


def split_job_owner(owner: str) -> tuple[str, str]:
    kind, _, owner_id = owner.partition("#")
    return kind, owner_id


def job_pk(tenant: str, owner: str) -> str:
    return f"{tenant}#{owner}"


def owner_of_pk(pk: str) -> str:
    """The owner part of a job's partition key (`job_pk`'s inverse); empty for a key without one."""
    return pk.partition("#")[2]


def message_pk(tenant: str) -> str:
    return f"{tenant}#msg"


def body_ref(pk: str, sk: str) -> str:
    return f"{pk}|{sk}"


def _manifest_sk(sk: str, seq: int) -> str:
    return f"{sk}#m#{seq:06d}"


def _recipients_sk(sk: str, index: int) -> str:
    return f"{sk}#r#{index:07d}"


def _done_sk(sk: str, index: int) -> str:
    return f"{sk}#c#{index:07d}"


def _failed_sk(sk: str, index: int) -> str:
    return f"{sk}#f#{index:07d}"


def _progress_sk(sk: str) -> str:
    return f"{sk}#p"


def _marker_expiry(now_s: float) -> datetime:
    return datetime.fromtimestamp(int(now_s) + MARKER_TTL_S, timezone.utc)


def _get(pk: str, sk: str) -> BroadcastItem | None:
    return get_or_none(BroadcastItem, pk, sk)


def _put_once(item: BroadcastItem) -> bool:
    """Put unless the key exists; False when it did."""
    return save_if_absent(item)


# ---- bodies and jobs (senders) ------------------------------------------------------------------

def put_message_body(tenant: str, sk: str, content: dict[str, Any], created_ms: int,
                     expires: datetime | None) -> str:
    """Store a body once; returns its reference."""
    item = MessageBody(message_pk(tenant), sk, spec={"content": content}, created=created_ms, expires=expires)
    item.save()
    return body_ref(item.pk, item.sk)


def get_bodies(refs: list[str]) -> dict[str, dict[str, Any]]:
    """ref -> body, for the refs stored (a `MessageBody`, or a job of before bodies were apart)."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(refs), 100):
        keys = [tuple(r.split("|", 1)) for r in refs[start:start + 100]]
        for item in BroadcastItem.batch_get(keys, consistent_read=True, attributes_to_get=["pk", "sk", "kind", "spec"]):
            spec = getattr(item, "spec", None)
            if spec is not None and "content" in spec:
                found[body_ref(item.pk, item.sk)] = spec["content"]
    return found


def put_broadcast_job(tenant: str, owner_kind: str, owner_id: str, sk: str, *, ref: str, sender: str,
                      now_ms: int) -> bool:
    """Queue a broadcast, once per (owner, sk): a retried send finds its job there (False)."""
    return _put_once(BroadcastJob(
        job_pk(tenant, job_owner(owner_kind, owner_id)), sk, status=QUEUED, seq=0, eligible=0, delivered=0,
        skipped=0, created=now_ms, updated=now_ms,
        spec={"ref": ref, "owner_kind": owner_kind, "owner_id": owner_id, "snapshot": now_ms, "sender": sender}))


def put_readall_job(tenant: str, user: str, sk: str, *, bound: str, sender: str, now_ms: int) -> str:
    """Queue a mark-all-read of `user`'s items up to `bound`; returns the job's owner."""
    owner = job_owner(KIND_READALL, user)
    item = ReadAllJob(job_pk(tenant, owner), sk, status=QUEUED, seq=0, created=now_ms, updated=now_ms,
                      spec={"user": user, "bound": bound, "sender": sender}, expires=None)
    item.save()
    return owner


def get_job(tenant: str, owner: str, sk: str) -> JobItem | None:
    item = _get(job_pk(tenant, owner), sk)
    return item if isinstance(item, JobItem) else None


def job_from_image(image: dict[str, Any]) -> BroadcastItem:
    """An item from a stream record's image (any kind)."""
    return BroadcastItem.from_raw_data(image)


# ---- coordinator --------------------------------------------------------------------------------

def job_after(job: JobItem) -> str | None:
    """The member key the next step starts after. Jobs queued before chunking by key range kept
    a LastEvaluatedKey here (a JSON object); its sort key means the same."""
    if not job.cursor:
        return None
    value = json.loads(job.cursor)
    return value["sk"]["S"] if isinstance(value, dict) else value


def manifest(job: JobItem) -> dict[str, Any] | None:
    item = _get(job.pk, _manifest_sk(job.sk, int(job.seq)))
    return item.cut if isinstance(item, ManifestItem) else None


def put_manifest(job: JobItem, cut: dict[str, Any], now_s: float) -> dict[str, Any]:
    """Record what the job's current step cut, once: a retried step gets the manifest the first attempt wrote."""
    key = (job.pk, _manifest_sk(job.sk, int(job.seq)))
    if _put_once(ManifestItem(*key, cut=cut, expires=_marker_expiry(now_s))):
        return cut
    found = _get(*key)
    assert isinstance(found, ManifestItem) and found.cut is not None
    return found.cut


def advance_broadcast(job: BroadcastJob, *, chunks_enqueued: int, next_after: str | None, now_ms: int) -> bool:
    """Move the job past its step (guarded by `seq`, so a duplicate step counts once). With
    `next_after` None the cutting is over: the progress item learns how many chunks make the whole."""
    done = next_after is None
    actions = [BroadcastJob.chunks_enqueued.set(chunks_enqueued), BroadcastJob.updated.set(now_ms),
               BroadcastJob.attempts.set(0), BroadcastJob.error.remove(),
               BroadcastJob.status.set(DELIVERING if done else RUNNING),
               BroadcastJob.cursor.remove() if done else BroadcastJob.cursor.set(json.dumps(next_after))]
    return _advance(job, actions, total=chunks_enqueued if done else None)


def hand_over_readall(job: ReadAllJob, now_ms: int) -> bool:
    """The job's work is in the work queue now; False for a duplicate step."""
    return _advance(job, [ReadAllJob.updated.set(now_ms), ReadAllJob.status.set(DELIVERING)], total=None)


def _advance(job: JobItem, actions: list, *, total: int | None) -> bool:
    model = type(job)
    seq = int(job.seq)
    guard = (model.seq == seq) & model.status.is_in(*COORDINATING)
    actions = actions + [model.seq.set(seq + 1)]
    try:
        if total is None:
            model(job.pk, job.sk).update(actions=actions, condition=guard)
        else:
            def commit() -> None:
                with TransactWrite(connection=connection()) as tx:
                    tx.update(model(job.pk, job.sk), actions=actions, condition=guard)
                    tx.update(ProgressItem(job.pk, _progress_sk(job.sk)), actions=[
                        ProgressItem.kind.set(ProgressItem), ProgressItem.chunks_total.set(total)])
            with_backoff(commit)
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    except TransactWriteError as exc:
        if 0 in failed_conditions(exc):
            return False
        raise
    return True


def record_step_failure(job: JobItem, error: str, now_ms: int, *, give_up_after: int) -> None:
    """Count a failed step on the job (the update's stream record is the retry); the job fails after
    `give_up_after` attempts. Nothing happens when the job moved on meanwhile."""
    model = type(job)
    attempts = int(job.attempts or 0) + 1
    actions = [model.attempts.set(attempts), model.updated.set(now_ms), model.error.set(error[:500])]
    if attempts >= give_up_after:
        actions.append(model.status.set(FAILED))
    try:
        model(job.pk, job.sk).update(
            actions=actions, condition=(model.seq == int(job.seq)) & (model.attempts == int(job.attempts or 0)))
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


# ---- chunks (writers) ---------------------------------------------------------------------------

def chunk_done(pk: str, sk: str, index: int) -> bool:
    return _get(pk, _done_sk(sk, index)) is not None


def chunk_recipients(pk: str, sk: str, index: int) -> dict[str, Any] | None:
    item = _get(pk, _recipients_sk(sk, index))
    return item.plan if isinstance(item, RecipientsItem) else None


def put_chunk_recipients(pk: str, sk: str, index: int, plan: dict[str, Any], now_s: float) -> dict[str, Any]:
    """Record who chunk `index` delivers to, once; a retry gets what the first attempt decided.
    A list too large for an item (500 ids of up to 1 KB each) is not kept: a retry then decides
    again, which can only differ for members who left or changed settings between attempts."""
    if stored_size(plan) > ITEM_BUDGET:
        return plan
    key = (pk, _recipients_sk(sk, index))
    if _put_once(RecipientsItem(*key, plan=plan, expires=_marker_expiry(now_s))):
        return plan
    found = _get(*key)
    assert isinstance(found, RecipientsItem) and found.plan is not None
    return found.plan


def record_chunk(pk: str, sk: str, index: int, counts: dict[str, int], now_s: float) -> bool:
    """Mark chunk `index` delivered and add its counts to the progress, in one transaction, once.
    False when it was already marked (a duplicate or redelivered message). A chunk recorded as
    failed before (dead-lettered, then redriven) leaves the failed count."""
    was_failed = _get(pk, _failed_sk(sk, index)) is not None
    actions = [ProgressItem.kind.set(ProgressItem), ProgressItem.chunks_done.add(1)]
    actions += [PROGRESS_COUNTS[name].add(value) for name, value in counts.items()]
    if was_failed:
        actions.append(ProgressItem.chunks_failed.add(-1))

    def commit() -> None:
        with TransactWrite(connection=connection()) as tx:
            tx.save(ChunkDoneItem(pk, _done_sk(sk, index), expires=_marker_expiry(now_s)),
                    condition=BroadcastItem.sk.does_not_exist())
            tx.update(ProgressItem(pk, _progress_sk(sk)), actions=actions)
            if was_failed:
                tx.delete(ChunkFailedItem(pk, _failed_sk(sk, index)), condition=BroadcastItem.sk.exists())

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
            tx.condition_check(BroadcastItem, pk, _done_sk(sk, index), condition=BroadcastItem.sk.does_not_exist())
            tx.save(ChunkFailedItem(pk, _failed_sk(sk, index), error=error[:500], expires=_marker_expiry(now_s)),
                    condition=BroadcastItem.sk.does_not_exist())
            tx.update(ProgressItem(pk, _progress_sk(sk)), actions=[ProgressItem.kind.set(ProgressItem),
                                                                   ProgressItem.chunks_failed.add(1)])

    try:
        with_backoff(commit)
    except TransactWriteError as exc:
        if failed_conditions(exc):
            return False  # delivered meanwhile, or already counted as failed
        raise
    return True


def progress(pk: str, sk: str) -> ProgressItem | None:
    item = _get(pk, _progress_sk(sk))
    return item if isinstance(item, ProgressItem) else None


def finish(pk: str, sk: str, status: str, now_ms: int, error: str | None = None) -> bool:
    """Set a delivering (or failed, after a redrive) broadcast's final status; False if already so."""
    actions = [BroadcastJob.status.set(status), BroadcastJob.updated.set(now_ms), BroadcastJob.completed.set(now_ms)]
    actions.append(BroadcastJob.error.set(error) if error else BroadcastJob.error.remove())
    condition = BroadcastJob.status.is_in(DELIVERING, FAILED) & (BroadcastJob.status != status)
    try:
        BroadcastJob(pk, sk).update(actions=actions, condition=condition)
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def add_readall_progress(pk: str, sk: str, marked: int, *, done: bool, now_ms: int) -> None:
    """Count items a mark-all-read step marked; with `done`, the job is complete."""
    actions = [ReadAllJob.delivered.add(marked), ReadAllJob.updated.set(now_ms)]
    if done:
        actions += [ReadAllJob.status.set(COMPLETE), ReadAllJob.completed.set(now_ms)]
    ReadAllJob(pk, sk).update(actions=actions)
