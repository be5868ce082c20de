"""Posting to open WebSockets: API Gateway's Management API on AWS, the local server under `notifications dev`.

The push handler only sees `poster().post(connection_id, data)`, which raises `ConnectionGone` for a
socket that no longer exists (API Gateway's GoneException, HTTP 410). The local runtime installs its own
poster (notifications/local/ws_server.py) with `install`; the tests install fakes the same way.
"""
from __future__ import annotations

import threading
from typing import Protocol

from chalicelib.settings import get_realtime_settings, get_settings


class ConnectionGone(Exception):
    """The socket is closed (API Gateway's GoneException): forget the connection."""


class Poster(Protocol):
    def post(self, connection_id: str, data: bytes) -> None:
        """Send one text message; raise ConnectionGone if the socket is gone."""


class ManagementApiPoster:
    """`PostToConnection` on the WebSocket API's management endpoint (needs execute-api:ManageConnections)."""

    def __init__(self, endpoint: str, region: str) -> None:
        import boto3
        from botocore.config import Config

        self.client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, region_name=region,
                                   config=Config(retries={"max_attempts": 4, "mode": "standard"},
                                                 max_pool_connections=64))

    def post(self, connection_id: str, data: bytes) -> None:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
        except self.client.exceptions.GoneException:
            raise ConnectionGone(connection_id) from None


_installed: Poster | None = None
_default: tuple[str, Poster] | None = None
_lock = threading.Lock()


def install(poster: Poster | None) -> None:
    """Use `poster` for every push in this process (None: back to the Management API)."""
    global _installed
    _installed = poster


def management_endpoint() -> str | None:
    """REALTIME_MANAGEMENT_ENDPOINT, else the https form of REALTIME_WEBSOCKET_URL (same API and stage)."""
    settings = get_realtime_settings()
    if settings.management_endpoint:
        return settings.management_endpoint
    if settings.websocket_url and settings.websocket_url.startswith("wss://"):
        return "https://" + settings.websocket_url[len("wss://"):]
    return None


def poster() -> Poster:
    """The poster of this process: an installed one, else the Management API client (made once)."""
    global _default
    if _installed is not None:
        return _installed
    endpoint = management_endpoint()
    if endpoint is None:
        raise RuntimeError("no WebSocket endpoint configured (REALTIME_WEBSOCKET_URL)")
    with _lock:
        if _default is None or _default[0] != endpoint:
            _default = (endpoint, ManagementApiPoster(endpoint, get_settings().region))
        return _default[1]
