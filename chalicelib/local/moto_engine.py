"""moto's DynamoDB made exact and bounded under concurrent clients, for `notifications dev`.

Dev tooling only: `chalicelib/local/runtime.py` installs it in the process that runs the
embedded moto server (and the tests import it); nothing Lambda runs imports it.

Written against moto 5.2.5, the version pinned in pyproject.toml. `install()` refuses any
other version, and refuses a moto whose patched (or relied-upon) functions' source differs
from the one read here: after bumping moto, re-read those functions, adapt this module, then
update `MOTO_VERSION` and `SOURCE_HASHES` (`python -m chalicelib.local.moto_engine` prints
the current hashes).

What it replaces, and why:

1. A lock. `ThreadedMotoServer` serves every request on its own thread, and moto's DynamoDB
   backend has no locking at all: a Put/Update/Delete checks its condition and then writes
   (moto/dynamodb/models/table.py `Table.put_item`, moto/dynamodb/models/__init__.py
   `DynamoDBBackend.update_item`, which mutates the stored item in place), reads iterate the
   table's dicts (`Table.all_items`, used by every Query and Scan) while writers insert, and
   `GetItem` on an absent key inserts into the table's defaultdict. One process-wide lock is
   held around each DynamoDB and DynamoDB Streams request, from parsing to the serialized
   response (moto/dynamodb/responses.py `DynamoHandler.call_action`,
   moto/dynamodbstreams/responses.py `DynamoDBStreamsHandler.call_action`), reads included: a
   read-only lock would not protect readers from writers, and moto is pure Python under one
   GIL, so shared readers would gain little.

2. moto/dynamodb/models/__init__.py `DynamoDBBackend.transact_write_items` deep-copies every
   table the transaction names (all items, and the table's stream shard with every record)
   before running, and on failure puts the copies back in place of the tables. Its cost grows
   with everything stored, and under concurrent requests the restore discards other requests'
   writes (and the copy itself fails with "dictionary changed size during iteration"). The
   replacement below runs the same per-action logic but journals only the items it writes
   (a deep copy of an item before an Update, which moto mutates in place; the stored object
   before a Put or Delete, which moto replaces) and the stream position of each table, and a
   rollback restores exactly those items and drops the stream records written since.

3. moto/dynamodb/models/table.py `StreamShard.add` keeps every stream record forever (the
   inbox table's stream, which nothing reads in dev, grew without bound) and `StreamShard.get`
   asserts on a position before the shard's start. A shard here keeps at most
   `max_stream_records` records and none older than 24 hours (DynamoDB Streams' retention):
   the oldest are dropped and the shard's starting sequence number advances, so sequence
   numbers stay stable, `TRIM_HORIZON` starts at the oldest record kept, and a reader behind
   the trim point gets `TrimmedDataAccessException`, as on AWS.

4. moto/dynamodbstreams/models.py `DynamoDBStreamsBackend` registers a new shard iterator on
   every GetShardIterator and GetRecords call (the poller's idle loop makes ten a second) and
   never forgets one. The newest `max_shard_iterators` are kept; an older one answers
   `ExpiredIteratorException`, as AWS does after 15 minutes (the poller takes a new one).
"""
from __future__ import annotations

import bisect
import copy
import datetime
import hashlib
import inspect
import threading
from contextlib import contextmanager
from importlib import metadata
from typing import Any, Callable, Iterator

MOTO_VERSION = "5.2.5"  # keep equal to the moto pin in pyproject.toml (a unit test checks)

# sha256 of the source of every moto function patched or relied upon, as of MOTO_VERSION.
SOURCE_HASHES = {
    "moto.dynamodb.models.DynamoDBBackend.transact_write_items":
        "81db2cb7d94e39c90b3a2077e1f4bb41a449c558ef9b1b1e2910fdaa39978ad4",
    "moto.dynamodb.models.DynamoDBBackend.update_item":
        "218984588dd689a5de81678ce11e6a40d05c91e7b6c21b44c4ed4122fe74aa9f",
    "moto.dynamodb.models.table.Table.put_item":
        "de23933013ef842639046c19bcf7e418bce0474d810f6719368be4cedce11d47",
    "moto.dynamodb.models.table.Table.delete_item":
        "1594f7b07616c8cb8cdf0fbf58d6f54eeac83f25d7ac7b14e832a08e10efd8f9",
    "moto.dynamodb.models.table.StreamShard.add":
        "357dc6da267e5dd7d46e18ee25d14b232a98679677906a2f02e4d454d1f11e03",
    "moto.dynamodb.models.table.StreamShard.get":
        "fa7e9a0d7b438c2fbd4bcc8a04fecc79f70862760d1f176d3bc86775967e2d7e",
    "moto.dynamodbstreams.models.ShardIterator.__init__":
        "5842e50a95242ef84673613918b71c4a2a9c149d4baa10904b0c84034c4c793e",
    "moto.dynamodbstreams.models.ShardIterator.get":
        "8932c0f7250e89963eef1e848bdd205a05c0f6ed94f526ed36ca9b7339442ace",
    "moto.dynamodbstreams.models.DynamoDBStreamsBackend.get_shard_iterator":
        "a0be676df0bfc9ef0fdb546a45df0f1510de564d215dcafffbd144a8f04219ef",
    "moto.dynamodbstreams.models.DynamoDBStreamsBackend.get_records":
        "db8c6cb04430c08f76be9e6b3cc9317387643b4fee26f43071c5ac22e25d2b64",
    "moto.dynamodb.responses.DynamoHandler.call_action":
        "ce5f57cf83cde3400fa73a201929d18af92aaba2bb301d4d74609a1467b8daaf",
    "moto.dynamodbstreams.responses.DynamoDBStreamsHandler.call_action":
        "26076963fd17fd1a40be642032b5a8d90f159c19d01b80a5f0b0c839770ee0d6",
}

STREAM_RETENTION = datetime.timedelta(hours=24)
DEFAULT_MAX_STREAM_RECORDS = 10_000
DEFAULT_MAX_SHARD_ITERATORS = 1_000

LOCK = threading.RLock()

# Counters the tests read: transactions run, items copied for rollback, rollbacks, stream
# records trimmed, shard iterators forgotten.
stats: dict[str, int] = {}


class MotoEngineMismatch(RuntimeError):
    """The installed moto is not the one this module was written against."""


_installed: dict[tuple[type, str], Any] | None = None
_inherited: dict[tuple[type, str], bool] = {}
_limits = {"max_stream_records": DEFAULT_MAX_STREAM_RECORDS, "max_shard_iterators": DEFAULT_MAX_SHARD_ITERATORS}


def reset_stats() -> None:
    stats.update({"transactions": 0, "items_copied": 0, "rollbacks": 0, "records_trimmed": 0,
                  "iterators_expired": 0})


reset_stats()


# -- version and shape checks ----------------------------------------------------------------

def _resolve(dotted: str) -> Callable[..., Any]:
    import importlib

    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            target = getattr(target, name)
        return target
    raise ImportError(dotted)


def source_hash(dotted: str) -> str:
    function = _resolve(dotted)
    function = getattr(function, "__wrapped_by_moto_engine__", function)
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


def check_moto() -> None:
    """Raise MotoEngineMismatch unless moto is the version, and has the code, this module patches."""
    installed = metadata.version("moto")
    if installed != MOTO_VERSION:
        raise MotoEngineMismatch(
            f"moto {installed} is installed but chalicelib/local/moto_engine.py was written for moto "
            f"{MOTO_VERSION} (the pin in pyproject.toml): reinstall with `make install`, or review the shim")
    changed = [name for name, expected in SOURCE_HASHES.items() if source_hash(name) != expected]
    if changed:
        raise MotoEngineMismatch(
            f"moto {installed} differs from the code chalicelib/local/moto_engine.py patches "
            f"({', '.join(changed)}): review the shim before using it")


# -- 2. transactions that journal only what they write -----------------------------------------

class _Journal:
    """What a transaction changed: each written item's previous state, each stream's end."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.items: list[tuple[Any, Any, Any, Any]] = []  # (table, hash, range, previous item or None)
        self.streams: dict[int, tuple[Any, int]] = {}  # id(shard) -> (shard, next sequence number)

    def remember(self, table_name: str, key: dict[str, Any], current: Any, op_type: str) -> None:
        table = self.backend.get_table(table_name)
        hash_value, range_value = self.backend.get_keys_value(table, key)
        previous = current
        if current is not None and op_type == "Update":
            previous = copy.deepcopy(current)  # update_item mutates the stored item in place
            stats["items_copied"] += 1
        self.items.append((table, hash_value, range_value, previous))
        shard = table.stream_shard
        if shard is not None and id(shard) not in self.streams:
            self.streams[id(shard)] = (shard, shard.starting_sequence_number + len(shard.items))

    def rollback(self) -> None:
        stats["rollbacks"] += 1
        for table, hash_value, range_value, previous in reversed(self.items):
            if table.range_key_attr is not None:
                bucket = table.items[hash_value]
                if previous is None:
                    bucket.pop(range_value, None)
                    if not bucket:
                        del table.items[hash_value]
                else:
                    bucket[range_value] = previous
            elif previous is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = previous
        for shard, next_sequence in self.streams.values():
            keep = max(0, next_sequence - shard.starting_sequence_number)
            del shard.items[keep:]


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.5's DynamoDBBackend.transact_write_items, action for action, with the whole-table
    deep copies replaced by a journal of the items written (see the module docstring)."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (ConditionalCheckFailed, MockValidationException,
                                          MultipleTransactionsException, TooManyTransactionsException,
                                          TransactionCanceledException, TransactWriteSingleOpException)

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    stats["transactions"] += 1
    journal = _Journal(self)
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[Any, Any, Any]] = []  # [(Code, Message, Item), ..]
    try:
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            if len(list(item.keys())) > 1:
                raise TransactWriteSingleOpException
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                expression_attribute_names = op.get("ExpressionAttributeNames")
                expression_attribute_values = op.get("ExpressionAttributeValues")
                return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")
                if op_type == "Put":
                    attrs = op["Item"]
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                check_unicity(table_name, key)
                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition_op = get_filter_expression(
                        condition_expression, expression_attribute_names, expression_attribute_values)
                    if not condition_op.expr(current):
                        if return_values_on_condition_check_failure == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                if op_type != "ConditionCheck":
                    journal.remember(table_name, key, current, op_type)
                if op_type == "Put":
                    self.put_item(table_name, op["Item"], condition_expression=condition_expression,
                                  expression_attribute_names=expression_attribute_names,
                                  expression_attribute_values=expression_attribute_values)
                elif op_type == "Delete":
                    self.delete_item(table_name, key, condition_expression=condition_expression,
                                     expression_attribute_names=expression_attribute_names,
                                     expression_attribute_values=expression_attribute_values)
                elif op_type == "Update":
                    self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                     condition_expression=condition_expression,
                                     expression_attribute_names=expression_attribute_names,
                                     expression_attribute_values=expression_attribute_values)
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                raise  # rolled back below, then re-raised (as moto does)
            except ConditionalCheckFailed as e:
                errors.append(("ConditionalCheckFailed", str(e.message), original_item))
            except Exception as e:  # noqa: BLE001 - moto reports any other failure as that action's reason
                errors.append((type(e).__name__, str(e), original_item))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
    except BaseException:
        journal.rollback()
        raise


# -- 3. bounded stream shards ---------------------------------------------------------------------

def _trim_stream(shard: Any) -> None:
    from moto.core.utils import utcnow

    records = shard.items
    limit = _limits["max_stream_records"]
    drop = len(records) - limit if len(records) > limit + max(1, limit // 10) else 0
    cutoff = utcnow() - STREAM_RETENTION
    if len(records) > drop and records[drop].record["dynamodb"]["ApproximateCreationDateTime"] < cutoff:
        drop = bisect.bisect_left(records, cutoff, lo=drop,
                                  key=lambda r: r.record["dynamodb"]["ApproximateCreationDateTime"])
    if drop > 0:
        del records[:drop]
        shard.starting_sequence_number += drop
        stats["records_trimmed"] += drop


def _errors() -> tuple[type, type]:
    from moto.core.exceptions import JsonRESTError

    class TrimmedDataAccessException(JsonRESTError):
        code = 400

        def __init__(self) -> None:
            super().__init__("TrimmedDataAccessException",
                             "The operation attempted to read past the oldest stream record in a shard.")

    class ExpiredIteratorException(JsonRESTError):
        code = 400

        def __init__(self) -> None:
            super().__init__("ExpiredIteratorException", "Iterator expired. The iterator was created over 15 "
                             "minutes ago or is no longer kept.")

    return TrimmedDataAccessException, ExpiredIteratorException


# -- install ---------------------------------------------------------------------------------------

def install(*, max_stream_records: int = DEFAULT_MAX_STREAM_RECORDS,
            max_shard_iterators: int = DEFAULT_MAX_SHARD_ITERATORS) -> None:
    """Patch moto in this process (idempotent). Raises MotoEngineMismatch on another moto."""
    global _installed
    _limits.update(max_stream_records=max_stream_records, max_shard_iterators=max_shard_iterators)
    if _installed is not None:
        return
    check_moto()
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    trimmed_error, expired_error = _errors()
    originals: dict[tuple[type, str], Any] = {
        (DynamoDBBackend, "transact_write_items"): DynamoDBBackend.transact_write_items,
        (StreamShard, "add"): StreamShard.add,
        (StreamShard, "get"): StreamShard.get,
        (DynamoDBStreamsBackend, "get_shard_iterator"): DynamoDBStreamsBackend.get_shard_iterator,
        (DynamoDBStreamsBackend, "get_records"): DynamoDBStreamsBackend.get_records,
        (DynamoHandler, "call_action"): DynamoHandler.call_action,
        (DynamoDBStreamsHandler, "call_action"): DynamoDBStreamsHandler.call_action,
    }
    original_add = StreamShard.add
    original_get_shard_iterator = DynamoDBStreamsBackend.get_shard_iterator

    def add(self: Any, old: Any, new: Any) -> None:
        original_add(self, old, new)
        _trim_stream(self)

    def get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
        index = start - self.starting_sequence_number
        if index < 0:
            raise trimmed_error()
        return [record.to_json() for record in self.items[index:index + quantity]]

    def forget_old_iterators(backend: Any) -> None:
        iterators = backend.shard_iterators
        while len(iterators) > _limits["max_shard_iterators"]:
            del iterators[next(iter(iterators))]
            stats["iterators_expired"] += 1

    def get_shard_iterator(self: Any, *args: Any, **kwargs: Any) -> Any:
        iterator = original_get_shard_iterator(self, *args, **kwargs)
        forget_old_iterators(self)
        return iterator

    def get_records(self: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
        iterator = self.shard_iterators.get(iterator_arn)
        if iterator is None:
            raise expired_error()
        result = iterator.get(limit)
        forget_old_iterators(self)
        return result

    def locked(call_action: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def call_action_locked(self: Any) -> Any:
            with LOCK:
                return call_action(self)

        call_action_locked.__wrapped_by_moto_engine__ = call_action  # type: ignore[attr-defined]
        return call_action_locked

    replacements = {
        (DynamoDBBackend, "transact_write_items"): transact_write_items,
        (StreamShard, "add"): add,
        (StreamShard, "get"): get,
        (DynamoDBStreamsBackend, "get_shard_iterator"): get_shard_iterator,
        (DynamoDBStreamsBackend, "get_records"): get_records,
        (DynamoHandler, "call_action"): locked(DynamoHandler.call_action),
        (DynamoDBStreamsHandler, "call_action"): locked(DynamoDBStreamsHandler.call_action),
    }
    for (owner, name), replacement in replacements.items():
        _inherited[(owner, name)] = name not in owner.__dict__
        if replacement is not originals[(owner, name)]:
            setattr(replacement, "__wrapped_by_moto_engine__", originals[(owner, name)])
        setattr(owner, name, replacement)
    _installed = originals


def uninstall() -> None:
    """Put moto back as it was (for tests)."""
    global _installed
    if _installed is None:
        return
    for (owner, name), original in _installed.items():
        if _inherited.get((owner, name)):
            delattr(owner, name)  # it was the base class's (BaseResponse.call_action)
        else:
            setattr(owner, name, original)
    _installed = None


def installed() -> bool:
    return _installed is not None


@contextmanager
def patched(**limits: int) -> Iterator[None]:
    """install() for the duration of a block, then uninstall() unless it was installed before."""
    was = installed()
    install(**limits)
    try:
        yield
    finally:
        if not was:
            uninstall()


if __name__ == "__main__":
    print(f"moto {metadata.version('moto')} (shim written for {MOTO_VERSION})")
    for dotted in SOURCE_HASHES:
        print(f'    "{dotted}":\n        "{source_hash(dotted)}",')
