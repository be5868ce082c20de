"""Realtime push over real sockets, under `notifications dev` on DynamoDB Local: the ticket endpoint's URL,
the local WebSocket server, the inbox stream poller and the push handler, end to end."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
import requests
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.integration.conftest import needs_local_process

PUSH_DEADLINE = 1.0  # the target: a change reaches the user's sockets within 1 s


@pytest.fixture(scope="module")
def svc(service):
    needs_local_process()
    return service


def ticket(svc, tenant: str = "dev", user: str | None = None, on_behalf: str | None = None) -> str:
    path = "/v1/realtime/tickets" + (f"?userId={on_behalf}" if on_behalf else "")
    r = svc.session(tenant, user).post(svc.url(path))
    assert r.status_code == 201, r.text
    assert r.json()["url"].startswith("ws://127.0.0.1:")
    return r.json()["url"]


async def next_message(ws, timeout: float = 5.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def silent(ws, seconds: float) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return True
    return False


def run(coro):
    """asyncio.run in a thread of its own: the browser tier's Playwright (sync API) keeps an event loop
    running in the main thread for the rest of the session."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_ticket_needs_a_token(svc):
    assert requests.post(svc.url("/v1/realtime/tickets")).status_code == 401


def test_a_send_is_pushed_within_a_second_and_mark_read_updates_the_count(svc):
    async def scenario():
        async with connect(ticket(svc, user="rt-ann")) as ws, connect(ticket(svc, user="rt-ann")) as second:
            server = svc.session()
            latencies = []
            ids = []
            for i in range(5):
                started = time.monotonic()
                r = await asyncio.to_thread(server.post, svc.url("/v1/notifications"), json={
                    "recipients": ["rt-ann"], "type": "T", "message": f"m{i}"})
                assert r.status_code == 201
                message = await next_message(ws)
                latencies.append(time.monotonic() - started)
                assert message["event"] == "notification.created" and message["unreadCount"] == i + 1
                assert message["notification"]["message"] == f"m{i}"
                ids.append(message["notification"]["id"])
                assert (await next_message(second))["notification"]["id"] == ids[-1]  # every open socket
            print(f"send -> socket latency: {', '.join(f'{x * 1000:.0f} ms' for x in latencies)}")
            assert sorted(latencies)[len(latencies) // 2] < PUSH_DEADLINE, latencies
            ann = svc.session(user="rt-ann")
            r = await asyncio.to_thread(ann.patch, svc.url(f"/v1/notifications/{ids[0]}"), json={"read": True})
            assert r.status_code == 200
            assert await next_message(ws) == {"event": "notification.updated", "id": ids[0], "read": True,
                                              "unreadCount": 4}
            await asyncio.to_thread(ann.post, svc.url("/v1/users/me/notifications/read"), json={"all": True})
            seen = [await next_message(ws) for _ in range(4)]
            assert seen[-1]["unreadCount"] == 0 and {m["event"] for m in seen} <= {"notification.updated", "inbox.reset"}
            await ws.send(json.dumps({"action": "ping"}))
            assert await next_message(ws) == {"event": "pong"}

    run(scenario())


def test_other_users_and_tenants_hear_nothing(svc):
    async def scenario():
        async with connect(ticket(svc, user="rt-bea")) as bea, connect(ticket(svc, user="rt-cal")) as cal, \
                connect(ticket(svc, tenant="acme", user="rt-bea")) as acme_bea, \
                connect(ticket(svc, on_behalf="rt-dan")) as dan:
            r = svc.session().post(svc.url("/v1/notifications"), json={"recipients": ["rt-bea"], "type": "T",
                                                                        "message": "for dev bea"})
            assert r.status_code == 201
            assert (await next_message(bea))["notification"]["message"] == "for dev bea"
            for other in (cal, acme_bea, dan):
                assert await silent(other, 1.5)
            svc.session().post(svc.url("/v1/notifications"), json={"recipients": ["rt-dan"], "type": "T",
                                                                   "message": "for dan"})
            assert (await next_message(dan))["notification"]["recipient"] == "rt-dan"  # the server's ticket
            assert await silent(bea, 1.0)

    run(scenario())


def test_a_used_or_made_up_ticket_is_refused(svc):
    async def scenario():
        url = ticket(svc, user="rt-eve")
        async with connect(url):
            pass
        for bad in (url, url.split("?")[0] + "/?ticket=made-up", url.split("?")[0] + "/"):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(bad):
                    pass
            assert refused.value.response.status_code == 401

    run(scenario())
