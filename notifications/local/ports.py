"""Loopback ports for the local runtime, its engines and the tests and benchmarks that start them."""
from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback TCP port nobody listens on now (the OS picks it; free until someone binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
