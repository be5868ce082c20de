"""Mark-all-read and broadcast status: work that may outlive a request."""
from __future__ import annotations

import time
from dataclasses import dataclass

from chalicelib import ids
from chalicelib.domain.errors import NotFound
from chalicelib.domain.model import BroadcastStatus, ChunkProgress
from chalicelib.domain.principal import Caller
from chalicelib.domain.read_state import mark_read_up_to
from chalicelib.settings import get_settings
from chalicelib.store import broadcasts as store
from chalicelib.store import counters
from chalicelib.store.inbox import inbox_key


@dataclass
class ReadAllResult:
    marked: int
    job_id: str | None  # set when the rest continues in the background


def mark_all_read(caller: Caller, user_id: str, before_ms: int | None) -> ReadAllResult:
    """Inline when the inbox has few unread items; otherwise a job the stream works through,
    so the request never takes time proportional to the inbox."""
    user = caller.resolve_user(user_id)
    now = int(time.time() * 1000)
    bound = ids.ulid_bound(min(before_ms, now) if before_ms is not None else now, upper=True)
    limit = get_settings().inline_read_all_limit
    if counters.read(inbox_key(caller.tenant, user)).unread <= limit:
        marked, done = mark_read_up_to(caller.tenant, user, bound, limit)
        if done:
            return ReadAllResult(marked=marked, job_id=None)
    sk = ids.new_ulid()
    owner = store.put_readall_job(caller.tenant, user, sk, bound=bound, sender=caller.principal, now_ms=now)
    return ReadAllResult(marked=0, job_id=ids.broadcast_id(owner, sk))


def broadcast_status(caller: Caller, broadcast_id: str) -> BroadcastStatus:
    parsed = ids.parse_broadcast_id(broadcast_id)
    missing = NotFound("broadcast_not_found", "no broadcast with that id", "id")
    if parsed is None:
        raise missing
    owner, sk = parsed
    item = store.get_job(caller.tenant, owner, sk)
    if item is None:
        raise missing
    if not caller.is_server and (item.spec or {}).get("sender") != caller.principal:
        raise missing
    kind, owner_id = store.split_job_owner(owner)
    audience = {"organization": owner_id} if kind == "org" else (
        {"community": owner_id} if kind == "com" else {"user": owner_id})
    broadcast = isinstance(item, store.BroadcastJob)
    # Writers count into the progress item; jobs cut before that counted on the job item itself.
    progress = store.progress(item.pk, item.sk) if broadcast else None

    def count(name: str) -> int:
        return int(getattr(item, name) or 0) + (int(getattr(progress, name) or 0) if progress else 0)

    total = int(progress.chunks_total) if progress is not None and progress.chunks_total is not None else None
    status = item.status or store.QUEUED
    return BroadcastStatus(
        id=broadcast_id, status=store.RUNNING if status == store.DELIVERING else status, audience=audience,
        eligible=count("eligible"), delivered=count("delivered"), skipped=count("skipped"),
        created_at=int(item.created or 0), updated_at=int(item.updated) if item.updated else None,
        completed_at=int(item.completed) if item.completed else None, error=item.error,
        chunks=ChunkProgress(total=total, enqueued=int(item.chunks_enqueued or 0),
                             done=int(progress.chunks_done or 0) if progress else 0,
                             failed=int(progress.chunks_failed or 0) if progress else 0)
        if isinstance(item, store.BroadcastJob) else None,
    )
