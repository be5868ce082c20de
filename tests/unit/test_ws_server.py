"""The local WebSocket server (notifications/local/ws_server.py), in-process on moto: the handshake is
`$connect` (a refused ticket is a 401), pings are answered, the local poster delivers in order and says
"gone" for a socket that is not open, and idle sockets are closed as API Gateway closes them."""
from __future__ import annotations

import asyncio
import json

import pytest

from chalicelib.settings import reset_settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chalicelib import sockets
from chalicelib.store import connections
from notifications.local.ws_server import RealtimeServer
from tests.conftest import Api, auth


def run(coro):
    """asyncio.run in a thread of its own: the browser tier's Playwright (sync API) keeps an event loop
    running in the main thread for the rest of the session."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture
def ws_server(aws, monkeypatch):
    monkeypatch.setenv("REALTIME_IDLE_SECONDS", "2")
    reset_settings()
    server = RealtimeServer("127.0.0.1", 0).start()
    monkeypatch.setenv("REALTIME_WEBSOCKET_URL", server.url)
    reset_settings()
    yield server
    server.stop()


def ticket_url(client, user: str) -> str:
    r = Api(client, auth("dev", user)).post("/v1/realtime/tickets")
    assert r.status_code == 201
    return r.data["url"]


def test_handshake_ping_posts_and_gone(client, ws_server):
    url = ticket_url(client, "alice")
    assert url.startswith(ws_server.url + "/?ticket=dev.")

    async def scenario():
        async with connect(url) as ws:
            (cid,) = connections.connections_of([("dev", "alice")])[("dev", "alice")]
            poster = sockets.poster()
            for i in range(20):
                poster.post(cid, json.dumps({"n": i}).encode())
            assert [json.loads(await ws.recv())["n"] for _ in range(20)] == list(range(20))  # in order
            await ws.send('{"action": "ping"}')
            assert json.loads(await ws.recv()) == {"event": "pong"}
        await asyncio.sleep(0.3)
        with pytest.raises(sockets.ConnectionGone):
            poster.post(cid, b"{}")
        assert connections.connections_of([("dev", "alice")]) == {}  # $disconnect forgot it
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url):  # the ticket was used
                pass
        assert refused.value.response.status_code == 401

    run(scenario())


def test_idle_sockets_are_closed(client, ws_server):
    url = ticket_url(client, "bob")

    async def scenario():
        async with connect(url, ping_interval=None) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd.code == 1001

    run(scenario())
