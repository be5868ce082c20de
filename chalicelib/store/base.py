"""Shared PynamoDB plumbing: table names, endpoint and region resolved lazily, and how every
table module reads a failed write and retries.

PynamoDB reads `Meta` when it first connects and caches the connection; Chalice's
test client and the local runtime change the environment after import. So `Meta`
attributes are properties computed from settings, and a model drops its cached
connection whenever those values change.

Retries happen at one level per error. Every request goes through botocore's standard retry mode
(`RETRY_ATTEMPTS` retries with backoff, for throttling and transient errors of any single call). The one
failure botocore never retries is a cancelled TransactWriteItems: its reasons may be throttling or a
conflict with another transaction, and only `with_backoff` retries those (a cancellation for a failed
condition is an answer, not an error). So a throttled PutItem is retried by botocore alone, not by
botocore inside `with_backoff` (up to 8 x 8 attempts before). Single-item writes are therefore not
wrapped in `with_backoff`: only transactions are.

This module imports no table module: the list of tables is `store.tables`.
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
M = TypeVar("M", bound=Model)

RETRY_ATTEMPTS = 8  # botocore's retries of one request (standard mode), and with_backoff's of a transaction
CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"
# Cancellation reasons worth another attempt: the transaction lost a race or was throttled.
RETRYABLE_REASONS = {
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
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
        max_retry_attempts = RETRY_ATTEMPTS
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
        conn = Connection(region=s.region, host=s.dynamodb_endpoint, max_retry_attempts=RETRY_ATTEMPTS,
                          max_pool_connections=64)
        _connection_cache[key] = conn
    return conn


def get_or_none(model: type[M], hash_key: Any, range_key: Any = None, **kwargs: Any) -> M | None:
    """One consistent GetItem; None when the item does not exist."""
    try:
        return model.get(hash_key, range_key, consistent_read=True, **kwargs)
    except model.DoesNotExist:
        return None


def save_if_absent(item: Model) -> bool:
    """Put `item` unless an item with its key exists (a conditional PutItem); False when one did."""
    hash_key = type(item)._hash_key_attribute()
    try:
        item.save(condition=hash_key.does_not_exist())
    except Exception as exc:  # noqa: BLE001 - re-raised unless the condition is what failed
        if not condition_failed(exc):
            raise
        return False
    return True


# ---- reading a failed write: one way everywhere ---------------------------------------------------

def error_code(exc: BaseException) -> str | None:
    """DynamoDB's error code of a PynamoDB or botocore exception (None for anything else)."""
    if isinstance(exc, PynamoDBException):
        return exc.cause_response_code
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


def cancellation_reasons(exc: BaseException) -> list[str | None]:
    """The reason code of each action of a cancelled TransactWriteItems, in action order ("None" for
    an action that was fine); empty for every other error."""
    if error_code(exc) != TRANSACTION_CANCELED:
        return []
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return [r.code if r is not None else None for r in reasons]


def transaction_cancelled(exc: BaseException) -> bool:
    """True when a TransactWriteItems was cancelled (for any reason: `cancellation_reasons` says which)."""
    return error_code(exc) == TRANSACTION_CANCELED


def condition_failed(exc: BaseException) -> bool:
    """True when a single conditional write (PutItem, UpdateItem, DeleteItem) was refused because
    its condition did not hold."""
    return error_code(exc) == CONDITION_FAILED


def is_retryable_cancellation(exc: BaseException) -> bool:
    """A transaction cancelled only because it was throttled or lost a race: worth another try.
    botocore retries throttling of single calls itself; this is what it does not retry."""
    codes = {c for c in cancellation_reasons(exc) if c not in (None, "None")}
    return bool(codes) and codes <= RETRYABLE_REASONS


def failed_conditions(exc: BaseException) -> set[int]:
    """Positions of the actions whose condition failed, when a TransactWriteItems was cancelled
    for conditions; empty for throttling, conflicts and every other error."""
    if is_retryable_cancellation(exc):
        return set()
    return {i for i, code in enumerate(cancellation_reasons(exc)) if code == "ConditionalCheckFailed"}


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


def with_backoff(call: Callable[[], T], *, attempts: int = RETRY_ATTEMPTS, base: float = 0.05,
                 cap: float = 2.0) -> T:
    """Run `call`, retrying a transaction cancelled for throttling or a conflict, with full-jitter
    exponential backoff. Every other error (a throttled single call included: botocore has retried
    it already) is raised at once."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - re-raised unless the transaction may be retried
            if not is_retryable_cancellation(exc) or attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0, min(cap, base * 2 ** attempt)))
    raise AssertionError("unreachable")
