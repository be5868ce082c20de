"""`make dev`'s default engine (the embedded moto server with notifications.local.moto_engine) and
its HTTP server under concurrent clients, over real HTTP."""
from __future__ import annotations

import http.client
import random
import threading
import time
import uuid
from urllib.parse import urlsplit

import requests

from tests.integration.conftest import needs_local_process
from tests.threads import run_threads


def unread_listed(session: requests.Session, base: str, user: str) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params = {"status": "unread", "limit": 7}  # several pages
        if cursor:
            params["cursor"] = cursor
        r = session.get(f"{base}/v1/users/{user}/notifications", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        ids += [n["id"] for n in page["notifications"]]
        cursor = page.get("cursor")
        if not cursor:
            return ids


def test_concurrent_read_toggles_keep_the_unread_count_exact(moto_service):
    """8 clients mark overlapping notifications read and unread at once (one by one with PATCH,
    several at a time with POST .../read); the counter then equals the unread items listed."""
    base = moto_service.base
    user = f"toggler-{uuid.uuid4().hex[:8]}"
    server = moto_service.session()
    ids = []
    for n in range(20):
        r = server.post(base + "/v1/notifications", json={"recipients": [user], "type": "Toggle", "message": f"#{n}"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["notifications"][0]["id"])
    hot = ids[:8]  # every client works mostly on the same few

    def client(index: int) -> None:
        rng = random.Random(index)
        session = moto_service.session(user=user)
        for _ in range(20):
            if rng.random() < 0.25:
                r = session.post(f"{base}/v1/users/{user}/notifications/read",
                                 json={"ids": rng.sample(hot, 3) + rng.sample(ids, 2)})
            else:
                r = session.patch(f"{base}/v1/notifications/{rng.choice(hot + ids[:12])}",
                                  json={"read": rng.random() < 0.5})
            assert r.status_code in (200, 202, 204), (r.status_code, r.text)

    assert run_threads(8, client) == []
    me = moto_service.session(user=user)
    listed = unread_listed(me, base, user)
    assert len(listed) == len(set(listed))
    count = me.get(f"{base}/v1/users/{user}/notifications/unread-count").json()["unreadCount"]
    assert count == len(listed)
    # and every item agrees with the listing
    for nid in ids:
        item = me.get(f"{base}/v1/notifications/{nid}").json()
        assert item["read"] is (nid not in listed), nid


def test_32_concurrent_connections_are_all_served(moto_service):
    """chalice local's HTTPServer listens with a backlog of 5 by default; the runtime raises it to
    64 so a burst of fresh connections (no keep-alive reuse) is queued at once. (Where the backlog
    overflows, macOS resets connections; Linux drops the SYN and the client retries it a second
    later, so each connect is timed too.)"""
    needs_local_process()
    host, port = urlsplit(moto_service.base).hostname, urlsplit(moto_service.base).port
    user = f"burst-{uuid.uuid4().hex[:8]}"
    auth = {"Authorization": f"Bearer {moto_service.token(user=user)}"}
    errors: list[str] = []
    answers: list[int] = []
    connects: list[float] = []
    lock = threading.Lock()
    for _ in range(3):
        barrier = threading.Barrier(32)

        def client(index: int) -> None:
            barrier.wait(30)
            for path, headers in (("/health", {}), (f"/v1/users/{user}/notifications/unread-count", auth)):
                conn = http.client.HTTPConnection(host, port, timeout=60)  # its own connection each time
                try:
                    start = time.monotonic()
                    conn.connect()
                    connected = time.monotonic() - start
                    conn.request("GET", path, headers={"Connection": "close", **headers})
                    status = conn.getresponse().status
                    with lock:
                        connects.append(connected)
                        answers.append(status)
                except OSError as exc:
                    with lock:
                        errors.append(f"{path}: {exc!r}")
                finally:
                    conn.close()

        assert run_threads(32, client) == []
    assert errors == []
    assert answers == [200] * (3 * 32 * 2)
    assert max(connects) < 1.0, sorted(connects)[-5:]  # no SYN had to be sent again
