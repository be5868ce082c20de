"""Background work driven by the broadcasts stream: one chunk per stream record.

A broadcast item carries a cursor into its owner's membership list and a `seq`.
Processing a record delivers one bounded chunk of members, then advances the item
with a conditional update on `seq`; that update is the next stream record, which
carries the next chunk. A duplicated or retried record re-delivers the same chunk
(no effect: inbox writes are conditional on a deterministic key) and loses the
`seq` race, so progress is counted once.
"""
from __future__ import annotations

import json
import logging
import random
import time
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib import ids
from chalicelib.domain import directory
from chalicelib.domain.delivery import write_new
from chalicelib.domain.inbox import body, mark_unread_before
from chalicelib.domain.model import Content
from chalicelib.domain.sending import build_item
from chalicelib.settings import get_settings
from chalicelib.store import directory as directory_store
from chalicelib.store.base import with_backoff
from chalicelib.store.broadcasts import KIND_BROADCAST, KIND_READALL, BroadcastItem

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
MAX_ATTEMPTS = 5


def process_image(image: BroadcastItem) -> str:
    """Do the work one record asks for. Returns what happened (for logs and tests)."""
    if image.kind not in (KIND_BROADCAST, KIND_READALL) or image.status not in ACTIVE:
        return "ignored"
    try:
        if image.kind == KIND_BROADCAST:
            return _broadcast_chunk(image)
        return _readall_chunk(image)
    except Exception as exc:  # noqa: BLE001 - recorded, then retried through the stream
        log.exception("chunk failed for %s/%s seq %s", image.pk, image.sk, image.seq)
        _record_failure(image, exc)
        return "retrying"


def _advance(image: BroadcastItem, actions: list, done: bool) -> bool:
    now = int(time.time() * 1000)
    actions = actions + [BroadcastItem.seq.set(int(image.seq) + 1), BroadcastItem.updated.set(now),
                         BroadcastItem.attempts.set(0), BroadcastItem.status.set("complete" if done else "running")]
    if done:
        actions.append(BroadcastItem.completed.set(now))
    try:
        with_backoff(lambda: BroadcastItem(image.pk, image.sk).update(
            actions=actions, condition=(BroadcastItem.seq == int(image.seq)) & BroadcastItem.status.is_in(*ACTIVE)))
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False  # a duplicate of a chunk already counted
        raise
    return True


def _record_failure(image: BroadcastItem, exc: Exception) -> None:
    """Count the attempt on the item; the update's stream record is the retry. After
    MAX_ATTEMPTS the broadcast is marked failed. If even this write fails the caller
    reports the record as a batch item failure and the event source retries it."""
    attempts = int(image.attempts or 0) + 1
    time.sleep(min(5.0, random.uniform(0, 0.1 * 2 ** attempts)))
    actions = [BroadcastItem.attempts.set(attempts), BroadcastItem.updated.set(int(time.time() * 1000)),
               BroadcastItem.error.set(f"{type(exc).__name__}: {exc}"[:500])]
    if attempts >= MAX_ATTEMPTS:
        actions.append(BroadcastItem.status.set("failed"))
    try:
        BroadcastItem(image.pk, image.sk).update(
            actions=actions,
            condition=(BroadcastItem.seq == int(image.seq)) & (BroadcastItem.attempts == int(image.attempts or 0)))
    except UpdateError as update_exc:
        if update_exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def _broadcast_chunk(image: BroadcastItem) -> str:
    spec: dict[str, Any] = image.spec
    tenant = image.pk.split("#", 1)[0]
    owner_pk = directory_store.owner_pk(tenant, spec["owner_kind"], spec["owner_id"])
    start = json.loads(image.cursor) if image.cursor else None
    members, last = directory_store.members_page(owner_pk, get_settings().fanout_chunk_size, start)
    # Broadcasts sent before bodies were stored apart carry theirs in the job item itself.
    ref = spec.get("ref") or f"{image.pk}|{image.sk}"
    content = Content.from_body(spec["content"] if "content" in spec else body(ref))
    snapshot = int(spec.get("snapshot") or image.created or 0)
    eligible = [m for m in members
                if not m.is_api and not m.banned and int(m.joined or 0) <= snapshot]
    users = [m.sk[len(directory_store.MEMBER_PREFIX):] for m in eligible]
    settings = directory.get_settings_many(tenant, users) if users else {}
    deliver = [u for u in users if settings[u].allows(content.type, content.priority)]
    owner = f"{spec['owner_kind']}#{spec['owner_id']}"
    bid = ids.broadcast_id(owner, image.sk)
    write_new(build_item(tenant, u, image.sk, content, ref=ref, broadcast=bid) for u in deliver)
    done = last is None
    actions = [BroadcastItem.eligible.add(len(users)), BroadcastItem.delivered.add(len(deliver)),
               BroadcastItem.skipped.add(len(users) - len(deliver))]
    actions.append(BroadcastItem.cursor.remove() if done else BroadcastItem.cursor.set(json.dumps(last)))
    return "advanced" if _advance(image, actions, done) else "duplicate"


def _readall_chunk(image: BroadcastItem) -> str:
    spec: dict[str, Any] = image.spec
    tenant = image.pk.split("#", 1)[0]
    marked, done = mark_unread_before(tenant, spec["user"], spec["bound"], get_settings().fanout_chunk_size)
    actions = [BroadcastItem.delivered.add(marked)]
    return "advanced" if _advance(image, actions, done) else "duplicate"
