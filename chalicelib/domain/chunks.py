"""Writers: deliver one unit of work from the work queue, exactly once in effect.

A chunk message names a broadcast and a key range of its audience. The writer reads the
range consistently, applies the eligibility rules (members at send time, not banned, not
API users, settings that allow the type and priority), writes each notification with its
counter in one transaction (`delivery.write_copies`: conditional on a deterministic key, so a
redelivered message writes nothing twice), then marks the chunk done and adds its counts to
the broadcast's progress in one conditional transaction (so they count once). The writer
that completes the last chunk completes the broadcast.

A readall message marks a user's unread items read, a bounded number per message, and
enqueues its own continuation until none are left.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from chalicelib import ids
from chalicelib.domain import directory
from chalicelib.domain.delivery import write_copies
from chalicelib.domain.inbox import body
from chalicelib.domain.read_state import mark_read_up_to
from chalicelib.domain.model import Content
from chalicelib.domain.sending import build_item
from chalicelib.settings import get_settings
from chalicelib.store import broadcasts as store
from chalicelib.store import directory as directory_store
from chalicelib.store import work_queue
from chalicelib.store.broadcasts import BroadcastJob, ReadAllJob

log = logging.getLogger(__name__)

CHUNK, READALL = "chunk", "readall"
READALL_CHUNKS_PER_MESSAGE = 10  # chunks of FANOUT_CHUNK_SIZE marked per message before it hands on


@dataclass(frozen=True)
class Job:
    """What every chunk of a broadcast needs, carried in its messages (no read per chunk)."""

    tenant: str
    pk: str
    sk: str
    owner_kind: str
    owner_id: str
    snapshot: int
    ref: str


def job_of(image: BroadcastJob, tenant: str) -> Job:
    spec: dict[str, Any] = image.spec
    return Job(tenant=tenant, pk=image.pk, sk=image.sk, owner_kind=spec["owner_kind"], owner_id=spec["owner_id"],
               snapshot=int(spec.get("snapshot") or image.created or 0),
               ref=spec.get("ref") or store.body_ref(image.pk, image.sk))


def chunk_message(job: Job, index: int, after: str | None, upto: str | None) -> dict[str, Any]:
    return {"kind": CHUNK, "tenant": job.tenant, "pk": job.pk, "sk": job.sk, "ownerKind": job.owner_kind,
            "ownerId": job.owner_id, "snapshot": job.snapshot, "ref": job.ref, "chunk": index,
            "after": after, "upto": upto}


def readall_message(image: ReadAllJob, tenant: str) -> dict[str, Any]:
    spec: dict[str, Any] = image.spec
    return {"kind": READALL, "tenant": tenant, "pk": image.pk, "sk": image.sk, "user": spec["user"],
            "bound": spec["bound"]}


def process(message: dict[str, Any]) -> str:
    """Do one unit of work. Returns what happened (for logs and tests); raises to be retried."""
    kind = message.get("kind")
    if kind == CHUNK:
        return deliver_chunk(message)
    if kind == READALL:
        return mark_read_step(message)
    log.error("work message of unknown kind %r dropped", kind)
    return "ignored"


def deliver_chunk(message: dict[str, Any]) -> str:
    pk, sk, index = message["pk"], message["sk"], int(message["chunk"])
    if store.chunk_done(pk, sk, index):
        return "duplicate"
    content = Content.from_body(body(message["ref"]))
    plan = store.chunk_recipients(pk, sk, index) or store.put_chunk_recipients(
        pk, sk, index, _recipients(message, content), time.time())
    tenant = message["tenant"]
    if plan["users"]:
        bid = ids.broadcast_id(store.job_owner(message["ownerKind"], message["ownerId"]), sk)
        users = plan["users"]
        write_copies(build_item(tenant, users[0], sk, content, ref=message["ref"], broadcast=bid), tenant, users)
    counts = {"eligible": int(plan["eligible"]), "delivered": len(plan["users"]), "skipped": int(plan["skipped"])}
    recorded = store.record_chunk(pk, sk, index, counts, time.time())
    settle(pk, sk)
    return "delivered" if recorded else "duplicate"


def _recipients(message: dict[str, Any], content: Content) -> dict[str, Any]:
    """Who this chunk delivers to: members of its key range at send time, not banned, not API
    users, whose settings allow the type and priority."""
    tenant = message["tenant"]
    owner_pk = directory_store.owner_pk(tenant, message["ownerKind"], message["ownerId"])
    members = directory_store.members_between(owner_pk, message["after"], message["upto"])
    snapshot = int(message["snapshot"])
    users = [m.user for m in members
             if not m.is_api_user and not m.banned and int(m.joined_at or 0) <= snapshot]
    settings = directory.get_settings_many(tenant, users, consistent=False) if users else {}
    deliver = [u for u in users if settings[u].allows(content.type, content.priority)]
    return {"users": deliver, "eligible": len(users), "skipped": len(users) - len(deliver)}


def record_failure(message: dict[str, Any], error: str) -> None:
    """The message's last receive failed: count its chunk as failed, so the broadcast can finish
    (as failed) instead of waiting for it; a redrive that delivers it takes the count back."""
    if message.get("kind") != CHUNK:
        return
    if store.record_chunk_failure(message["pk"], message["sk"], int(message["chunk"]), error, time.time()):
        settle(message["pk"], message["sk"])


def settle(pk: str, sk: str) -> None:
    """Finish the broadcast once every chunk is either done or failed. Called by each writer
    after its chunk and by the coordinator after the last step; writers racing here finish it once."""
    progress = store.progress(pk, sk)
    if progress is None or progress.chunks_total is None:
        return  # still being cut: the coordinator's last step settles
    done, failed, total = int(progress.chunks_done or 0), int(progress.chunks_failed or 0), int(progress.chunks_total)
    if done + failed < total:
        return
    now = int(time.time() * 1000)
    if failed:
        store.finish(pk, sk, store.FAILED, now, error=f"{failed} of {total} chunks failed "
                                                      "(their messages are in the dead-letter queue)")
    else:
        store.finish(pk, sk, store.COMPLETE, now)


def mark_read_step(message: dict[str, Any]) -> str:
    pk, sk = message["pk"], message["sk"]
    limit = get_settings().fanout_chunk_size
    marked, done = 0, False
    for _ in range(READALL_CHUNKS_PER_MESSAGE):
        count, done = mark_read_up_to(message["tenant"], message["user"], message["bound"], limit)
        marked += count
        if done:
            break
    if not done:
        work_queue.send([message], group=message["tenant"])
    store.add_readall_progress(pk, sk, marked, done=done, now_ms=int(time.time() * 1000))
    return "complete" if done else "continued"
