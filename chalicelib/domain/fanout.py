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

import logging
import random
import time
from typing import Any

from chalicelib.domain import chunks
from chalicelib.settings import get_settings
from chalicelib.store import broadcasts as store
from chalicelib.store import directory as directory_store
from chalicelib.store import work_queue
from chalicelib.store.broadcasts import BroadcastItem, BroadcastJob, JobItem, ReadAllJob

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


def process_image(image: BroadcastItem) -> str:
    """Do the step one record asks for. Returns what happened (for logs and tests)."""
    if not isinstance(image, JobItem) or image.status not in store.COORDINATING:
        return "ignored"
    try:
        if isinstance(image, BroadcastJob):
            return _broadcast_step(image)
        assert isinstance(image, ReadAllJob)
        return _readall_step(image)
    except Exception as exc:  # noqa: BLE001 - recorded, then retried through the stream
        log.exception("coordinator step failed for %s/%s seq %s", image.pk, image.sk, image.seq)
        _record_failure(image, exc)
        return "retrying"


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


def _broadcast_step(image: BroadcastJob) -> str:
    settings = get_settings()
    spec: dict[str, Any] = image.spec
    tenant = image.tenant
    manifest = store.manifest(image)
    if manifest is None:
        owner_pk = directory_store.owner_pk(tenant, spec["owner_kind"], spec["owner_id"])
        manifest = store.put_manifest(image, {
            "first": int(image.chunks_enqueued or 0),
            **cut(owner_pk, store.job_after(image), settings.fanout_chunk_size, settings.fanout_chunks_per_step),
        }, time.time())
    first, ranges = int(manifest["first"]), manifest["ranges"]
    job = chunks.job_of(image, tenant)
    work_queue.send([chunks.chunk_message(job, first + i, after, upto) for i, (after, upto) in enumerate(ranges)],
                    group=tenant)
    done = manifest["next"] is None
    if not store.advance_broadcast(image, chunks_enqueued=first + len(ranges), next_after=manifest["next"],
                                   now_ms=int(time.time() * 1000)):
        return "duplicate"
    if done:
        chunks.settle(image.pk, image.sk)
    return "advanced"


def _readall_step(image: ReadAllJob) -> str:
    """A large mark-all-read goes through the work queue too, so it waits its tenant's turn there
    rather than occupying the stream."""
    tenant = image.tenant
    work_queue.send([chunks.readall_message(image, tenant)], group=tenant)
    return "advanced" if store.hand_over_readall(image, int(time.time() * 1000)) else "duplicate"


def _record_failure(image: JobItem, exc: Exception) -> None:
    """Count the attempt on the item; the update's stream record is the retry. After
    MAX_ATTEMPTS the job is marked failed. If even this write fails the caller reports the
    record as a batch item failure and the event source retries it."""
    attempts = int(image.attempts or 0) + 1
    time.sleep(min(5.0, random.uniform(0, 0.1 * 2 ** attempts)))
    store.record_step_failure(image, f"{type(exc).__name__}: {exc}", int(time.time() * 1000),
                              give_up_after=MAX_ATTEMPTS)
