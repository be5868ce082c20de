"""`notifications dev`: everything the service needs, on this machine, in one process tree.

An embedded DynamoDB (moto's server, made exact under concurrent requests by
`chalicelib.local.moto_engine`) unless DYNAMODB_ENDPOINT names another engine or
DYNAMODB=local asks for Amazon's DynamoDB Local (in memory, or on a data file in
DYNAMODB_DATA_DIR so the data survives a restart: `make dev-persistent`), the tables,
a stream poller feeding the same fan-out handler Lambda runs, and the API under
`chalice local`. Ctrl-C (or SIGTERM) stops all of it.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("notifications.dev")

# chalice local's server is an http.server.HTTPServer, whose listen backlog is 5: a burst of
# concurrent connects beyond that is refused or reset. This many wait to be accepted instead.
LISTEN_BACKLOG = 64

PROJECT_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fake_credentials() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])


def start_embedded_dynamodb() -> tuple[Any, str]:
    from moto.server import ThreadedMotoServer

    from chalicelib.local import moto_engine

    moto_engine.install()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def start_dynamodb_local() -> tuple[Any, str]:
    from chalicelib.local.dynamodb_local import DynamoDBLocal

    data_dir = os.environ.get("DYNAMODB_DATA_DIR") or None
    port = int(os.environ["DYNAMODB_PORT"]) if os.environ.get("DYNAMODB_PORT") else None
    engine = DynamoDBLocal(port=port, db_path=data_dir, own_session=False).start()
    import atexit

    atexit.register(engine.stop)
    return engine, engine.endpoint


def start_poller(on_failure=None):
    from chalicelib.local.poller import StreamPoller
    from chalicelib.settings import get_settings
    from chalicelib.store.base import describe_model
    from chalicelib.store.broadcasts import BroadcastItem
    from chalicelib.streams import handle_broadcast_stream

    settings = get_settings()
    assert describe_model(BroadcastItem)["stream_view_type"]
    handler = handle_broadcast_stream
    if os.environ.get("NOTIFICATIONS_FAULTS"):  # test-only fault injection (tests/integration)
        from chalicelib.local import faults

        handler = faults.install(os.environ["NOTIFICATIONS_FAULTS"], handler)
    return StreamPoller(settings.table_name("broadcasts"), handler,
                        endpoint=settings.dynamodb_endpoint, region=settings.region,
                        on_failure=on_failure).start()


def create_api_server(host: str, port: int, stage: str = "dev"):
    """chalice local's server for the app on host:port, with a listen backlog of LISTEN_BACKLOG.

    Does what chalice 1.34.0's `chalice.local.create_local_server` does, but passes
    `LocalDevServer` a server class with a larger `request_queue_size`."""
    from chalice.cli import factory
    from chalice.local import CustomLocalChalice, LocalChalice, LocalDevServer, ThreadedHTTPServer

    class DevHTTPServer(ThreadedHTTPServer):
        request_queue_size = LISTEN_BACKLOG

    cli_factory = factory.CLIFactory(project_dir=str(PROJECT_DIR))
    config = cli_factory.create_config_obj(chalice_stage_name=stage)
    app_obj = config.chalice_app
    CustomLocalChalice.__bases__ = (LocalChalice, app_obj.__class__)
    app_obj.__class__ = CustomLocalChalice
    return LocalDevServer(app_obj, config, host, port, server_cls=DevHTTPServer)


def run(host: str = "127.0.0.1", port: int | None = None, stage: str = "dev") -> int:
    from chalicelib.logs import configure_logging

    configure_logging()
    _fake_credentials()
    port = port or int(os.environ.get("PORT", "8000"))
    os.environ.setdefault("TABLE_PREFIX", f"notifications-{stage}")
    embedded = None
    choice = os.environ.get("DYNAMODB", "moto").lower()
    if choice not in ("moto", "local"):
        print(f"DYNAMODB must be moto or local, not {choice!r}", file=sys.stderr)
        return 2
    if not os.environ.get("DYNAMODB_ENDPOINT") and choice == "local":
        embedded, endpoint = start_dynamodb_local()
        os.environ["DYNAMODB_ENDPOINT"] = endpoint
        os.environ.setdefault("DYNAMODB_TRANSACTION_LIMIT", "10")
        data_dir = os.environ.get("DYNAMODB_DATA_DIR")
        engine = f"DynamoDB Local at {endpoint} " + (f"(data in {data_dir})" if data_dir else "(in memory)")
    elif not os.environ.get("DYNAMODB_ENDPOINT"):
        embedded, endpoint = start_embedded_dynamodb()
        os.environ["DYNAMODB_ENDPOINT"] = endpoint
        engine = f"embedded DynamoDB (moto) at {endpoint}"
    else:
        engine = f"DynamoDB at {os.environ['DYNAMODB_ENDPOINT']}"
    sys.path.insert(0, str(PROJECT_DIR))
    from chalicelib.store.bootstrap import ensure_tables

    created = ensure_tables()
    poller = start_poller()
    server = create_api_server(host, port, stage)
    stopping = threading.Event()

    def stop(*_: Any) -> None:
        if stopping.is_set():
            return
        stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    from chalicelib.auth.tokens import issue
    from chalicelib.settings import DEV_TENANT

    base = f"http://{host}:{port}"
    server_token = issue(DEV_TENANT, ttl_seconds=7 * 86400)
    user_token = issue(DEV_TENANT, user="alice", ttl_seconds=7 * 86400)
    print(f"""
Notifications service ready at {base}
  storage: {engine} (tables created: {len(created)}); stream fan-out poller running
  OpenAPI: {base}/openapi.json

Send a notification (dev tenant server token):
  curl -s -X POST {base}/v1/notifications \\
    -H 'Authorization: Bearer {server_token}' \\
    -H 'Content-Type: application/json' \\
    -d '{{"recipients": ["alice"], "type": "Welcome", "message": "Hello **alice**", "priority": "high"}}'

Read alice's inbox (user token):
  curl -s {base}/v1/users/me/notifications -H 'Authorization: Bearer {user_token}'

More tokens: notifications token --tenant dev [--user U] [--role R]... [--server]
Press Ctrl-C to stop.
""", flush=True)
    try:
        server.serve_forever()
    finally:
        poller.stop()
        if embedded is not None:
            embedded.stop()
        print("Stopped.", flush=True)
    return 0
