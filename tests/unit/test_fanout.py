"""Broadcast fan-out: eligibility, authorization, chunking, idempotency, fault injection."""
from __future__ import annotations

import random

import pytest

from chalicelib.domain import delivery
from chalicelib.store.counters import Counter
from chalicelib.store.inbox import InboxItem
from tests.streams_helper import StreamDriver


def add_members(server, kind: str, owner: str, users, role: str, **extra):
    noun = "organizations" if kind == "org" else "communities"
    for user in users:
        r = server.put(f"/v1/{noun}/{owner}/members/{user}", {"role": role, **extra})
        assert r.status_code in (200, 201), r.data


def inbox_state(tenant: str = "dev"):
    """user -> (items, unread items, counter) over the whole inbox table."""
    items: dict[str, list[InboxItem]] = {}
    for item in InboxItem.scan():
        if item.act is None:
            continue
        items.setdefault(item.pk.split("#", 1)[1], []).append(item)
    counters = {c.pk.split("#", 1)[1]: int(c.unread or 0) for c in Counter.scan()}
    return items, counters


def assert_exact(expected_users, bid_sk=None):
    items, counters = inbox_state()
    for user in expected_users:
        mine = items.get(user, [])
        assert len(mine) == 1, (user, len(mine))
        unread = sum(1 for i in mine if i.unr is not None)
        assert counters.get(user, 0) == unread, (user, counters.get(user), unread)
    for user, mine in items.items():
        assert counters.get(user, 0) == sum(1 for i in mine if i.unr is not None), user


def test_org_broadcast_reaches_every_non_api_member(server, monkeypatch):
    monkeypatch.setenv("FANOUT_CHUNK_SIZE", "7")
    monkeypatch.setenv("FANOUT_CHUNKS_PER_STEP", "2")
    users = [f"u{i:03d}" for i in range(40)]
    add_members(server, "org", "acme", users, "Standard User")
    server.put("/v1/users/robot", {"name": "Robot", "isApiUser": True})
    add_members(server, "org", "acme", ["robot"], "Standard User")
    r = server.post("/v1/notifications", {"organization": "acme", "type": "News", "message": "hello"})
    assert r.status_code == 202 and r.data["status"] == "queued"
    bid = r.data["broadcastId"]
    assert server.get(f"/v1/broadcasts/{bid}").data["status"] == "queued"
    driver = StreamDriver()
    driver.drain()
    status = server.get(f"/v1/broadcasts/{bid}").data
    assert status["status"] == "complete"
    assert (status["eligible"], status["delivered"], status["skipped"]) == (40, 40, 0)
    # 41 member keys (robot included) in chunks of 7: 6 chunks, cut 2 per coordinator step: 3 steps.
    assert status["chunks"] == {"total": 6, "enqueued": 6, "done": 6, "failed": 0}
    assert driver.writer_invocations == 6
    assert driver.invocations >= 3
    assert_exact(users)
    items, _ = inbox_state()
    assert "robot" not in items


def test_community_excludes_banned_and_api_users_and_honours_settings(server, as_user):
    add_members(server, "com", "c1", ["a", "b", "c"], "Subscriber")
    add_members(server, "com", "c1", ["banned"], "Subscriber", banned=True)
    as_user("c").put("/v1/users/me/settings", {"mutedTypes": ["digest"], "minPriority": "low"})
    r = server.post("/v1/notifications", {"community": "c1", "type": "Digest", "message": "weekly"})
    StreamDriver().drain()
    status = server.get(f"/v1/broadcasts/{r.data['broadcastId']}").data
    assert (status["eligible"], status["delivered"], status["skipped"]) == (3, 2, 1)
    items, _ = inbox_state()
    assert set(items) == {"a", "b"}


@pytest.mark.parametrize("kind,noun,role,allowed", [
    ("org", "organization", "Organization Administrator", True),
    ("org", "organization", "organization administrator", True),
    ("org", "organization", "Sharing User", False),
    ("org", "organization", "Standard User", False),
    ("org", "organization", "Read Only User", False),
    ("com", "community", "Commenter", True),
    ("com", "community", "contributor", True),
    ("com", "community", "Editor", True),
    ("com", "community", "DIRECTOR", True),
    ("com", "community", "Subscriber", False),
])
def test_audience_role_rules(server, as_user, kind, noun, role, allowed):
    add_members(server, kind, "own1", ["sender", "x"], role)
    r = as_user("sender").post("/v1/notifications", {noun: "own1", "type": "T", "message": "m"})
    if allowed:
        assert r.status_code == 202, r.data
    else:
        assert r.status_code == 403 and r.data["error"] == "forbidden", r.data
        from chalicelib.store.broadcasts import BroadcastItem

        assert list(BroadcastItem.scan()) == []  # nothing written


def test_banned_director_cannot_send_and_non_member_cannot(server, as_user):
    add_members(server, "com", "c2", ["boss"], "Director", banned=True)
    assert as_user("boss").post("/v1/notifications", {"community": "c2", "type": "T", "message": "m"}).status_code \
        == 403
    assert as_user("stranger").post("/v1/notifications",
                                    {"organization": "nope", "type": "T", "message": "m"}).status_code == 403


def test_same_chunk_twice_is_one_copy_and_keeps_read_state(server, as_user, monkeypatch):
    monkeypatch.setenv("FANOUT_CHUNK_SIZE", "5")
    monkeypatch.setenv("FANOUT_CHUNKS_PER_STEP", "1")
    users = [f"d{i}" for i in range(12)]
    add_members(server, "org", "dup", users, "Standard User")
    r = server.post("/v1/notifications", {"organization": "dup", "type": "T", "message": "once"})
    driver = StreamDriver()
    # Capture every coordinator record, deliver all, then deliver all again (and every work message
    # again) after a member read theirs.
    seen = []
    real = driver.handler

    def recording(event):
        seen.append(event)
        return real(event)

    driver.handler = recording
    driver.drain()
    d0 = as_user("d0")
    nid = d0.get("/v1/users/me/notifications").data["notifications"][0]["id"]
    d0.patch(f"/v1/notifications/{nid}", {"read": True})
    for event in seen:
        real(event)
    assert driver.drain_queue() == 3  # the retried steps enqueue the same chunks again (manifests)...
    for event in driver.work_events:
        driver.writer(event)
    assert_exact(users)  # ... and writers skip what was delivered
    assert d0.get(f"/v1/notifications/{nid}").data["read"] is True
    assert d0.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 0}
    status = server.get(f"/v1/broadcasts/{r.data['broadcastId']}").data
    assert status["chunks"] == {"total": 3, "enqueued": 3, "done": 3, "failed": 0}
    assert (status["eligible"], status["delivered"]) == (12, 12)


def test_members_removed_or_banned_before_their_chunk_do_not_receive(server, monkeypatch):
    monkeypatch.setenv("FANOUT_CHUNK_SIZE", "3")
    users = [f"r{i}" for i in range(9)]
    add_members(server, "com", "late", users, "Subscriber")
    server.post("/v1/notifications", {"community": "late", "type": "T", "message": "m"})
    server.delete("/v1/communities/late/members/r8")
    add_members(server, "com", "late", ["r7"], "Subscriber", banned=True)
    add_members(server, "com", "late", ["r9-joined-after"], "Subscriber")
    StreamDriver().drain()
    items, _ = inbox_state()
    assert set(items) == set(users) - {"r7", "r8"}


def throttled():
    """A transaction cancelled for throttling: what botocore leaves to `with_backoff`."""
    from notifications.local.faults import throttled_transaction

    return throttled_transaction(2)


def test_fault_injection_exceptions_duplicates_and_throttles(server, monkeypatch):
    """A broadcast while inbox commits fail at random points, writers die before their chunk
    marker, coordinator records and queue messages are delivered twice."""
    monkeypatch.setenv("FANOUT_CHUNK_SIZE", "50")
    monkeypatch.setenv("FANOUT_CHUNKS_PER_STEP", "3")
    monkeypatch.setenv("WORK_QUEUE_MAX_RECEIVES", "50")
    monkeypatch.setattr("chalicelib.domain.fanout.time.sleep", lambda s: None)
    monkeypatch.setattr("chalicelib.store.base.time.sleep", lambda s: None)
    rng = random.Random(7)
    users = [f"f{i:05d}" for i in range(600)]
    from chalicelib.domain import chunks
    from chalicelib.store.directory import MemberItem

    with MemberItem.batch_write() as batch:
        for user in users:
            batch.save(MemberItem("dev#org#big", f"m#{user}", member_key=f"dev#{user}", role="Standard User",
                                  banned=False, is_api_user=False, joined_at=0))
    faults = {"throttle": 0, "die_before": 0, "die_after": 0, "die_before_marker": 0}
    commit, record_chunk = delivery._commit, chunks.store.record_chunk

    def faulty_commit(items):
        roll = rng.random()
        if roll < 0.08:
            faults["throttle"] += 1
            raise throttled()
        if roll < 0.13:
            faults["die_before"] += 1
            raise RuntimeError("injected: died before commit")
        commit(items)
        if roll < 0.18:
            faults["die_after"] += 1
            raise RuntimeError("injected: died after commit")

    def faulty_record_chunk(*args, **kwargs):
        if rng.random() < 0.2:
            faults["die_before_marker"] += 1
            raise RuntimeError("injected: died after the inbox writes, before the chunk marker")
        return record_chunk(*args, **kwargs)

    monkeypatch.setattr(delivery, "_commit", faulty_commit)
    monkeypatch.setattr(chunks.store, "record_chunk", faulty_record_chunk)
    r = server.post("/v1/notifications", {"organization": "big", "type": "T", "message": "m"})
    driver = StreamDriver()
    driver.drain(batch_size=3, duplicate_every=3)
    monkeypatch.setattr(delivery, "_commit", commit)
    monkeypatch.setattr(chunks.store, "record_chunk", record_chunk)
    for event in driver.work_events[::2]:  # SQS delivers some messages again, late
        driver.writer(event)
    status = server.get(f"/v1/broadcasts/{r.data['broadcastId']}").data
    assert status["status"] == "complete", status
    assert status["delivered"] == len(users) and status["eligible"] == len(users)
    assert status["chunks"] == {"total": 12, "enqueued": 12, "done": 12, "failed": 0}
    assert all(faults.values()), faults
    assert_exact(users)


def test_broadcast_job_stays_small_whatever_the_message(server, as_user):
    """The body is stored once apart from the job item, which every fan-out step rewrites."""
    from chalicelib.store.broadcasts import BroadcastItem, BroadcastJob
    from chalicelib.store.attributes import stored_size

    add_members(server, "org", "big-msg", [f"m{i}" for i in range(7)], "Standard User")
    message = "x" * 60_000
    r = server.post("/v1/notifications", {"organization": "big-msg", "type": "T", "message": message})
    assert r.status_code == 202, r.data
    StreamDriver().drain()
    [job] = [b for b in BroadcastItem.scan() if isinstance(b, BroadcastJob)]
    assert job.status == "complete"
    assert stored_size(job.spec) < 1024 and "content" not in job.spec
    for i in range(7):
        [n] = as_user(f"m{i}").get("/v1/users/me/notifications").data["notifications"]
        assert n["message"] == message and n["broadcastId"] == r.data["broadcastId"]


def test_dead_lettered_chunk_fails_the_broadcast_until_a_redrive_delivers_it(server, monkeypatch):
    monkeypatch.setenv("FANOUT_CHUNK_SIZE", "4")
    monkeypatch.setenv("WORK_QUEUE_MAX_RECEIVES", "2")
    from chalicelib.domain import chunks
    from chalicelib.store import work_queue

    users = [f"p{i:02d}" for i in range(10)]  # chunks: p00-p03, p04-p07, p08-
    add_members(server, "org", "poison", users, "Standard User")
    process = chunks.process
    broken = {"on": True}

    def poisoned(message):
        if broken["on"] and message.get("chunk") == 1:
            raise RuntimeError("chunk 1 cannot be delivered")
        return process(message)

    monkeypatch.setattr(chunks, "process", poisoned)
    r = server.post("/v1/notifications", {"organization": "poison", "type": "T", "message": "m"})
    bid = r.data["broadcastId"]
    driver = StreamDriver()
    driver.drain()
    driver.drain_queue()  # the third receive: moto moves the message to the dead-letter queue
    status = server.get(f"/v1/broadcasts/{bid}").data
    assert status["status"] == "failed", status
    assert status["chunks"] == {"total": 3, "enqueued": 3, "done": 2, "failed": 1}
    assert "1 of 3 chunks failed" in status["error"]
    assert (status["eligible"], status["delivered"]) == (6, 6)
    items, _ = inbox_state()
    assert set(items) == set(users) - {"p04", "p05", "p06", "p07"}

    broken["on"] = False
    assert work_queue.redrive() == 1
    driver.drain()
    status = server.get(f"/v1/broadcasts/{bid}").data
    assert status["status"] == "complete" and status["error"] is None, status
    assert status["chunks"] == {"total": 3, "enqueued": 3, "done": 3, "failed": 0}
    assert (status["eligible"], status["delivered"]) == (10, 10)
    assert_exact(users)


def test_fair_lanes_serve_every_group_in_turn():
    from notifications.local.queue_worker import FairLanes

    lanes = FairLanes()
    for i in range(5):
        lanes.put("big", f"big{i}")
    lanes.put("small", "small0")
    lanes.put("other", "other0")
    taken = [lanes.take(timeout=0)[1] for _ in range(7)]
    assert taken[:3] == ["big0", "small0", "other0"]  # the small tenants' only messages come next
    assert taken[3:] == ["big1", "big2", "big3", "big4"]
    assert lanes.take(timeout=0) is None


def test_fair_lanes_keep_a_worker_for_other_tenants():
    from notifications.local.queue_worker import FairLanes

    lanes = FairLanes(per_group=2)
    for i in range(4):
        lanes.put("big", f"big{i}")
    assert [lanes.take(timeout=0) for _ in range(2)] == [("big", "big0"), ("big", "big1")]
    assert lanes.take(timeout=0) is None  # big is at its limit while two of its messages run
    lanes.put("small", "small0")
    assert lanes.take(timeout=0) == ("small", "small0")
    lanes.done("big")
    assert lanes.take(timeout=0) == ("big", "big2")
