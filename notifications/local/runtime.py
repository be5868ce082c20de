"""`notifications dev`: everything the service needs, on this machine, in one process tree.

An embedded DynamoDB (moto's server, made exact under concurrent requests by
`notifications.local.moto_engine`) unless DYNAMODB_ENDPOINT names another engine or
DYNAMODB=local asks for Amazon's DynamoDB Local (in memory, or on a data file in
DYNAMODB_DATA_DIR so the data survives a restart: `make dev-persistent`), the tables,
a stream poller feeding the same fan-out handler Lambda runs, and the API under
`chalice local`. Ctrl-C (or SIGTERM) stops all of it.

Start-up mistakes (an unusable setting, a taken port, an unreachable DYNAMODB_ENDPOINT)
raise `StartupError` or `SettingsError` before anything is left running; the CLI prints
their one-line message.
"""
from __future__ import annotations

import errno
import logging
import os
import re
import signal
import socket
import socketserver
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from chalicelib.settings import SettingsError, env_int, get_settings, reset_settings
from notifications.local.ports import free_port

log = logging.getLogger("notifications.dev")

# chalice local's server is an http.server.HTTPServer, whose listen backlog is 5: a burst of
# concurrent connects beyond that is refused or reset. This many wait to be accepted instead.
LISTEN_BACKLOG = 64


# What `make dev` lets call the API from a browser unless CORS_ALLOWED_ORIGINS says otherwise: any local port.
DEV_CORS_ORIGINS = "http://localhost:*,http://127.0.0.1:*"


class StartupError(RuntimeError):
    """`notifications dev` cannot start; the message says why in one line."""


PROJECT_DIR = Path(__file__).resolve().parents[2]


def _fake_credentials() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])


def start_embedded_dynamodb() -> tuple[Any, str]:
    """moto's server with the shim, in a child process (notifications/local/moto_process.py says why)."""
    from notifications.local import moto_process

    try:
        engine = moto_process.start()
    except RuntimeError as exc:
        raise StartupError(f"the embedded DynamoDB (moto) cannot start: {exc}") from None
    import atexit

    atexit.register(engine.stop)
    return engine, engine.endpoint


def start_moto_in_process() -> tuple[Any, str]:
    """moto's server with the shim in this process (for measuring what the child process buys)."""
    from moto.server import ThreadedMotoServer

    from notifications.local import moto_engine

    try:
        moto_engine.install()
    except moto_engine.MotoEngineMismatch as exc:
        raise StartupError(str(exc)) from None
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def start_dynamodb_local() -> tuple[Any, str]:
    from notifications.local.dynamodb_local import DynamoDBLocal, DynamoDBLocalUnavailable

    data_dir = os.environ.get("DYNAMODB_DATA_DIR") or None
    port = env_int("DYNAMODB_PORT", 0, minimum=1, maximum=65535) or None
    try:
        engine = DynamoDBLocal(port=port, db_path=data_dir, own_session=False).start()
    except DynamoDBLocalUnavailable as exc:
        raise StartupError(f"DYNAMODB=local: DynamoDB Local cannot start: {exc}") from None
    import atexit

    atexit.register(engine.stop)
    return engine, engine.endpoint


def start_poller(on_failure=None):
    """The broadcasts stream -> the coordinator (what the `fanout` function's mapping does)."""
    from notifications.local.poller import StreamPoller
    from chalicelib.settings import get_settings
    from chalicelib.store.tables import describe_model
    from chalicelib.store.broadcasts import BroadcastItem
    from chalicelib.streams import handle_broadcast_stream

    settings = get_settings()
    assert describe_model(BroadcastItem)["stream_view_type"]
    handler = handle_broadcast_stream
    if os.environ.get("NOTIFICATIONS_FAULTS"):  # test-only fault injection (tests/integration)
        from notifications.local import faults

        handler = faults.install(os.environ["NOTIFICATIONS_FAULTS"], handler)
    return StreamPoller(settings.table_name("broadcasts"), handler,
                        endpoint=settings.dynamodb_endpoint, region=settings.region,
                        on_failure=on_failure).start()


def queue_worker_count() -> int:
    """QUEUE_WORKERS: how many writer threads draw from the work queue (`make dev`'s writer concurrency)."""
    return env_int("QUEUE_WORKERS", 4, minimum=1, maximum=64)


def start_queue_workers(workers: int | None = None):
    """The work queue -> the writers (what the `writer` function's SQS mapping does), QUEUE_WORKERS
    threads drawing fairly across tenants."""
    from notifications.local.queue_worker import QueueWorkers
    from chalicelib.queues import handle_work_queue
    from chalicelib.store import work_queue

    handler = handle_work_queue
    if os.environ.get("NOTIFICATIONS_FAULTS"):
        from notifications.local import faults

        handler = faults.install_writer(os.environ["NOTIFICATIONS_FAULTS"], handler)
    count = workers or queue_worker_count()
    return QueueWorkers(work_queue.queue_url(), handler, sqs=work_queue.client(), region=get_settings().region,
                        workers=count).start()


def start_embedded_sqs() -> tuple[Any, str]:
    """moto's server for SQS alone (when DynamoDB is another engine)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def create_api_server(host: str, port: int, stage: str = "dev"):
    """chalice local's server for the app on host:port, with a listen backlog of LISTEN_BACKLOG.

    Does what chalice 1.34.0's `chalice.local.create_local_server` does, but passes
    `LocalDevServer` a server class with a larger `request_queue_size`, which binds at once
    and listens only from `start_listening()` (or `serve_forever()`)."""
    from chalice.cli import factory
    from chalice.local import CustomLocalChalice, LocalChalice, LocalDevServer, ThreadedHTTPServer

    class DevHTTPServer(ThreadedHTTPServer):
        request_queue_size = LISTEN_BACKLOG

        listening = False

        def server_activate(self) -> None:
            """Bound at creation (a taken port fails there), listening from `start_listening()`:
            until the service is ready a client is refused at once rather than left waiting."""

        def start_listening(self) -> None:
            if not self.listening:
                socketserver.TCPServer.server_activate(self)
                self.listening = True

        def serve_forever(self, poll_interval: float = 0.5) -> None:
            self.start_listening()
            super().serve_forever(poll_interval)

    from notifications.local import routing

    routing.install()  # greedy {proxy+} catch-alls, as API Gateway matches them

    cli_factory = factory.CLIFactory(project_dir=str(PROJECT_DIR))
    config = cli_factory.create_config_obj(chalice_stage_name=stage)
    app_obj = config.chalice_app
    from notifications.local import demo

    demo.install(app_obj)  # GET /inbox: the bell's demo page, here and never deployed
    CustomLocalChalice.__bases__ = (LocalChalice, app_obj.__class__)
    app_obj.__class__ = CustomLocalChalice
    return LocalDevServer(app_obj, config, host, port, server_cls=DevHTTPServer)


@contextmanager
def _port_errors(host: str, port: int, port_name: str) -> Iterator[None]:
    """OSErrors of binding or listening on host:port as one-line StartupErrors."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, socket.gaierror):
            raise StartupError(f"--host {host!r} is not a usable address ({exc.strerror})") from None
        if exc.errno == errno.EADDRINUSE:
            hint = {"PORT": "set PORT to a free port", "WS_PORT": "set WS_PORT to a free port"}.get(
                port_name, "pass another --port")
            raise StartupError(f"{port_name} {port}: {host}:{port} is already in use (another `notifications dev`?); "
                               f"{hint}") from None
        if exc.errno == errno.EACCES:
            raise StartupError(f"{port_name} {port}: permission denied listening on {host}:{port} "
                               "(ports below 1024 need privileges)") from None
        raise StartupError(f"{port_name} {port}: cannot listen on {host}:{port} ({exc.strerror or exc})") from None


def check_endpoint(endpoint: str, region: str, timeout: float = 3.0) -> None:
    """One quick ListTables: a clear StartupError if DYNAMODB_ENDPOINT cannot be reached."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import (BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError,
                                     ReadTimeoutError)

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=region,
                          config=Config(connect_timeout=timeout, read_timeout=timeout,
                                        retries={"total_max_attempts": 2, "mode": "standard"}))
    try:
        client.list_tables(Limit=1)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        detail = f"{error.get('Code')}: {error.get('Message')}" if error.get("Message") else f"HTTP {status}"
        raise StartupError(f"DYNAMODB_ENDPOINT {endpoint} refused ListTables ({detail}); is it a DynamoDB "
                           "endpoint?") from None
    except ConnectTimeoutError:
        raise StartupError(f"DYNAMODB_ENDPOINT {endpoint} is not reachable: no connection within {timeout:g} s") from None
    except ReadTimeoutError:
        raise StartupError(f"DYNAMODB_ENDPOINT {endpoint} does not answer: no reply to ListTables within "
                           f"{timeout:g} s") from None
    except EndpointConnectionError as exc:
        match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc.kwargs.get("error", "")))
        reason = match.group(1).strip() if match else "could not connect"
        raise StartupError(f"DYNAMODB_ENDPOINT {endpoint} is not reachable: {reason}") from None
    except BotoCoreError as exc:
        raise StartupError(f"DYNAMODB_ENDPOINT {endpoint}: {exc}") from None


def check_settings(port: int | None) -> tuple[int, str]:
    """Every setting the runtime and the app read, checked before anything starts.
    Returns the API port and the name it came from (for messages)."""
    choice = os.environ.get("DYNAMODB", "moto")
    if choice.lower() not in ("moto", "local"):
        raise SettingsError("DYNAMODB", f"must be moto or local, not {choice!r}")
    if choice.lower() == "local":
        env_int("DYNAMODB_PORT", 0, minimum=1, maximum=65535)
    queue_worker_count()  # read once the engine runs: a mistake there would leave the poller talking to it
    reset_settings()
    get_settings()  # every variable the app reads (LOG_LEVEL included)
    from chalicelib.settings import get_realtime_settings
    from notifications.local.ws_server import ws_port

    get_realtime_settings()
    if port is not None:
        if not 1 <= port <= 65535:
            raise SettingsError("--port", f"must be between 1 and 65535, not {port}")
        ws_port(port)
        return port, "--port"
    port = env_int("PORT", 8000, minimum=1, maximum=65535)
    ws_port(port)
    return port, "PORT"


def _probe_ws_port(host: str, api_port: int) -> None:
    """A WS_PORT asked for and taken fails now, before any engine starts (the default falls back later)."""
    if not os.environ.get("WS_PORT"):
        return
    from notifications.local.ws_server import ws_port

    port = ws_port(api_port)
    with _port_errors(host, port, "WS_PORT"), socket.socket() as probe:
        probe.bind((host, port))


def start_realtime(host: str, api_port: int):
    """The WebSocket server (WS_PORT, default the API's port + 1, or a free port when that one is taken) and the
    inbox stream poller feeding the push handler; the ticket endpoint hands out this server's URL
    (REALTIME_WEBSOCKET_URL)."""
    from notifications.local.ws_server import RealtimeServer, start_push_poller, ws_port

    port = ws_port(api_port)
    try:
        with _port_errors(host, port, "WS_PORT"):
            server = RealtimeServer(host, port).start()
    except StartupError:
        if os.environ.get("WS_PORT"):
            raise  # a port asked for: its mistake is reported
        # the default (the API's port + 1) is taken: any free port will do, the tickets carry the URL
        with _port_errors(host, 0, "WS_PORT"):
            server = RealtimeServer(host, 0).start()
    os.environ["REALTIME_WEBSOCKET_URL"] = server.url
    reset_settings()  # the ticket endpoint hands out this server's URL
    return server, start_push_poller()


def run(host: str = "127.0.0.1", port: int | None = None, stage: str = "dev") -> int:
    from chalicelib.logs import configure_logging

    _fake_credentials()
    os.environ.setdefault("TABLE_PREFIX", f"notifications-{stage}")
    os.environ.setdefault("CORS_ALLOWED_ORIGINS", DEV_CORS_ORIGINS)
    os.environ.setdefault("METRICS", "off")  # EMF lines are for CloudWatch; the request lines stay
    port, port_name = check_settings(port)
    configure_logging()
    sys.path.insert(0, str(PROJECT_DIR))
    with _port_errors(host, port, port_name):  # bound now: a taken port fails before any engine starts
        server = create_api_server(host, port, stage)
    embedded = sqs_server = moto_endpoint = None
    try:
        _probe_ws_port(host, port)
        choice = os.environ.get("DYNAMODB", "moto").lower()
        if not os.environ.get("DYNAMODB_ENDPOINT") and choice == "local":
            embedded, endpoint = start_dynamodb_local()
            os.environ["DYNAMODB_ENDPOINT"] = endpoint
            os.environ.setdefault("DYNAMODB_TRANSACTION_LIMIT", "10")
            data_dir = os.environ.get("DYNAMODB_DATA_DIR")
            engine = f"DynamoDB Local at {endpoint} " + (f"(data in {data_dir})" if data_dir else "(in memory)")
        elif not os.environ.get("DYNAMODB_ENDPOINT"):
            embedded, endpoint = start_embedded_dynamodb()
            moto_endpoint = endpoint
            os.environ["DYNAMODB_ENDPOINT"] = endpoint
            engine = f"embedded DynamoDB (moto) at {endpoint}"
        else:
            engine = f"DynamoDB at {os.environ['DYNAMODB_ENDPOINT']}"
            check_endpoint(os.environ["DYNAMODB_ENDPOINT"], get_settings().region)
        if not os.environ.get("SQS_ENDPOINT"):
            if moto_endpoint:
                os.environ["SQS_ENDPOINT"] = moto_endpoint  # the embedded moto server serves SQS too
            else:
                sqs_server, sqs_endpoint = start_embedded_sqs()
                os.environ["SQS_ENDPOINT"] = sqs_endpoint
        reset_settings()  # the engines' endpoints are known now
    except BaseException:
        server.server.server_close()
        if embedded is not None:
            embedded.stop()
        if sqs_server is not None:
            sqs_server.stop()
        raise
    from chalicelib.store.bootstrap import ensure_tables
    from chalicelib.store.work_queue import ensure_queues

    created = ensure_tables()
    os.environ["WORK_QUEUE_URL"] = ensure_queues()  # what the stack gives the functions
    reset_settings()
    poller = start_poller()
    workers = start_queue_workers()
    realtime, push_poller = start_realtime(host, port)
    with _port_errors(host, port, port_name):
        server.server.start_listening()
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
    if DEV_TENANT in get_settings().tenant_keys:
        server_token = issue(DEV_TENANT, ttl_seconds=7 * 86400)
        user_token = issue(DEV_TENANT, user="alice", ttl_seconds=7 * 86400)
        examples = f"""Send a notification (dev tenant server token):
  curl -s -X POST {base}/v1/notifications \\
    -H 'Authorization: Bearer {server_token}' \\
    -H 'Content-Type: application/json' \\
    -d '{{"recipients": ["alice"], "type": "Welcome", "message": "Hello **alice**", "priority": "high"}}'

Read alice's inbox (user token):
  curl -s {base}/v1/users/me/notifications -H 'Authorization: Bearer {user_token}'
"""
    else:
        examples = f"(TENANT_KEYS has no key for the tenant {DEV_TENANT!r}: no example tokens)\n"
    origins = ", ".join(get_settings().cors_allowed_origins) or "no origin (CORS_ALLOWED_ORIGINS)"
    print(f"""
Notifications service ready at {base}
  storage: {engine} (tables created: {len(created)})
  fan-out: stream coordinator + {workers.workers} queue workers (SQS at {os.environ["SQS_ENDPOINT"]})
  realtime: WebSocket push at {realtime.url} (tickets: POST {base}/v1/realtime/tickets)
  OpenAPI: {base}/openapi.json
  The bell: {base}/inbox (a demo page; CORS allows {origins})

{examples}
More tokens: notifications token --tenant T [--user U] [--role R]... [--server]
Press Ctrl-C to stop.
""", flush=True)
    try:
        server.serve_forever()
    finally:
        poller.stop()
        workers.stop()
        push_poller.stop()
        realtime.stop()
        if embedded is not None:
            embedded.stop()
        if sqs_server is not None:
            sqs_server.stop()
        print("Stopped.", flush=True)
    return 0
