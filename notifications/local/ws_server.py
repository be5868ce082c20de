"""The realtime WebSocket server of `notifications dev`: API Gateway's WebSocket API, on this machine.

`chalice local` serves HTTP only, so this serves the same protocol on its own port (WS_PORT, default the
API's port + 1), in a thread of the `notifications dev` process:

- the handshake is `$connect`: the `ticket` query parameter goes to the same handler the deployed
  `$connect` runs (chalicelib.api.realtime.connect); a refused ticket is a 401 on the upgrade, as API
  Gateway answers it;
- client messages are `$default` (`{"action": "ping"}` → pong), a close is `$disconnect`;
- pushes come from the local inbox stream poller calling the push handler Lambda runs; it posts through
  `LocalPoster`, installed as chalicelib.sockets' poster, which raises ConnectionGone for a socket that
  is not open here (API Gateway's GoneException);
- like API Gateway, a socket idle for REALTIME_IDLE_SECONDS (default 600) or open for
  REALTIME_MAX_LIFETIME_SECONDS (default 7200) is closed; the client reconnects with a new ticket.

Dev tooling only (never deployed): it lives outside chalicelib/.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from chalicelib import sockets
from chalicelib.api import realtime as realtime_api
from chalicelib.settings import env_int

log = logging.getLogger("notifications.ws")


@dataclass
class _Socket:
    connection: ServerConnection
    opened: float
    last_seen: float
    outbox: asyncio.Queue = field(default_factory=asyncio.Queue)
    ready: bool = False


def _connection_id() -> str:
    """An id shaped like API Gateway's (12 base64 characters, ending '=')."""
    return base64.b64encode(os.urandom(9)).decode()[:11] + "="


class LocalPoster:
    """chalicelib.sockets' poster under `notifications dev`: queues the text on the socket's own writer."""

    def __init__(self, server: "RealtimeServer") -> None:
        self.server = server

    def post(self, connection_id: str, data: bytes) -> None:
        sock = self.server.sockets.get(connection_id)
        loop = self.server.loop
        if sock is None or loop is None or loop.is_closed():
            raise sockets.ConnectionGone(connection_id)
        self.server.posted += 1
        loop.call_soon_threadsafe(sock.outbox.put_nowait, data.decode("utf-8"))


class RealtimeServer:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.sockets: dict[str, _Socket] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.posted = 0
        self.idle_seconds = env_int("REALTIME_IDLE_SECONDS", 600, minimum=1)
        self.max_lifetime = env_int("REALTIME_MAX_LIFETIME_SECONDS", 7200, minimum=1)
        # $connect / $disconnect touch DynamoDB: off the event loop
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ws-handlers")
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> "RealtimeServer":
        """Listen (raises the OSError of a taken port) and serve in a thread; installs the poster."""
        self._thread = threading.Thread(target=self._run, name="realtime-ws", daemon=True)
        self._thread.start()
        self._started.wait(30)
        if self._error is not None:
            raise self._error
        sockets.install(LocalPoster(self))
        return self

    def stop(self, timeout: float = 5.0) -> None:
        sockets.install(None)
        if self.loop is not None and self._stopping is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._stopping.set)
        if self._thread:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._started.set()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        async with serve(self._handle, self.host, self.port, process_request=self._connect,
                         compression=None, max_size=64 * 1024, backlog=1024, logger=log) as server:
            if not self.port:
                self.port = server.sockets[0].getsockname()[1]
            self._started.set()
            reaper = asyncio.create_task(self._reap())
            await self._stopping.wait()
            reaper.cancel()
            server.close()

    # -- $connect, $default, $disconnect --------------------------------------------------------------
    async def _connect(self, connection: ServerConnection, request: Any) -> Any:
        query = parse_qs(urlsplit(request.path).query)
        ticket = (query.get("ticket") or [None])[-1]
        cid = _connection_id()
        now = time.monotonic()
        # Known before the ticket is consumed, so a push racing the handshake is queued, not "gone".
        self.sockets[cid] = _Socket(connection, now, now)
        status = await self.loop.run_in_executor(self._pool, realtime_api.connect, cid, {"ticket": ticket})
        if status != 200:
            self.sockets.pop(cid, None)
            return connection.respond(HTTPStatus.UNAUTHORIZED, "the ticket is unknown, used or expired\n")
        connection.connection_id = cid  # type: ignore[attr-defined]
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        cid = getattr(connection, "connection_id", None)
        sock = self.sockets.get(cid) if cid else None
        if sock is None:
            return
        writer = asyncio.create_task(self._write(sock))
        try:
            async for text in connection:
                sock.last_seen = time.monotonic()
                reply = realtime_api.message(text if isinstance(text, str) else None)
                if reply is not None:
                    sock.outbox.put_nowait(realtime_api.encode(reply).decode("utf-8"))
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            self.sockets.pop(cid, None)
            await self.loop.run_in_executor(self._pool, realtime_api.disconnect, cid)

    async def _write(self, sock: _Socket) -> None:
        try:
            while True:
                text = await sock.outbox.get()
                sock.last_seen = time.monotonic()
                await sock.connection.send(text)
        except ConnectionClosed:
            pass

    async def _reap(self) -> None:
        """Close sockets idle or open too long, as API Gateway does."""
        while True:
            await asyncio.sleep(min(15, self.idle_seconds / 2))
            now = time.monotonic()
            for cid, sock in list(self.sockets.items()):
                if sock.connection.state is State.CLOSED and now - sock.opened > 60:  # handshake never finished
                    self.sockets.pop(cid, None)
                    await self.loop.run_in_executor(self._pool, realtime_api.disconnect, cid)
                elif now - sock.last_seen > self.idle_seconds or now - sock.opened > self.max_lifetime:
                    await sock.connection.close(1001, "going away")


def ws_port(api_port: int) -> int:
    """WS_PORT, default the API's port + 1."""
    return env_int("WS_PORT", api_port + 1 if api_port < 65535 else api_port - 1, minimum=1, maximum=65535)


def start_push_poller(on_failure=None):
    """The inbox stream -> the push handler (what the `push` function's mapping does). Records of one
    inbox stay in order (hashed to one of 4 lanes); a batch spans many inboxes, as on AWS. Up to 1,000
    records per read: a broadcast's copies then share the handler's batched reads."""
    from chalicelib.settings import get_settings
    from notifications.local.poller import StreamPoller

    settings = get_settings()
    return StreamPoller(settings.table_name("inbox"), realtime_api.handle_push_stream,
                        endpoint=settings.dynamodb_endpoint, region=settings.region, lanes=4, batch_size=1000,
                        idle_sleep=0.05, on_failure=on_failure).start()
