"""A page read and an unread count on a 10,000-notification inbox vs a 10-notification inbox.

Printed: DynamoDB requests per API call, and the time ratio big/small measured interleaved in
one run (a ratio near 1.0 means the cost does not grow with the inbox).
"""
from __future__ import annotations

import sys
import time

from common import RequestCounter, client, headers, interleaved, median_ms, start_engine

SIZES = {"small": 10, "big": 10_000}


def seed(user: str, count: int) -> None:
    """Bulk-load an inbox (bench set-up, not the product's write path) and its counters."""
    from chalicelib import ids
    from chalicelib.domain.model import Content
    from chalicelib.domain.sending import build_item
    from chalicelib.store.counters import Counter
    from chalicelib.store.inbox import InboxItem

    content = Content(type="Bench", message="hello", metadata={"k": "v"})
    base = int(time.time() * 1000) - count
    with InboxItem.batch_write() as batch:
        for i in range(count):
            sk = ids.ulid_bound(base + i, upper=False)[:16] + ids.new_ulid()[16:]
            batch.save(build_item("dev", user, sk, content))
    Counter("dev#" + user, unread=count, total=count).save()


def main() -> int:
    stop, engine = start_engine()
    try:
        from chalicelib.store.bootstrap import ensure_tables

        ensure_tables()
        for name, size in SIZES.items():
            seed(f"bench-{name}", size)
        counter = RequestCounter()
        with client() as c:
            calls = {}
            for name in SIZES:
                h = headers(f"bench-{name}")
                calls[f"page {name}"] = (lambda h=h: c.http.get("/v1/users/me/notifications?limit=20", headers=h))
                calls[f"count {name}"] = (lambda h=h: c.http.get("/v1/users/me/notifications/unread-count",
                                                                 headers=h))
            requests = {}
            for label, fn in calls.items():
                before = counter.count
                response = fn()
                assert response.status_code == 200, response.body
                requests[label] = counter.count - before
            samples = interleaved(calls, repeat=int(sys.argv[1]) if len(sys.argv) > 1 else 30)
        print(f"engine: {engine}; inboxes of {SIZES['small']} and {SIZES['big']} notifications")
        print(f"{'call':<14}{'DynamoDB requests':>20}{'median ms':>12}")
        for label in calls:
            print(f"{label:<14}{requests[label]:>20}{median_ms(samples[label]):>12.1f}")
        for what in ("page", "count"):
            ratio = median_ms(samples[f"{what} big"]) / median_ms(samples[f"{what} small"])
            print(f"ratio {what} 10,000 / 10: {ratio:.2f}")
    finally:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
