"""The coordinator: turns a broadcast (or a large mark-all-read) into work-queue messages.

Driven by the broadcasts stream, one step per record. A broadcast step reads the next
`chunk_size x chunks_per_step` member keys of the audience (eventually consistent, keys
only), cuts them into chunks (key ranges: (after, upto]), records them in a manifest
written once per step, enqueues one message per chunk, then advances the job with a
conditional update on `seq`. That update is the next step's stream record; the last step
records the chunk total. So a 1M-member broadcast is 20 steps, and writers deliver its
2,000 chunks in parallel (domain.chunks).

Retries are harmless: a retried step finds its manifest and enqueues the same chunks
again (writers skip chunks already marked), and a duplicate record loses the `seq` race.
The last chunk's range is open-ended, so members whose keys sort after the last key read
here are still covered (each writer re-reads its range consistently).
"""
from __future__ import annotations

import json
import logging
import random
import time
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib import metrics
from chalicelib.domain import chunks
from chalicelib.settings import get_settings
from chalicelib.store import broadcasts as store
from chalicelib.store import directory as directory_store
from chalicelib.store import work_queue
from chalicelib.store.broadcasts import BroadcastItem

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


def process_image(image: BroadcastItem) -> str:
    """Do the step one record asks for. Returns what happened (for logs and tests)."""
    if image.kind not in (store.KIND_BROADCAST, store.KIND_READALL) or image.status not in store.COORDINATING:
        return "ignored"
    try:
        if image.kind == store.KIND_BROADCAST:
            return _broadcast_step(image)
        return _readall_step(image)
    except Exception as exc:  # noqa: BLE001 - recorded, then retried through the stream
        log.exception("coordinator step failed for %s/%s seq %s", image.pk, image.sk, image.seq)
        _record_failure(image, exc)
        return "retrying"


def _after(cursor: str | None) -> str | None:
    """The member key the next step starts after. Jobs queued before chunking by key range kept
    a LastEvaluatedKey here (a JSON object); its sort key means the same."""
    if not cursor:
        return None
    value = json.loads(cursor)
    return value["sk"]["S"] if isinstance(value, dict) else value


def cut(owner_pk: str, after: str | None, chunk_size: int, chunks_per_step: int) -> dict[str, Any]:
    """The manifest of one step: chunk ranges [after, upto] and where the next step starts (None:
    this is the last step, and its last range is open-ended)."""
    wanted = chunk_size * chunks_per_step
    keys = directory_store.member_keys_after(owner_pk, after, wanted + 1)
    last_step = len(keys) <= wanted
    keys = keys[:wanted]
    ranges: list[list[str | None]] = []
    lower = after
    for start in range(0, len(keys), chunk_size):
        upper = keys[min(start + chunk_size, len(keys)) - 1]
        ranges.append([lower, upper])
        lower = upper
    if last_step:
        if ranges:
            ranges[-1][1] = None
        else:
            ranges.append([after, None])  # no key read (yet): one open range covers joiners and stale reads
    return {"ranges": ranges, "next": None if last_step else lower}


def _broadcast_step(image: BroadcastItem) -> str:
    settings = get_settings()
    spec: dict[str, Any] = image.spec
    tenant = image.pk.split("#", 1)[0]
    seq = int(image.seq)
    manifest = store.manifest(image.pk, image.sk, seq)
    if manifest is None:
        owner_pk = directory_store.owner_pk(tenant, spec["owner_kind"], spec["owner_id"])
        manifest = store.put_manifest(image.pk, image.sk, seq, {
            "first": int(image.chunks or 0),
            **cut(owner_pk, _after(image.cursor), settings.fanout_chunk_size, settings.fanout_chunks_per_step),
        }, time.time())
    first, ranges = int(manifest["first"]), manifest["ranges"]
    job = chunks.job_of(image, tenant)
    work_queue.send([chunks.chunk_message(job, first + i, after, upto) for i, (after, upto) in enumerate(ranges)],
                    group=tenant)
    done = manifest["next"] is None
    now = int(time.time() * 1000)
    actions = [BroadcastItem.chunks.set(first + len(ranges)), BroadcastItem.updated.set(now),
               BroadcastItem.attempts.set(0), BroadcastItem.error.remove(),
               BroadcastItem.status.set(store.DELIVERING if done else store.RUNNING),
               BroadcastItem.cursor.remove() if done else BroadcastItem.cursor.set(json.dumps(manifest["next"]))]
    if not store.advance_job(image.pk, image.sk, seq, actions, total=first + len(ranges) if done else None):
        return "duplicate"
    metrics.count(metrics.CHUNKS, len(ranges), tenant=tenant)  # once per step: a retried step returned above
    if done:
        chunks.settle(image.pk, image.sk)
    return "advanced"


def _readall_step(image: BroadcastItem) -> str:
    """A large mark-all-read goes through the work queue too, so it waits its tenant's turn there
    rather than occupying the stream."""
    tenant = image.pk.split("#", 1)[0]
    work_queue.send([chunks.readall_message(image, tenant)], group=tenant)
    now = int(time.time() * 1000)
    actions = [BroadcastItem.updated.set(now), BroadcastItem.status.set(store.DELIVERING)]
    return "advanced" if store.advance_job(image.pk, image.sk, int(image.seq), actions, total=None) else "duplicate"


def _record_failure(image: BroadcastItem, exc: Exception) -> None:
    """Count the attempt on the item; the update's stream record is the retry. After
    MAX_ATTEMPTS the job is marked failed. If even this write fails the caller reports the
    record as a batch item failure and the event source retries it."""
    attempts = int(image.attempts or 0) + 1
    time.sleep(min(5.0, random.uniform(0, 0.1 * 2 ** attempts)))
    actions = [BroadcastItem.attempts.set(attempts), BroadcastItem.updated.set(int(time.time() * 1000)),
               BroadcastItem.error.set(f"{type(exc).__name__}: {exc}"[:500])]
    if attempts >= MAX_ATTEMPTS:
        actions.append(BroadcastItem.status.set(store.FAILED))
    try:
        BroadcastItem(image.pk, image.sk).update(
            actions=actions,
            condition=(BroadcastItem.seq == int(image.seq)) & (BroadcastItem.attempts == int(image.attempts or 0)))
    except UpdateError as update_exc:
        if update_exc.cause_response_code != "ConditionalCheckFailedException":
            raise
