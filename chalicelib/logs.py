"""Logging shared by Lambda and the local runtime: library logs at LOG_LEVEL, and the operator's
lines, one structured JSON object per API request and per stream or queue batch.

The structured lines go through AWS Lambda Powertools' Logger (one JSON object a line on stdout,
which CloudWatch Logs Insights queries by field). They carry what an operator filters on (tenant,
route, status, latency, request id, caller kind; records, outcome, broadcast ids) and never a token,
a header or a message body: callers pass those fields and nothing else.
"""
from __future__ import annotations

import logging
import sys
import threading
from typing import IO, Any, Iterable

from aws_lambda_powertools import Logger

from chalicelib.settings import SERVICE_NAME, SettingsError, get_settings

_NOISY = ("botocore", "boto3", "urllib3", "pynamodb", "werkzeug")


def _level() -> str:
    """LOG_LEVEL; INFO while another setting is unusable (importing app.py must not fail on it: `chalice
    package` imports it with the stack's unresolved values, and on Lambda the first request that needs the
    settings answers with the SettingsError naming the variable, logged at ERROR)."""
    try:
        return get_settings().log_level
    except SettingsError:
        return "INFO"


def configure_logging() -> None:
    """The root logger at LOG_LEVEL (a plain text handler unless the host, e.g. Lambda, installed one)."""
    level = _level()
    logging.getLogger().setLevel(level)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    service_logger().setLevel(level)


# Where the service's own lines go: None is sys.stdout as it is when a line is written (the stream Lambda
# and `notifications dev` collect). In-process tests send them to a buffer of their own, apart from the
# test's stdout (e.g. the operator CLI's output, while the app runs in the same process).
_output: IO[str] | None = None


def redirect_output(stream: IO[str] | None) -> None:
    """Send the structured log lines and the metric lines to `stream` (None: stdout again)."""
    global _output
    _output = stream


def output() -> IO[str]:
    return _output or sys.stdout


def write_line(text: str) -> None:
    """One line of the service's own output (an EMF metric line), where the log lines go."""
    stream = output()
    stream.write(text + "\n")
    stream.flush()


class _Stdout(logging.StreamHandler):
    """A handler writing to `output()` as it is when a line is written."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return output()

    @stream.setter
    def stream(self, _value) -> None:
        pass


_logger: Logger | None = None
_lock = threading.Lock()


def service_logger() -> Logger:
    """The process's Powertools Logger (service SERVICE_NAME), created on first use."""
    global _logger
    if _logger is None:
        with _lock:
            if _logger is None:
                logger = Logger(service=SERVICE_NAME, level=_level(), logger_handler=_Stdout(),
                                utc=True, use_rfc3339=True)
                logger._logger.propagate = False  # one line, not a second plain copy from the root's handler
                _logger = logger
    return _logger


def log_request(*, method: str, route: str, status: int, latency_ms: float, request_id: str | None,
                tenant: str | None, caller: str) -> None:
    """One line per API request. `route` is the route's template (`/v1/notifications/{id}`), so no id,
    user name or query string lands in the logs; `caller` is `user`, `server`, `none` (a public route)
    or `refused` (no valid token)."""
    level = logging.ERROR if status >= 500 else logging.INFO
    service_logger().log(level, "request", extra={
        "kind": "request", "method": method, "route": route, "status": status,
        "latency_ms": round(latency_ms, 1), "request_id": request_id, "tenant": tenant, "caller": caller})


def log_batch(source: str, *, records: int, failed: int, outcome: str, latency_ms: float,
              broadcast_ids: Iterable[str] = (), request_id: str | None = None) -> None:
    """One line per stream or queue batch: how many records, how many failed, and the broadcasts it
    advanced (ids only). `source` is `broadcasts-stream`, `inbox-stream`, `push` (the inbox stream's push
    function) or `work-queue`."""
    ids = sorted(set(broadcast_ids))
    level = logging.WARNING if failed else logging.INFO
    extra: dict[str, Any] = {"kind": "batch", "source": source, "records": records, "failed": failed,
                             "outcome": outcome, "latency_ms": round(latency_ms, 1), "broadcast_ids": ids}
    if request_id:
        extra["request_id"] = request_id
    service_logger().log(level, "batch", extra=extra)
