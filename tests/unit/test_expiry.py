"""TTL deletions reach the counters exactly once; user deletes and other records change nothing."""
from __future__ import annotations

from chalicelib.store.counters import Counter
from chalicelib.store.inbox import InboxItem
from chalicelib.streams import handle_inbox_stream, is_ttl_expiry


def ttl_remove(item: InboxItem, seq: str = "1", by_ttl: bool = True) -> dict:
    record = {"eventName": "REMOVE", "dynamodb": {"SequenceNumber": seq,
                                                  "OldImage": item.serialize()}}
    if by_ttl:
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return record


def counter(user: str) -> tuple[int, int]:
    c = Counter.get(f"dev#{user}")
    return int(c.unread), int(c.total)


def test_ttl_expiry_settles_counters_once(server, as_user):
    server.post("/v1/notifications", {"recipients": ["ann"], "type": "T", "message": "one"})
    server.post("/v1/notifications", {"recipients": ["ann"], "type": "T", "message": "two"})
    ann = as_user("ann")
    first, second = ann.get("/v1/users/me/notifications").data["notifications"]
    ann.patch(f"/v1/notifications/{second['id']}", {"read": True})
    assert counter("ann") == (1, 2)
    items = {i.sk: i for i in InboxItem.query("dev#ann") if i.act}
    unread_item = next(i for i in items.values() if i.unr)
    read_item = next(i for i in items.values() if not i.unr)
    for item in (unread_item, read_item):
        item.delete()  # what TTL does, then its stream record:
    event = {"Records": [ttl_remove(unread_item, "1"), ttl_remove(read_item, "2")]}
    assert handle_inbox_stream(event) == {"batchItemFailures": []}
    assert counter("ann") == (0, 0)
    assert handle_inbox_stream(event) == {"batchItemFailures": []}  # redelivered: no change
    assert counter("ann") == (0, 0)
    assert ann.get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 0}


def test_user_deletes_and_pointers_are_not_ttl_expiries(server):
    server.post("/v1/notifications", {"recipients": ["bo"], "type": "T", "message": "m", "groupKey": "g"})
    items = list(InboxItem.query("dev#bo"))
    note = next(i for i in items if i.act)
    pointer = next(i for i in items if not i.act)
    assert not is_ttl_expiry(ttl_remove(note, by_ttl=False))
    assert not is_ttl_expiry(ttl_remove(pointer))
    assert is_ttl_expiry(ttl_remove(note))
    handle_inbox_stream({"Records": [ttl_remove(note, by_ttl=False), ttl_remove(pointer)]})
    assert counter("bo") == (1, 1)
