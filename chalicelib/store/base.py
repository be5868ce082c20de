"""Shared PynamoDB plumbing: table names, endpoint and region resolved lazily.

PynamoDB reads `Meta` when it first connects and caches the connection; Chalice's
test client and the local runtime change the environment after import. So `Meta`
attributes are properties computed from settings, and a model drops its cached
connection whenever those values change.
"""
from __future__ import annotations

import random
import re
import time
from typing import Any, Callable, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model

from chalicelib.settings import get_settings

T = TypeVar("T")

THROTTLE_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ThrottlingError",
    "TransactionConflict",
    "TransactionInProgressException",
}


def lazy_meta(kind: str) -> type:
    """A `Meta` class whose table name, host and region follow the current settings."""

    class _LazyMetaType(type):
        @property
        def table_name(cls) -> str:
            return get_settings().table_name(kind)

        @property
        def host(cls) -> str | None:
            return get_settings().dynamodb_endpoint

        @property
        def region(cls) -> str:
            return get_settings().region

    class Meta(metaclass=_LazyMetaType):
        billing_mode = "PAY_PER_REQUEST"
        max_retry_attempts = 8
        max_pool_connections = 64  # a writer's FANOUT_PARALLELISM threads, several writers locally

    Meta.table_kind = kind  # type: ignore[attr-defined]
    return Meta


class BaseModel(Model):
    """Base for every table model: reconnects when the endpoint or table name changes."""

    _conn_fingerprint: tuple | None = None

    @classmethod
    def _get_connection(cls):  # type: ignore[override]
        # PynamoDB asks for the connection twice per item it saves, and its own check reads the
        # table name three times: one settings lookup instead (it showed in the fan-out's profile).
        settings = get_settings()
        fingerprint = (settings.table_name(cls.Meta.table_kind), settings.dynamodb_endpoint, settings.region)
        if cls._conn_fingerprint == fingerprint and cls._connection is not None:
            return cls._connection
        cls._connection = None
        cls._conn_fingerprint = fingerprint
        return super()._get_connection()


_connection_cache: dict[tuple, Connection] = {}


def connection() -> Connection:
    """A low-level connection (for transactions) to the configured endpoint."""
    s = get_settings()
    key = (s.region, s.dynamodb_endpoint)
    conn = _connection_cache.get(key)
    if conn is None:
        conn = Connection(region=s.region, host=s.dynamodb_endpoint, max_retry_attempts=8, max_pool_connections=64)
        _connection_cache[key] = conn
    return conn


def client():
    """The botocore client behind `connection()`, for calls PynamoDB does not wrap."""
    return connection().client


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, PynamoDBException):
        return exc.cause_response_code
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


def is_throttle(exc: BaseException) -> bool:
    code = error_code(exc)
    if code in THROTTLE_CODES:
        return True
    if code == "TransactionCanceledException":
        reasons = getattr(exc, "cancellation_reasons", None) or []
        codes = {r.code for r in reasons if r is not None}
        return bool(codes) and codes <= (THROTTLE_CODES | {"None"})
    return False


def failed_conditions(exc: BaseException) -> set[int]:
    """Positions of the actions whose condition failed, when a TransactWriteItems was cancelled
    for conditions; empty for throttling, conflicts and every other error."""
    if error_code(exc) != "TransactionCanceledException" or is_throttle(exc):
        return set()
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return {i for i, r in enumerate(reasons) if r is not None and r.code == "ConditionalCheckFailed"}


# Actions one TransactWriteItems may hold: 100 on DynamoDB and moto, fewer where configured
# (DYNAMODB_TRANSACTION_LIMIT) or where the engine refuses more. DynamoDB Local 1.11.478 answers a
# larger one with "ValidationException ... Member must have length less than or equal to 10"; the
# limit then drops to what it names for the rest of the process, whatever endpoint setting led there.
_TRANSACTION_REFUSAL = re.compile(r"Member must have length less than or equal to (\d+)")
_engine_transaction_limit: int | None = None


def transaction_limit() -> int:
    configured = get_settings().transaction_max_actions
    return min(configured, _engine_transaction_limit) if _engine_transaction_limit else configured


def adapt_transaction_limit(exc: BaseException) -> bool:
    """True when `exc` (from a TransactWriteItems) is the engine refusing it for its number of
    actions; later transactions are then cut to the size it allows."""
    global _engine_transaction_limit
    if error_code(exc) != "ValidationException":
        return False
    message = exc.cause_response_message if isinstance(exc, PynamoDBException) else str(exc)
    match = _TRANSACTION_REFUSAL.search(message or "")
    if not match:
        return False
    _engine_transaction_limit = max(2, int(match.group(1)))
    return True


def with_backoff(call: Callable[[], T], *, attempts: int = 8, base: float = 0.05, cap: float = 2.0) -> T:
    """Run `call`, retrying throttling errors with full-jitter exponential backoff."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - re-raised unless it is a throttle
            if not is_throttle(exc) or attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0, min(cap, base * 2 ** attempt)))
    raise AssertionError("unreachable")


def all_models() -> list[type[BaseModel]]:
    from chalicelib.store import broadcasts, connections, counters, directory, idempotency, inbox

    return [inbox.InboxItem, counters.Counter, directory.DirectoryItem, broadcasts.BroadcastItem,
            idempotency.IdempotencyRecord, connections.ConnectionItem]


def describe_model(model: type[BaseModel]) -> dict[str, Any]:
    """The table definition (keys, indexes, stream, TTL) a model declares: the one source
    the local bootstrap and the CDK stack both build from."""
    schema = model._get_schema()
    ttl = next((name for name, attr in model.get_attributes().items()
                if type(attr).__name__ == "TTLAttribute"), None)
    return {
        "kind": model.Meta.table_kind,
        "key_schema": schema["key_schema"],
        "attribute_definitions": schema["attribute_definitions"],
        "global_secondary_indexes": schema["global_secondary_indexes"],
        "local_secondary_indexes": schema["local_secondary_indexes"],
        "stream_view_type": getattr(model.Meta, "stream_view_type", None),
        "ttl_attribute": ttl,
    }
