"""moto's DynamoDB made exact, bounded and fast enough under concurrent clients, for `notifications dev`.

Dev tooling only: `notifications/local/runtime.py` installs it in the process that runs the
embedded moto server (and the tests import it); nothing Lambda runs imports it.

Written against moto 5.2.5, the version pinned in pyproject.toml. `install()` refuses any
other version, and refuses a moto whose patched (or relied-upon) functions' source differs
from the one read here (a few boto3 functions and botocore's AttributeValue shape, relied upon
too, are checked the same way): after bumping moto, re-read those functions, adapt this module,
then update `MOTO_VERSION` and `SOURCE_HASHES` (`python -m notifications.local.moto_engine` prints
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

5. Per-request work moto repeats for nothing (each replacement gives moto's answer, and hands
   anything outside what it handles to moto's own code): update and condition expressions parsed
   once per distinct expression instead of two or three times per action; a transaction's
   conditions evaluated once instead of twice; `Item.__init__` sums attribute sizes once instead
   of re-summing them for each attribute (quadratic); simple updates (`SET a = :v`, `REMOVE a`,
   `ADD a :n` on top-level attributes) applied directly instead of through ten tree walks of
   UpdateExpressionValidator (about 3 ms per counter update); stream records render only the
   images their view type keeps; `Item.project` of plain names without boto3's round trip.

6. The HTTP layer: the backend for a request's host looked up once per host instead of by listing
   moto's package directory on every request; DynamoDB requests parsed by functions made once per
   shape instead of a getattr dispatch per value; AttributeValues and `dynamo_to_dict` converted
   without a dozen attribute-picker lookups per value (a 500-item Query page cost about 0.9 s to
   serialize).

7. Query: moto sorts every item of the table on each Query and deep-copies the page. A Query of
   a table's keys, or of a local index, reads the page from the partition's own order
   (`SortedPartition`: its sort keys, and each local index's `LocalOrder`, kept up to date by
   every write), so it costs the items it returns, not the table or the partition.

Each of 5-7 is checked against unpatched moto by tests/unit/test_moto_engine.py (the same
requests on both, every response, error, item and stream record compared).
"""
from __future__ import annotations

import base64
import bisect
import copy
import datetime
import functools
import hashlib
import inspect
import threading
from collections import defaultdict
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
    "moto.dynamodb.models.table.StreamRecord.__init__":
        "511904c6352cfd9a0dc7eb26ebbff6ad007d734698d7097b194f7f56a85482be",
    "moto.dynamodb.models.dynamo_type.Item.to_json":
        "cf0a9332389d6fd9638a3deee3c36f3bb035739290c82510fea68377a13d303e",
    "moto.dynamodb.models.dynamo_type.Item.project":
        "f411e6d8b56886f45f401edc20c2fd6d4e671136d9cf7ff21c434479b1e84a79",
    "moto.dynamodb.models.dynamo_type.Item.size":
        "9bc6ada96d33365c0a0abcb4faf534e1bdc7bfe0af0ef0c1c6671eccd5b80f45",
    "moto.dynamodb.models.dynamo_type.Item.to_regular_json":
        "866aafe440d99a2565adeae8a9fec8263e2657c1d4c4e4312f6b9a911198d3fd",
    "moto.dynamodb.models.dynamo_type.DynamoType.to_regular_json":
        "a9fe48d6f3f9aa7e73b2822278a77f698944176a2de656f84af8963676e63f3e",
    "moto.dynamodb.models.utilities.find_nested_key":
        "66e7b1b00236a8118652236311568ae6ee7eea37cb03b0bf1de295578a3ce7d4",
    "boto3.dynamodb.types.TypeDeserializer.deserialize":
        "82a6318b35d0136c6a5abe32e5c9dadab82d5117a3b432a7bb2ed851cd3f5096",
    "boto3.dynamodb.types.TypeDeserializer._deserialize_n":
        "994ebc5898c2c019e5ffa994b732171f0208d23cca0270309c05614df1abf055",
    "boto3.dynamodb.types.TypeSerializer.serialize":
        "5af3b8198e080bc963a46b41b0d5d13976c2c86592aa03020eabf5835f8ee213",
    "moto.dynamodb.models.utilities.dynamo_json_dump":
        "2aa70fe4a931096fa86e0d063aafe6ff9f7d276f06b7fe2cd837d5c6ddeb6e84",
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
    # 5. expressions parsed once, items built in O(n), simple updates applied directly
    "moto.dynamodb.parsing.expressions.UpdateExpressionParser.make":
        "2c00ed96d6e191f243b449166e75bfb38f307b2e19405bc0981847061e0dbee3",
    "moto.dynamodb.comparisons.ConditionExpressionParser.__init__":
        "4a3f092d6b0f1a260976048a99937788a7387015d1f0c7b0fc6360cf582508f0",
    "moto.dynamodb.comparisons.ConditionExpressionParser.parse":
        "5c9b63c5f49ed5d5d644eb0ac7422fb3c2ac4bbd310374f4161686bc4e10c453",
    "moto.dynamodb.models.dynamo_type.Item.__init__":
        "d9c12b62cb921831aab9b2eb22ac24fbd600689064a0219ae3ffbe057ae4be74",
    "moto.dynamodb.models.dynamo_type.LimitedSizeDict.__setitem__":
        "d979580fdbe14f79f3216564e1385c4b3485db82bc88193326c467a037331e81",
    "moto.dynamodb.models.dynamo_type.DynamoType.__init__":
        "7c6cde92e1149bfe3b61d6b5667a943232829bbbb9760c5bd0655479b8d570b9",
    "moto.dynamodb.models.dynamo_type.DynamoType.size":
        "f7c111fca25b4c5ecea8b4d570d210aef1dcf5b9c52fa3250a27f1bfdd85966b",
    "moto.dynamodb.models.utilities.bytesize":
        "b0dce378c1ce66af675fdd42153ec1ea12f3461e60c4cddaf756613f816b580b",
    "moto.dynamodb.parsing.ast_nodes.Node.normalize":
        "c24d303e8eb1e2375b444a2f74a9867ec7c3fadf76bb63702f753d1b7aaa97e5",
    "moto.dynamodb.parsing.validators.UpdateExpressionValidator.get_ast_processors":
        "918400bbecd67e8321619b3141e6a276e91a5112c8e8b602fbbc748d83329af6",
    "moto.dynamodb.parsing.validators.ActionCountValidator.verify_action_counts":
        "8cd8c9a3ae3a414abe39794eb3b5097b64b580b9dee258da242d2c03cf91c293",
    "moto.dynamodb.parsing.validators.OverlappingPathsValidator.check_for_overlapping_paths":
        "2488117d3c3a1f22b817ce11bb446912002fcda1dfbb6956234f91619ede5692",
    "moto.dynamodb.parsing.validators.UpdateHashRangeKeyValidator.check_for_hash_or_range_key":
        "a453e5e1e3fe9d3740dfb8e30d7adf99b34af1e881696428a8f587008f0f1334",
    "moto.dynamodb.parsing.validators.ExpressionAttributeValueProcessor.replace_expression_attribute_value_with_value":
        "a6fefee1548af8abf30657456e7b60491c029aff2029d99b6b30f5fda519779a",
    "moto.dynamodb.parsing.validators.ExpressionAttributeResolvingProcessor.process_expression_path_node":
        "f39fb15e1cfb66d1c1106fdb122f3986e9f871c303fa3fa90de2a193408a1c7e",
    "moto.dynamodb.parsing.validators.ExpressionPathResolver.resolve_expression_path_nodes":
        "d957a599a08ad83559fb6e5961d634b55d1b9d00a97a8647520d09488d0a550c",
    "moto.dynamodb.parsing.validators.TypeMismatchValidator.check_for_type_mismatch":
        "1f26120bea5917fcaecc678aa12e2b52f2c139378e084445a456948d561c865e",
    "moto.dynamodb.parsing.validators.EmptyStringKeyValueValidator.check_for_empty_string_key_value":
        "bea7647628829057e0ece830c3ff72cb4af608bdf29bd937edc8a52a32da8e66",
    "moto.dynamodb.parsing.executors.UpdateExpressionExecutor.execute":
        "f51a6ec13dc1031676f97baa352b3effe9396e597818f498855f91ba5dd9e15f",
    "moto.dynamodb.parsing.executors.SetExecutor.set":
        "a8b5f69f92794b468c2ab51136d055ba19abe53b76271ef6dca646a87da0ae1e",
    "moto.dynamodb.parsing.executors.RemoveExecutor.execute":
        "2f81b6fc36ad8933f9d8d97ba404a5de3dbc2fa0870920febb25df064152c265",
    # 6. routing, request parsing, response serialization
    "moto.moto_server.werkzeug_app.DomainDispatcherApplication.get_backend_for_host":
        "1f41972c1e4e660fbf4e4ddfeeed2fdff56dc105a8f8e1bf015640f710ef511a",
    "moto.core.parse.JSONParser._parse_json_body":
        "aafb837c5ffe3839cac10d9354546d44b097389d3f206b4232a9d6c3b5e8423d",
    "moto.core.parse.BaseJSONParser._parse_structure":
        "2de165721ba4b69e183647dca9c845d553a6f077c004007ad676cec8f2b581dd",
    "moto.core.parse.BaseJSONParser._parse_timestamp":
        "667f2dc6de8df76f69d7cf7f9db0322d415d4df6f864bab40af525b037c94efe",
    "moto.core.parse.BaseJSONParser._parse_float":
        "573db54a0a95cd4ea2f0110a7900361c92a0c52810b2d6747397a2e59d43b4b0",
    "moto.core.parse.BaseJSONParser._parse_integer":
        "0116a93d91e98b69fff32d3197a5fc81d0bbf856ca7088d55ca58d3fb4f329cc",
    "moto.core.parse.RequestParser._default_handle":
        "88c1ab7f9c988be8985903bd33db39d5e97423180beab34ee9cae7a61ef9b7f9",
    "moto.core.parse.RequestParser._parse_shape":
        "86db10854efaf7e3818a4c4caa5d950837a5321e7f8e36ee2c7f3c5a47e0f9c0",
    "moto.core.parse.RequestParser._parse_list":
        "e2539182995b831ea551f1eb3d92f5b7eb0d85b9c4a33e9f81a5407b34fd4a80",
    "moto.core.parse.RequestParser._parse_map":
        "a9e8feb4d5519e24837f20fb213aab9716be576a5980ab2bfdf7becc2adab17b",
    "moto.core.parse.BaseJSONParser._parse_blob":
        "4d0f79b18cc3bcc3f925200a74821e5610680a30d169f274f565029050741668",
    "moto.core.parse.default_blob_parser":
        "b4e8503d3331b904c8f5552525eb0005d55ce70f8cf7228d513fb2a7a2c47650",
    "moto.core.serialize.BaseJSONSerializer._serialize_type_structure":
        "36873909cd0aeb4defa91cc9912c6e90a62d7d92ced6150ac7de92fd10a81967",
    "moto.core.serialize.ResponseSerializer._serialize_type_structure":
        "f9b47068f40ce489e55e7a0bf78accec38597d27168dc3d095ac2fc18312d4a8",
    "moto.core.serialize.ResponseSerializer._serialize_structure_member":
        "437fdce43aa5ac844fb5fe22865b90d228b875b6b1787dc6bfdccad91968b3c0",
    "moto.core.serialize.ResponseSerializer._serialize":
        "4eccca5bf02593efd2e425f7e1659871406ee6734ec1084ccd452885b7e89052",
    "moto.core.serialize.ResponseSerializer._default_serialize":
        "25ce8ddbb1a991c029a745f87eeaa360b697b69ba7295fb74143859a5233afb7",
    "moto.core.serialize.ResponseSerializer._serialize_type_blob":
        "acd7e746cf06090e20c6501be7d45563fdece62bc55ba2a12f840d2b3bc89ade",
    "moto.core.serialize.ResponseSerializer._base64":
        "5a3642d8c2a14b24a90a2719ba8cc148cff6400b69faea1943c32d782df5a2fb",
    "moto.core.serialize.BaseJSONSerializer._serialize_type_map":
        "faa32d1fa9a8bfc9db0984b7973a5cc3297d35a2df33124748949b0908f6b6a9",
    "moto.core.serialize.BaseJSONSerializer._serialize_type_list":
        "f87b14fe9166e099846349860a5e3c9d9984939d82ed0f67de07ad12e790cd26",
    "moto.core.serialize.BaseJSONSerializer._serialize_type_string":
        "44954e02145012baee50de6592411c1376aad480ea3440a3b3ab6ce932bbf78d",
    "moto.core.serialize.AttributePicker.__call__":
        "c15da8ec29c1afa44772407fe6280d59a519fcbf52216dc90eb31fb6fbb136ce",
    "moto.core.serialize.XFormedAttributePicker.get_possible_keys":
        "f0d20f55f37fd8a1f74e7fae117327a99c8e14b0f9459a0059d3c8d3c6e50a41",
    "moto.core.responses.ActionResult.execute_result":
        "6333faa349b58671258985778d2aaf02d31e0617aae380442e4c683c36ab248d",
    # 7. Query
    "moto.dynamodb.models.table.Table.__init__":
        "a56181a75aa270051d49daeb6a1f55b3eba543e6f58b4391e46d24a7cf8bbc74",
    "moto.dynamodb.models.table.Table.query":
        "002b4d00be6df07cf37f6cbe0132e5eb89455ae12a8e79b23db3fb492450f21e",
    "moto.dynamodb.models.table.Table.all_items":
        "c80d2ee3c896acd0cab6ca35aaeae3ab3fb65858933f8a3403d4e027c240f31d",
    "moto.dynamodb.models.table.Table._item_comes_before_dct":
        "6d70f41f7cb059f40e932e9c6c13cc57b6052c5d025c51235df414adf172bee1",
    "moto.dynamodb.models.table.Table._get_last_evaluated_key":
        "2d0fae62fcd41aaebd8a04b503ebab88aa607883932c661dd4f98a2b4f29a9d3",
    "moto.dynamodb.models.DynamoDBBackend.query":
        "b8f2b308cd13edb48bb59ab0321ec3f935605629acb1d1ed634ba9f2bbcb107e",
    "moto.dynamodb.responses.DynamoHandler.query":
        "681834c64038af93f0bf17657b7d24065f907f31e2d5cafb67f8cc15bb5e9f96",
    "moto.dynamodb.models.utilities.dynamo_to_dict":
        "80f600124c13ddcb132c02448abeefffd2b43b353c7fcedaa2fa7ca67b3107c4",
    "moto.dynamodb.models.dynamo_type.DynamoType.to_json":
        "62eaa03febd15b265a19d9b5e5431df5d4ab880af1124ca32ffb4a8ca9075410",
    "moto.dynamodb.responses.DynamoResult.__init__":
        "e2394775cd5ef6ad00a9de7afdea2b54f753ea2dfcb11ecabe1acc80497cda35",
    "moto.dynamodb.models.dynamo_type.DynamoType.compare":
        "5a77253bbdb399ee60bd2fc84aaf205a2e7ec3c71d32e9194d0ca6b4dd4da601",
    "moto.dynamodb.models.dynamo_type.DynamoType.cast_value":
        "135da387dfcc7c1ca4930a6d64b5c474519422983cc2a4d03b37b716d090ae0c",
    "moto.dynamodb.parsing.executors.AddExecutor.execute":
        "dadbc08d83f73bdb95da963abf173698dcdc33f5834d1559b87171c847554bfb",
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
                  "iterators_expired": 0, "updates_fast": 0, "updates_slow": 0, "queries_fast": 0,
                  "queries_local": 0, "queries_partition": 0, "queries_slow": 0, "projections_fast": 0})


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


@functools.lru_cache(maxsize=None)
def source_hash(dotted: str) -> str:
    """The hash of a moto function's source (as installed: this process's moto never changes, and
    the unit tests check it for every test they start a moto for)."""
    function = _resolve(dotted)
    function = getattr(function, "__wrapped_by_moto_engine__", function)
    if isinstance(function, property):
        function = function.fget
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


def check_moto() -> None:
    """Raise MotoEngineMismatch unless moto is the version, and has the code, this module patches."""
    installed = metadata.version("moto")
    if installed != MOTO_VERSION:
        raise MotoEngineMismatch(
            f"moto {installed} is installed but notifications/local/moto_engine.py was written for moto "
            f"{MOTO_VERSION} (the pin in pyproject.toml): reinstall with `make install`, or review the shim")
    changed = [name for name, expected in SOURCE_HASHES.items() if source_hash(name) != expected]
    changed += attribute_value_shape_differences() + json_parser_dispatch_differences()
    if changed:
        raise MotoEngineMismatch(
            f"moto {installed} differs from the code notifications/local/moto_engine.py patches "
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
                # moto passes the condition on, and put_item/delete_item/update_item parse and
                # evaluate it a second time against the same item under the same lock: it was
                # checked just above, so it is not passed again (same outcome, one evaluation).
                if op_type == "Put":
                    self.put_item(table_name, op["Item"],
                                  expression_attribute_names=expression_attribute_names,
                                  expression_attribute_values=expression_attribute_values)
                elif op_type == "Delete":
                    self.delete_item(table_name, key,
                                     expression_attribute_names=expression_attribute_names,
                                     expression_attribute_values=expression_attribute_values)
                elif op_type == "Update":
                    self.update_item(table_name, key, update_expression=op["UpdateExpression"],
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


def lean_stream_record_init(self: Any, table: Any, stream_type: str, event_name: str, old: Any, new: Any,
                            seq: int) -> None:
    """moto/dynamodb/models/table.py `StreamRecord.__init__` renders both images of the item
    (`Item.to_json`) whatever the stream's view type, then uses only those the view type includes:
    the inbox stream (OLD_IMAGE) rendered every delivered item for nothing. The same record, with
    only the images it keeps rendered (to_json has no side effects), and SizeBytes measured with one
    reused DynamoJsonEncoder (dynamo_json_dump makes a new one, with the same settings, per call)."""
    from moto.core.utils import utcnow
    from moto.moto_api._internal import mock_random

    rec = old if old is not None else new
    keys = {table.hash_key_attr: rec.hash_key.to_json()}
    if table.range_key_attr is not None and rec is not None:
        keys[table.range_key_attr] = rec.range_key.to_json()

    self.record = {
        "eventID": mock_random.uuid4().hex,
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "eventVersion": "1.0",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "StreamViewType": stream_type,
            "ApproximateCreationDateTime": utcnow(),
            "SequenceNumber": str(seq),
            "SizeBytes": 1,
            "Keys": keys,
        },
    }

    if stream_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new is not None:
        self.record["dynamodb"]["NewImage"] = new.to_json()["Attributes"]
    if stream_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old is not None:
        self.record["dynamodb"]["OldImage"] = old.to_json()["Attributes"]

    # This is a substantial overestimate but it's the easiest to do now
    self.record["dynamodb"]["SizeBytes"] = len(_json_encoder().encode(self.record["dynamodb"]))


_encoders: list[Any] = []


def _json_encoder() -> Any:
    """One DynamoJsonEncoder with json.dumps's defaults: what dynamo_json_dump encodes with."""
    if not _encoders:
        from moto.dynamodb.models.utilities import DynamoJsonEncoder

        _encoders.append(DynamoJsonEncoder())
    return _encoders[0]


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


# -- 5. the same answers from less work: expressions parsed once, items built in O(n), simple updates --

_MISSING = object()
_CACHE_LIMIT = 2048


def _freeze(value: Any) -> Any:
    """A hashable, type-exact image of parsed request JSON (dicts, lists, str, bytes, bool, ...)."""
    if isinstance(value, dict):
        return ("d", tuple(sorted((k, _freeze(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("l", tuple(_freeze(v) for v in value))
    return (type(value).__name__, value)


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()  # a working set of a few expressions; a rare reset costs one parse each
    cache[key] = value


_update_asts: dict[str, Any] = {}


def cached_update_expression_parser(original_make: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    """moto/dynamodb/parsing/expressions.py `UpdateExpressionParser.make` tokenizes and parses the
    expression on every call (twice per Update of a transaction: the handler's validation and the
    backend). The parse is a pure function of the string and every caller only reads the tree (the
    validators deep-copy it before processing), so one tree per string is shared."""

    def make(cls: Any, expression_str: str) -> Any:
        ast = _update_asts.get(expression_str) if isinstance(expression_str, str) else None
        if ast is None:
            ast = original_make(cls, expression_str)  # raises on a bad expression, caching nothing
            if isinstance(expression_str, str):
                _remember(_update_asts, expression_str, ast)
        return ast

    return make


_conditions: dict[Any, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}


def cached_condition_parser(parser_class: type, original_parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """moto/dynamodb/comparisons.py `ConditionExpressionParser.parse` lexes and parses a condition on
    every call: three times for each conditional Put of a transaction (the handler's validation, the
    transaction's check, then `Table.put_item` again). The result is a pure function of (expression,
    names, values) and its Op tree is only evaluated, never changed, so it is shared. The tree is
    built from a private deep copy of names and values, so a later change to a request's values
    (moto stores some value lists by reference in items) cannot reach it."""

    def parse(self: Any) -> Any:
        if not self.condition_expression:  # no condition: moto answers at once, with no parse
            return original_parse(self)
        key = (self.condition_expression, _freeze(self.expression_attribute_names),
               _freeze(self.expression_attribute_values))
        hit = _conditions.get(key)
        if hit is None:
            fresh = parser_class(self.condition_expression, copy.deepcopy(self.expression_attribute_names),
                                 copy.deepcopy(self.expression_attribute_values))
            op = original_parse(fresh)
            hit = (op, tuple(fresh.expr_attr_names_found), tuple(fresh.expr_attr_values_found))
            _remember(_conditions, key, hit)
        self.expr_attr_names_found.extend(hit[1])
        self.expr_attr_values_found.extend(hit[2])
        return hit[0]

    return parse


ITEM_SIZE_LIMIT = 405000  # moto/dynamodb/models/dynamo_type.py LimitedSizeDict.__setitem__


def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
    """moto/dynamodb/models/dynamo_type.py `Item.__init__` stores each attribute through
    `LimitedSizeDict.__setitem__`, which re-sums the size of every attribute already stored: building
    an item is quadratic in its attributes. The same check (the running total of key and value sizes,
    raising ItemSizeTooLarge at the first attribute that takes it over the limit) is kept as a sum.
    A scalar string or number attribute (`{"S": str}`, `{"N": str}`) is made and sized the way
    DynamoType.__init__ and DynamoType.size do it, without their generic type tests."""
    from moto.dynamodb.models.dynamo_type import DynamoType, ItemSizeTooLarge, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    self.hash_key = hash_key
    self.range_key = range_key
    stored = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(stored)
    total = 0
    new_type = DynamoType.__new__
    for key, value in attrs.items():
        kind = inner = None
        if type(value) is dict and len(value) == 1:
            kind, inner = next(iter(value.items()))
        if (kind == "S" or kind == "N") and type(inner) is str:
            value = new_type(DynamoType)
            value.type, value.value = kind, inner
            size = len(key.encode("utf-8") if type(key) is str else bytesize(str(key))) \
                + (len(inner.encode("utf-8")) if kind == "S" else len(inner))
        else:
            value = DynamoType(value)
            size = bytesize(str(key)) + value.size()
        if total + size > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        if key in stored:  # not reachable from a dict, but LimitedSizeDict would count the old entry too
            total -= bytesize(str(key)) + stored[key].size()
        dict.__setitem__(stored, key, value)
        total += size
    self.attrs = stored


# A simple update: only `SET path = :value`, `REMOVE path` and `ADD path :number` actions, each path
# one top-level attribute (`name` or `#placeholder`), each clause once. Planned once per expression.
_SET, _REMOVE, _ADD = "SET", "REMOVE", "ADD"
_plans: dict[str, Any] = {}


def _plan_update(expression: str) -> tuple[tuple[str, bool, str, str | None], ...] | None:
    """(action, is_placeholder, path token, value placeholder) in moto's execution order, or None
    when the expression is outside the simple subset (moto then does all of it)."""
    plan = _plans.get(expression, _MISSING)
    if plan is not _MISSING:
        return plan
    plan = None
    try:
        plan = _make_plan(expression)
    except Exception:  # noqa: BLE001 - unparsable: moto raises its own error on the slow path
        plan = None
    _remember(_plans, expression, plan)
    return plan


def _make_plan(expression: str) -> tuple[tuple[str, bool, str, str | None], ...] | None:
    from moto.dynamodb.parsing import ast_nodes as n
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    ast = UpdateExpressionParser.make(expression)
    clauses = {kind: len(ast.find_clauses([cls])) for kind, cls in (
        (_SET, n.UpdateExpressionSetClause), (_REMOVE, n.UpdateExpressionRemoveClause),
        (_ADD, n.UpdateExpressionAddClause), ("DELETE", n.UpdateExpressionDeleteClause))}
    if clauses["DELETE"] or any(count > 1 for count in clauses.values()):
        return None  # DELETE is not planned; a repeated clause is moto's TooManyClauses
    plan = []
    for action in ast.find_clauses([n.UpdateExpressionAddAction, n.UpdateExpressionDeleteAction,
                                    n.UpdateExpressionRemoveAction, n.UpdateExpressionSetAction]):
        path = action.children[0]
        if not isinstance(path, n.UpdateExpressionPath) or len(path.children) != 1:
            return None
        element = path.children[0]
        if type(element) is n.ExpressionAttributeName:
            placeholder, token = True, element.get_attribute_name_placeholder()
        elif type(element) is n.ExpressionAttribute:
            placeholder, token = False, element.get_attribute_name()
        else:
            return None
        if type(action) is n.UpdateExpressionRemoveAction and len(action.children) == 1:
            plan.append((_REMOVE, placeholder, token, None))
        elif type(action) is n.UpdateExpressionAddAction and len(action.children) == 2 \
                and type(action.children[1]) is n.ExpressionAttributeValue:
            plan.append((_ADD, placeholder, token, action.children[1].get_value_name()))
        elif type(action) is n.UpdateExpressionSetAction and len(action.children) == 2 \
                and type(action.children[1]) is n.UpdateExpressionValue \
                and len(action.children[1].children) == 1 \
                and type(action.children[1].children[0]) is n.ExpressionAttributeValue:
            plan.append((_SET, placeholder, token, action.children[1].children[0].get_value_name()))
        else:
            return None
    return tuple(plan) if plan else None


_reserved: frozenset[str] | None = None


def _bind(plan: tuple[tuple[str, bool, str, str | None], ...], table: Any, names: dict[str, str] | None,
          values: dict[str, Any] | None) -> list[tuple[str, str, Any]] | None:
    """The plan's actions as (action, attribute, DynamoType or None), or None wherever moto's
    UpdateExpressionValidator would raise (the slow path then raises moto's own error)."""
    global _reserved
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    if _reserved is None:
        _reserved = frozenset(ReservedKeywords.get_reserved_keywords())
    names = names or {}
    bound: list[tuple[str, str, Any]] = []
    seen: set[str] = set()
    key_attrs = table.table_key_attrs
    attribute_keys = None
    for action, placeholder, token, value_name in plan:
        if placeholder:
            name = names.get(token)
            if name is None:  # ExpressionAttributeNameNotDefined (or OverlappingPathsValidator's KeyError)
                return None
        else:
            if token.upper() in _reserved:  # AttributeIsReservedKeyword
                return None
            name = token
        if name in seen:  # DuplicateUpdateExpression
            return None
        seen.add(name)
        if names.get(token, token) in key_attrs:  # UpdateHashRangeKeyException
            return None
        value = None
        if value_name is not None:
            if values is None or value_name not in values:  # ExpressionAttributeValueNotDefined
                return None
            try:
                value = DynamoType(values[value_name])
            except Exception:  # noqa: BLE001 - a malformed value: moto's error on the slow path
                return None
        if action == _SET:
            # TypeMismatchValidator and EmptyStringKeyValueValidator compare the raw path token
            # (a placeholder never matches), as moto 5.2.5 does.
            for definition in table.attr:
                if definition["AttributeName"] == token and definition["AttributeType"] != value.type:
                    return None
            if attribute_keys is None:
                attribute_keys = table.attribute_keys
            if not value.value and value.type in ("S", "B") and token in attribute_keys:
                return None
        elif action == _ADD and value.type != "N":
            return None  # sets are left to moto; other types are its IncorrectDataType
        bound.append((action, name, value))
    return bound


def fast_update_item(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto/dynamodb/models/__init__.py `DynamoDBBackend.update_item` runs every update through
    UpdateExpressionValidator: ten tree walks over a deep copy of the parsed expression, twice for an
    item that does not exist yet (a counter's first ADD), about 3 ms each. A simple update (see
    `_plan_update`) is applied here in the order moto executes it, with moto's own checks replayed
    (condition first, then each validator that could refuse it; the number ADD via
    `DynamoType.__add__`; item size through `LimitedSizeDict`), the item created as moto creates it
    (an INSERT stream record of the key, then the update's record) and the same stream record after.
    Anything else, and any case a check would refuse, goes to moto's update_item unchanged.
    After either, the item's place in its partition's local-index orders is brought up to date
    (`SortedPartition.reindex`): an update changes the item in place, which the partition cannot see."""

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return _update_item(self, table_name, key, *args, **kwargs)
        finally:
            _reindex(self, table_name, key)

    def _update_item(self: Any, table_name: str, key: dict[str, Any], update_expression: str,
                    expression_attribute_names: dict[str, Any], expression_attribute_values: dict[str, Any],
                    attribute_updates: dict[str, Any] | None = None, expected: dict[str, Any] | None = None,
                    condition_expression: str | None = None,
                    return_values_on_condition_check_failure: str | None = None) -> Any:
        from moto.dynamodb.comparisons import create_condition_expression_parser
        from moto.dynamodb.exceptions import (ConditionalCheckFailed, ItemSizeTooLarge,
                                              ItemSizeToUpdateTooLarge)
        from moto.dynamodb.models.dynamo_type import DynamoType

        args = (self, table_name, key, update_expression, expression_attribute_names,
                expression_attribute_values, attribute_updates, expected, condition_expression,
                return_values_on_condition_check_failure)
        plan = _plan_update(update_expression) if isinstance(update_expression, str) and update_expression \
            and not attribute_updates and not expected else None
        table = self.tables.get(table_name) if plan is not None else None
        bound = _bind(plan, table, expression_attribute_names, expression_attribute_values) \
            if table is not None else None
        if bound is None:
            stats["updates_slow"] += 1
            return original(*args)
        # Key and item, as moto's update_item finds them.
        if all([table.hash_key_attr in key, table.range_key_attr in key]):
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr])
        elif table.hash_key_attr in key:
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = None
        else:
            hash_value = DynamoType(key)
            range_value = None
        item = table.get_item(hash_value, range_value)
        condition_op = create_condition_expression_parser(
            condition_expression, expression_attribute_names, expression_attribute_values).parse()
        if not condition_op.expr(item):
            if return_values_on_condition_check_failure == "ALL_OLD" and item is not None:
                raise ConditionalCheckFailed(item=item.to_json()["Attributes"])
            raise ConditionalCheckFailed
        # The values ADD stores, computed before anything changes; an ADD onto a non-number is
        # moto's IncorrectDataType, raised mid-update: left to moto.
        results: list[tuple[str, str, Any]] = []
        for action, name, value in bound:
            if action == _ADD:
                existing = item.attrs.get(name) if item is not None else None
                if existing is None:
                    existing = DynamoType({"N": "0"})
                elif existing.type != "N":
                    stats["updates_slow"] += 1
                    return original(*args)
                try:
                    value = existing + value
                except Exception:  # noqa: BLE001 - moto raises it on the slow path
                    stats["updates_slow"] += 1
                    return original(*args)
            results.append((action, name, value))
        stats["updates_fast"] += 1
        orig_item = copy.deepcopy(item) if table.stream_shard is not None else None  # the record's old image
        if item is None:
            data: dict[str, Any] = {table.hash_key_attr: {hash_value.type: hash_value.value}}
            if range_value:
                data.update({table.range_key_attr: {range_value.type: range_value.value}})
            table.put_item(data)
            item = table.get_item(hash_value, range_value)
        try:
            for action, name, value in results:
                if action == _REMOVE:
                    item.attrs.pop(name, None)
                else:
                    item.attrs[name] = value  # LimitedSizeDict: moto's size check, at the same step
        except ItemSizeTooLarge:
            raise ItemSizeToUpdateTooLarge()
        if table.stream_shard is not None:
            table.stream_shard.add(orig_item, item)
        return item

    return update_item


def _reindex(backend: Any, table_name: str, key: Any) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        table = backend.get_table(table_name)  # by name or ARN, as update_item finds it
    except Exception:  # noqa: BLE001 - no such table: nothing was updated
        return
    if table.range_key_attr is None or type(key) is not dict:
        return
    try:
        partition = table.items.get(DynamoType(key[table.hash_key_attr]))
        range_key = DynamoType(key[table.range_key_attr])
    except Exception:  # noqa: BLE001 - no usable key: nothing was updated
        return
    if isinstance(partition, SortedPartition) and partition._local:
        partition.reindex(range_key)


# -- 6. the HTTP layer: routing, request parsing and response serialization -----------------------

def memoized_backend_for_host(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """moto/moto_server/werkzeug_app.py `DomainDispatcherApplication.get_backend_for_host` lists
    moto's package directory (`backends.list_of_moto_modules`, a listdir and an isdir per entry)
    on every request, under the dispatcher's global lock. The answer for a host never changes while
    the server runs, so each host's backend is looked up once."""
    found: dict[Any, Any] = {}

    def get_backend_for_host(self: Any, host: Any) -> Any:
        backend = found.get(host)
        if backend is None:
            backend = original(self, host)
            if backend is not None:
                found[host] = backend
        return backend

    return get_backend_for_host


# botocore's AttributeValue shape in the dynamodb and dynamodbstreams models: member, shape type,
# list member type. `check_moto` refuses a botocore whose model differs.
ATTRIBUTE_VALUE_MEMBERS = (("S", "string", None), ("N", "string", None), ("B", "blob", None),
                           ("SS", "list", "string"), ("NS", "list", "string"), ("BS", "list", "blob"),
                           ("M", "map", "structure"), ("L", "list", "structure"), ("NULL", "boolean", None),
                           ("BOOL", "boolean", None))
_AV_NAMES = frozenset(name for name, _, _ in ATTRIBUTE_VALUE_MEMBERS)
_AV_SERVICES = ("dynamodb", "dynamodbstreams")


def attribute_value_shape_differences() -> list[str]:
    from moto.core.utils import get_service_model

    problems = []
    for service in _AV_SERVICES:
        shape = get_service_model(service).shape_for("AttributeValue")
        layout = tuple((name, member.type_name,
                        (member.member.type_name if member.type_name == "list" else
                         member.value.type_name if member.type_name == "map" else None))
                       for name, member in shape.members.items())
        names_ok = all(member.serialization.get("name", name) == name for name, member in shape.members.items())
        if layout != ATTRIBUTE_VALUE_MEMBERS or not names_ok:
            problems.append(f"botocore's {service} AttributeValue shape")
    return problems


class _Generic(Exception):
    """Outside what the fast AttributeValue code handles: moto's generic code does it."""


_compiled_parsers: dict[tuple[str, str], Callable[[Any, Any], Any]] = {}
_building: dict[tuple[str, str], Callable[[Any, Any], Any]] = {}
_compiling = threading.Lock()  # requests are parsed before the engine's lock is taken


def _compiled_parser(service: str, shape: Any) -> Callable[[Any, Any], Any]:
    found = _compiled_parsers.get((service, shape.name))
    if found is not None:
        return found
    with _compiling:  # compiled functions are published only once complete
        try:
            parser = _compile_parser(service, shape)
            _compiled_parsers.update(_building)
            return parser
        finally:
            _building.clear()


def _compile_parser(service: str, shape: Any) -> Callable[[Any, Any], Any]:
    """A function (json value, parser) -> what moto's JSONParser._parse_shape returns for it,
    made once per shape: the handler moto's JSONParser has for the shape's type (see
    `_PARSE_HANDLERS`), without dispatching through getattr on every value."""
    from moto.core.parse import UNDEFINED

    key = (service, shape.name)
    found = _compiled_parsers.get(key) or _building.get(key)
    if found is not None:
        return found
    box: list[Callable[[Any, Any], Any]] = []

    def deferred(value: Any, parser: Any) -> Any:  # shapes refer to themselves (AttributeValue)
        return box[0](value, parser)

    _building[key] = deferred
    kind = shape.type_name
    parse: Callable[[Any, Any], Any]
    if kind == "structure" and shape.is_document_type:
        def parse(value: Any, parser: Any) -> Any:
            return value
    elif kind == "structure":
        members = [(name, member.serialization.get("name", name), _compile_parser(service, member))
                   for name, member in shape.members.items()]
        by_json_name = {json_name: (name, member) for name, json_name, member in members}
        one_member = len(by_json_name) == len(members)  # each JSON name is one member's

        def parse(value: Any, parser: Any) -> Any:  # BaseJSONParser._parse_structure
            if value is None:
                return None
            parsed = parser.MAP_TYPE()
            if one_member and type(value) is dict and len(value) == 1:
                # One key (an AttributeValue): only the member it names can be found.
                json_name, raw = next(iter(value.items()))
                entry = by_json_name.get(json_name)
                if entry is not None and raw is not None:
                    parsed[entry[0]] = entry[1](raw, parser)
                return parsed
            get = value.get
            for name, json_name, member in members:
                raw = get(json_name)
                if raw is not None:
                    parsed[name] = member(raw, parser)
            return parsed
    elif kind == "list":
        item_parser = _compile_parser(service, shape.member)

        def parse(value: Any, parser: Any) -> Any:  # RequestParser._parse_list
            return [item_parser(item, parser) for item in value]
    elif kind == "map":
        key_parser = _compile_parser(service, shape.key)
        value_parser = _compile_parser(service, shape.value)

        def parse(value: Any, parser: Any) -> Any:  # RequestParser._parse_map
            parsed = parser.MAP_TYPE()
            for k, v in value.items():
                parsed[key_parser(k, parser)] = value_parser(v, parser)
            return parsed
    elif kind == "blob":
        def parse(value: Any, parser: Any) -> Any:  # BaseJSONParser._parse_blob
            return parser._blob_parser(value)
    elif kind == "timestamp":
        def parse(value: Any, parser: Any) -> Any:  # BaseJSONParser._parse_timestamp
            return parser._timestamp_parser(value)
    elif kind in ("float", "double"):
        def parse(value: Any, parser: Any) -> Any:  # BaseJSONParser._parse_float
            return value if value is UNDEFINED else float(value)
    elif kind in ("integer", "long", "short", "byte"):
        def parse(value: Any, parser: Any) -> Any:  # BaseJSONParser._parse_integer
            return value if value is UNDEFINED else int(value)
    else:
        def parse(value: Any, parser: Any) -> Any:  # RequestParser._default_handle
            return value
    box.append(parse)
    return deferred


# The handler moto's JSONParser has for each shape type (None: it has none, so _default_handle).
# `check_moto` refuses a moto whose JSONParser resolves any of them differently.
_PARSE_HANDLERS = {"structure": "BaseJSONParser._parse_structure", "list": "RequestParser._parse_list",
                   "map": "RequestParser._parse_map", "blob": "BaseJSONParser._parse_blob",
                   "timestamp": "BaseJSONParser._parse_timestamp", "float": "BaseJSONParser._parse_float",
                   "double": "BaseJSONParser._parse_float", "integer": "BaseJSONParser._parse_integer",
                   "long": "BaseJSONParser._parse_integer", "short": "BaseJSONParser._parse_integer",
                   "byte": "BaseJSONParser._parse_integer", "string": None, "boolean": None, "character": None}


def json_parser_dispatch_differences() -> list[str]:
    from moto.core import parse

    problems = []
    for kind, expected in _PARSE_HANDLERS.items():
        method = inspect.getattr_static(parse.JSONParser, f"_parse_{kind}", None)
        if expected is None:
            if method is not None:
                problems.append(f"JSONParser._parse_{kind}")
            continue
        owner, name = expected.split(".")
        if method is not getattr(parse, owner).__dict__.get(name):
            problems.append(f"JSONParser._parse_{kind}")
    return problems


def compiled_json_parser(original: Callable[[Any, Any, Any], Any]) -> Callable[[Any, Any, Any], Any]:
    """moto/core/parse.py `JSONParser._parse_json_body` walks the request against botocore's model
    value by value, looking each shape type's handler up with getattr (some 40,000 calls for a
    50-recipient TransactWriteItems). For DynamoDB and its streams the same walk runs through
    functions made once per shape (`_compiled_parser`) that apply the same handlers. A request the
    compiled walk cannot take (JSON that does not fit its shape) is parsed again by moto's code,
    which raises its own error for it."""

    def _parse_json_body(self: Any, raw_body: Any, shape: Any) -> Any:
        from moto.core.parse import JSONParser

        service = self.operation_model.service_model.service_name
        if type(self) is JSONParser and service in _AV_SERVICES and shape is not None:
            parsed_json = self._parse_body_as_json(raw_body)
            try:
                return _compiled_parser(service, shape)(parsed_json, self)
            except Exception:  # noqa: BLE001 - moto's walk raises its own error for it
                pass
        return original(self, raw_body, shape)

    return _parse_json_body


def fast_dynamo_to_dict(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """moto/dynamodb/models/utilities.py `dynamo_to_dict` (every DynamoDB response goes through it,
    in DynamoResult) tries datetime, DynamoType, to_json, dict and list in turn on every value of
    every attribute. The same conversion, deciding the common exact types first; anything else
    (binary values, datetimes, objects with to_json, subclasses) goes to moto's function."""
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    def convert(obj: Any) -> Any:
        kind = type(obj)
        if kind is DynamoType:
            if obj.type == "B" or obj.type == "BS":
                return original(obj)
            value = obj.value
            if type(value) is str or type(value) is bool:
                return {obj.type: value}
            return {obj.type: convert(value)}
        if kind is dict or kind is LimitedSizeDict:
            return {k: convert(v) for k, v in obj.items()}
        if kind is list:
            return [convert(item) for item in obj]
        if kind is str or kind is int or kind is bool or kind is float or obj is None:
            return obj
        return original(obj)

    return convert


def _string(value: Any) -> Any:
    # BaseJSONSerializer._serialize_type_string (no Enum can occur in parsed JSON); a str is
    # neither None, {} nor [], and str() of a str is itself
    if type(value) is str:
        return value
    return str(value) if value not in [None, {}, []] else value


def _blob(value: Any) -> str:
    # ResponseSerializer._base64
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(value).strip().decode("utf-8")


def _serialize_member(name: str, item: Any) -> Any:
    if name in ("S", "N"):
        return _string(item)
    if name == "B":
        return _blob(item)
    if name in ("SS", "NS"):
        return [_string(v) for v in item]
    if name == "BS":
        return [_blob(v) for v in item]
    if name == "M":
        return _serialize_av_map(item)
    if name == "L":
        return [_serialize_av(v) for v in item]
    return item  # NULL, BOOL: booleans are written as they are


def _serialize_av(value: Any) -> dict[str, Any]:
    if type(value) is not dict or not _AV_NAMES.issuperset(value):
        raise _Generic
    if len(value) == 1:  # the usual case: one member, so model order is that member
        name, item = next(iter(value.items()))
        return {} if item is None else {name: _serialize_member(name, item)}
    out: dict[str, Any] = {}
    for name, _, _ in ATTRIBUTE_VALUE_MEMBERS:
        item = value.get(name)
        if item is not None:
            out[name] = _serialize_member(name, item)
    return out


def _serialize_av_map(value: Any) -> dict[str, Any]:
    """BaseJSONSerializer._serialize_type_map of a map of AttributeValues (an item, or an M)."""
    if type(value) is not dict:
        raise _Generic
    entries = {}
    for key, item in value.items():
        if not key:  # an empty key makes moto's serializer write the value into the map itself
            raise _Generic
        entries[key] = _serialize_av(item)
    return entries


def _fast_serializer(serializer: Any) -> bool:
    return serializer.operation_model.service_model.service_name in _AV_SERVICES \
        and not getattr(serializer._value_picker, "response_transformers", None)


def fast_attribute_value_serializer(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto/core/serialize.py serializes a response against botocore's model; for each member of a
    structure it builds an AttributePickerContext and tries up to a dozen aliases
    (`XFormedAttributePicker`): an AttributeValue costs about ten such lookups per level, so a page
    of items costs milliseconds per item. For DynamoDB's AttributeValue given as moto's handlers
    give it (`dynamo_to_dict`: a dict of member names) the same output is built directly (members
    in model order, None left out, strings through str(), blobs base64-encoded, maps and lists item
    by item); anything else, or any response transformer registered, goes to moto's code."""

    def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and type(value) is dict and "name" not in shape.serialization \
                and _fast_serializer(self):
            try:
                serialized[key] = _serialize_av(value)
                return
            except _Generic:
                pass
        original(self, serialized, value, shape, key)

    return _serialize_type_structure


def fast_attribute_map_serializer(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto/core/serialize.py `BaseJSONSerializer._serialize_type_map` for a map of AttributeValues
    (every item of a Query page, GetItem, BatchGetItem, a stream record's images): the same map,
    built without a dispatch per attribute (see fast_attribute_value_serializer)."""

    def _serialize_type_map(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if shape.value.name == "AttributeValue" and shape.key.type_name == "string" \
                and "name" not in shape.serialization and "name" not in shape.value.serialization \
                and _fast_serializer(self):
            try:
                entries = _serialize_av_map(value)
            except _Generic:
                pass
            else:
                serialized[key] = entries
                return
        original(self, serialized, value, shape, key)

    return _serialize_type_map


# -- 7. Query: a key range read in the partition's key order, not by sorting the table -------------

def _cast(key: Any) -> Any:
    return key.cast_value  # the value DynamoType's comparisons use


class _Unordered(Exception):
    """Index key values of different types in one partition: moto's own sort fails on them."""


class LocalOrder:
    """A local secondary index's order within one partition: (index key value, range key value,
    range key) for each item that has the index key, sorted as moto sorts an index query's
    candidates (by the index key, then the table's sort key; values as DynamoType compares them)."""

    __slots__ = ("attr", "kind", "entries", "by_key")

    def __init__(self, attr: str, items: Any) -> None:
        self.attr = attr
        self.kind: str | None = None
        self.by_key: dict[Any, tuple[Any, Any, Any]] = {}
        for key, item in items:
            entry = self._entry(key, item)
            if entry is not None:
                self.by_key[key] = entry
        self.entries = sorted(self.by_key.values(), key=_pair)

    def _entry(self, key: Any, item: Any) -> tuple[Any, Any, Any] | None:
        value = item.attrs.get(self.attr)
        if value is None:
            return None
        if self.kind is None:
            self.kind = value.type
        elif value.type != self.kind:
            raise _Unordered
        return (value.cast_value, key.cast_value, key)

    def discard(self, key: Any) -> None:
        entry = self.by_key.pop(key, None)
        if entry is not None:
            index = bisect.bisect_left(self.entries, _pair(entry), key=_pair)
            if index >= len(self.entries) or self.entries[index][2] != key:
                raise _Unordered
            del self.entries[index]

    def put(self, key: Any, item: Any) -> None:
        self.discard(key)
        entry = self._entry(key, item)
        if entry is not None:
            self.by_key[key] = entry
            bisect.insort(self.entries, entry, key=_pair)


def _pair(entry: tuple[Any, Any, Any]) -> tuple[Any, Any]:
    return entry[0], entry[1]


class SortedPartition(dict):
    """One partition of a table with a sort key (moto: `table.items[hash_key]`, a plain dict of
    range key -> Item). Also keeps its range keys in DynamoType order, and each local index's
    order (`LocalOrder`), each built on the first Query that needs it and then kept up to date by
    every insertion, replacement and deletion of an item, and by `reindex` after an update changed
    an item in place (DynamoDBBackend.update_item, the only code that does). Any other bulk change
    just forgets the orders (rebuilt when needed)."""

    __slots__ = ("_order", "_local")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        dict.__init__(self, *args, **kwargs)
        self._order: list[Any] | None = None
        self._local: dict[str, LocalOrder] = {}

    def order(self) -> list[Any]:
        if self._order is None:
            self._order = sorted(dict.keys(self), key=_cast)
        return self._order

    def local_order(self, attr: str) -> LocalOrder | None:
        local = self._local.get(attr)
        if local is None:
            try:
                local = self._local[attr] = LocalOrder(attr, dict.items(self))
            except Exception:  # noqa: BLE001 - mixed types or values that do not compare
                return None
        return local

    def reindex(self, key: Any) -> None:
        """The item at key may have changed in place: move it in each local order."""
        for attr, local in list(self._local.items()):
            try:
                item = dict.get(self, key)
                if item is None:
                    local.discard(key)
                else:
                    local.put(key, item)
            except Exception:  # noqa: BLE001
                del self._local[attr]

    def forget(self) -> None:
        self._order = None
        self._local = {}

    def _insert(self, key: Any) -> None:
        try:
            bisect.insort(self._order, key, key=_cast)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - keys that do not compare: forget the order
            self._order = None

    def _remove(self, key: Any) -> None:
        order = self._order
        try:
            index = bisect.bisect_left(order, _cast(key), key=_cast)  # type: ignore[arg-type]
            if index < len(order) and order[index] == key:  # type: ignore[index]
                del order[index]  # type: ignore[union-attr]
                return
        except Exception:  # noqa: BLE001
            pass
        self._order = None

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._order is not None and not dict.__contains__(self, key):
            self._insert(key)
        dict.__setitem__(self, key, value)
        if self._local:
            self.reindex(key)

    def __delitem__(self, key: Any) -> None:
        dict.__delitem__(self, key)
        if self._order is not None:
            self._remove(key)
        if self._local:
            self.reindex(key)

    def pop(self, key: Any, *default: Any) -> Any:
        present = dict.__contains__(self, key)
        value = dict.pop(self, key, *default)
        if present:
            if self._order is not None:
                self._remove(key)
            if self._local:
                self.reindex(key)
        return value

    def popitem(self) -> tuple[Any, Any]:
        self.forget()
        return dict.popitem(self)

    def clear(self) -> None:
        self.forget()
        dict.clear(self)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.forget()
        dict.update(self, *args, **kwargs)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self.forget()
        return dict.setdefault(self, key, default)

    def __ior__(self, other: Any) -> "SortedPartition":
        self.forget()
        dict.update(self, other)
        return self

    def __copy__(self) -> "SortedPartition":
        return SortedPartition(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> "SortedPartition":
        copied = SortedPartition()
        memo[id(self)] = copied
        for key, value in dict.items(self):
            dict.__setitem__(copied, copy.deepcopy(key, memo), copy.deepcopy(value, memo))
        return copied

    def __reduce__(self) -> Any:
        return (SortedPartition, (dict(self),))


def sorted_partition_table_init(original: Callable[..., None]) -> Callable[..., None]:
    """moto/dynamodb/models/table.py `Table.__init__` stores items in `defaultdict(dict)`: the
    partitions of a table with a sort key are SortedPartition dicts instead (same contents)."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.range_key_attr is not None and type(self.items) is defaultdict and not self.items:
            self.items = defaultdict(SortedPartition)

    return __init__


_LAST_KEY_SIZE_ROOM = 1000000 - ITEM_SIZE_LIMIT  # RESULT_SIZE_LIMIT minus the largest item


def _key_block(order: list[Any], key: Callable[[Any], Any], comparison: str | None,
               values: list[Any]) -> tuple[int, int] | None:
    """The slice of `order` (ascending by `key`) whose key values satisfy the key condition, or
    None when the condition is one this does not bound (moto then runs the query)."""
    n = len(order)
    if comparison is None:
        return 0, n
    try:
        bounds = [v.cast_value for v in values]
        if comparison in ("=", "EQ"):
            return bisect.bisect_left(order, bounds[0], key=key), bisect.bisect_right(order, bounds[0], key=key)
        if comparison in ("<", "LT"):
            return 0, bisect.bisect_left(order, bounds[0], key=key)
        if comparison in ("<=", "LE"):
            return 0, bisect.bisect_right(order, bounds[0], key=key)
        if comparison in (">", "GT"):
            return bisect.bisect_right(order, bounds[0], key=key), n
        if comparison in (">=", "GE"):
            return bisect.bisect_left(order, bounds[0], key=key), n
        if comparison == "BETWEEN":
            lo = bisect.bisect_left(order, bounds[0], key=key)
            return lo, max(lo, bisect.bisect_right(order, bounds[1], key=key))
        if comparison == "BEGINS_WITH":
            # The values starting with a prefix are those from the prefix up to (excluded) the
            # prefix with its last character incremented.
            prefix = bounds[0]
            if not isinstance(prefix, (str, bytes)) or not prefix:
                return None
            if isinstance(prefix, str):
                if ord(prefix[-1]) == 0x10FFFF:
                    return None
                after: Any = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            else:
                if prefix[-1] == 0xFF:
                    return None
                after = prefix[:-1] + bytes([prefix[-1] + 1])
            lo = bisect.bisect_left(order, prefix, key=key)
            return lo, max(lo, bisect.bisect_left(order, after, key=key))
    except Exception:  # noqa: BLE001 - values that do not compare with the keys: moto decides
        return None
    return None


def _first_entry(entry: tuple[Any, Any, Any]) -> Any:
    return entry[0]


class _OnePartition:
    """A table seen through one partition: `all_items()` gives only that partition's items, in the
    order Table.all_items gives them; everything else is the table's."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table = table
        self._items = items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list[Any]:
        return self._items


def _item_size(item: Any) -> int:
    """Item.size(): the byte sizes of every attribute name and value, the scalar string and number
    values measured the way DynamoType.size measures them, without its generic type tests."""
    from moto.dynamodb.models.utilities import bytesize

    total = 0
    for key, value in item.attrs.items():
        kind, inner = value.type, value.value
        if (kind == "S" or kind == "N") and type(inner) is str and type(key) is str:
            total += len(key.encode("utf-8")) + (len(inner.encode("utf-8")) if kind == "S" else len(inner))
        else:
            total += bytesize(key) + value.size()
    return total


def fast_item_project(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """moto/dynamodb/models/dynamo_type.py `Item.project` turns the whole item into Python values
    (boto3's TypeDeserializer, once per projected name) to pick the projected names, then back
    (TypeSerializer) into a new Item: the coordinator's keys-only pages paid that for every member.
    When each projected name is a plain top-level name, each projected attribute present is a
    string, boolean or null (which come back from that round trip as they were), and every
    attribute is one TypeDeserializer takes without error (strings, booleans, nulls, numbers within
    DynamoDB's 38 digits: checked with the same decimal context), the same new Item is built
    directly; anything else is moto's project."""
    import re

    from boto3.dynamodb.types import DYNAMODB_CONTEXT

    list_element = re.compile(r"(.+)\[(\d+)\]$")
    round_trips = {"S": str, "BOOL": bool, "NULL": bool}

    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        from moto.dynamodb.models.dynamo_type import Item

        names = []
        for expression in projection_expressions:
            if len(expression) != 1 or type(expression[0]) is not str or list_element.match(expression[0]):
                return original(self, projection_expressions)
            names.append(expression[0])
        try:
            for value in self.attrs.values():
                kind = value.type
                if kind == "N" and type(value.value) is str:
                    DYNAMODB_CONTEXT.create_decimal(value.value)  # TypeDeserializer's check, raising alike
                elif round_trips.get(kind) is not type(value.value):
                    return original(self, projection_expressions)
        except Exception:  # noqa: BLE001 - moto's project raises it
            return original(self, projection_expressions)
        attrs: dict[str, Any] = {}
        for name in names:
            value = self.attrs.get(name)
            if value is not None and name not in attrs:
                if value.type == "N":
                    return original(self, projection_expressions)  # numbers come back normalized
                attrs[name] = {value.type: value.value}
        stats["projections_fast"] += 1
        return Item(hash_key=self.hash_key, range_key=self.range_key, attrs=attrs)

    return project


def _take(table: Any, item_at: Callable[[int], Any], positions: range, after_block: range, limit: int | None,
          index_name: str | None) -> tuple[list[Any], int, dict[str, Any] | None]:
    """moto's Query loop (Table.query, after the ExclusiveStartKey) over the positions of the block
    of candidates that satisfy the key condition, in query order; then over the candidates after
    the block only as far as moto's loop could still set LastEvaluatedKey (see fast_table_query)."""
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    results: list[Any] = []
    result_size = 0
    scanned_count = 0
    for position in positions:
        result = item_at(position)
        size = _item_size(result)  # moto computes result.size() twice: the same value
        reached_length_limit = len(results) == limit
        reached_size_limit = (result_size + size) > RESULT_SIZE_LIMIT
        if reached_length_limit or reached_size_limit:
            return results, scanned_count, table._get_last_evaluated_key(results[-1], index_name)
        results.append(result)
        result_size += size
        scanned_count += 1
    if results:
        walk = after_block if result_size > _LAST_KEY_SIZE_ROOM else after_block[:1]
        for position in walk:
            if len(results) == limit or (result_size + _item_size(item_at(position))) > RESULT_SIZE_LIMIT:
                return results, scanned_count, table._get_last_evaluated_key(results[-1], index_name)
    return results, scanned_count, None


def _positions(n: int, lo: int, hi: int, forward: bool, start: int | None) -> tuple[range, range]:
    """The block [lo, hi) and the candidates after it, in query order, both limited to what comes
    after the ExclusiveStartKey: `start` is the first position after it (forward) or the first
    position not before it (backward), or None without one."""
    if forward:
        first = 0 if start is None else start
        return range(max(lo, first), hi), range(max(hi, first), n)
    first = n if start is None else start
    return range(min(hi, first) - 1, lo - 1, -1), range(min(lo, first) - 1, -1, -1)


def fast_table_query(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto/dynamodb/models/table.py `Table.query` sorts every item of the table (`all_items()`),
    keeps the partition's, sorts those again, walks them from the first to the ExclusiveStartKey,
    then deep-copies the page: each page costs the table's size, and a paged read of a partition
    costs its size squared. Here a Query of the table's keys reads the page from the partition's
    sorted keys, and a local-index Query from the partition's `LocalOrder` of that index (both kept
    by `SortedPartition`): the block of candidates the key condition admits, after the
    ExclusiveStartKey, in ScanIndexForward order, with moto's loop unchanged over it (Limit, the
    1 MB page, LastEvaluatedKey from the last item taken, Count and ScannedCount as moto counts
    them); then the index's projection, FilterExpression and ProjectionExpression as moto applies
    them. Candidates outside the block are never visited: moto's loop does nothing with them
    except, once the page is full, take the next one as the sign that more remain (the next one is
    enough for that, unless the page is within one item of 1 MB: then the rest is walked as moto
    walks it). Not deep-copied: Table.query's only caller is DynamoHandler.query, which turns the
    items into fresh dicts (DynamoResult -> dynamo_to_dict) before the lock is released.
    A local-index Query this cannot take is moto's, given only the partition's items; anything else
    (global indexes, QueryFilter, start keys from elsewhere) is moto's query unchanged."""

    def query(self: Any, hash_key: Any, range_comparison: str | None, range_objs: list[Any], limit: int,
              exclusive_start_key: dict[str, Any], scan_index_forward: bool,
              projection_expressions: list[list[str]] | None, index_name: str | None = None,
              consistent_read: bool = False, filter_expression: Any = None,
              hash_key_conditions: list[tuple[str, Any]] | None = None,
              range_key_conditions: list[tuple[str, str, list[Any]]] | None = None,
              **filter_kwargs: Any) -> tuple[list[Any], int, dict[str, Any] | None]:
        from moto.dynamodb.models.dynamo_type import DynamoType

        args = (hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                projection_expressions, index_name, consistent_read, filter_expression, hash_key_conditions,
                range_key_conditions)

        def moto() -> tuple[list[Any], int, dict[str, Any] | None]:
            stats["queries_slow"] += 1
            return original(self, *args, **filter_kwargs)

        if filter_kwargs or self.range_key_attr is None \
                or (limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1)) \
                or (range_key_conditions and len(range_key_conditions) != 1):
            return moto()
        forward = scan_index_forward is not False
        local = None
        if index_name:
            local = {index.name: index for index in self.indexes}.get(index_name)
            if local is None or not hash_key_conditions or len(hash_key_conditions) != 1 \
                    or hash_key_conditions[0][0] != self.hash_key_attr:
                return moto()
            schema = {k["KeyType"]: k["AttributeName"] for k in local.schema}
            if set(schema) != {"HASH", "RANGE"} or len(local.schema) != 2 or schema["HASH"] != self.hash_key_attr:
                return moto()
            attr = schema["RANGE"]
            partition_key = hash_key_conditions[0][1]
        else:
            attr = self.range_key_attr
            partition_key = hash_key
        if partition_key is None or (range_key_conditions and range_key_conditions[0][0] != attr):
            return moto()
        partition = self.items.get(partition_key)  # .get: moto's defaultdict would add an empty partition
        if partition is None:
            partition = SortedPartition()
        if not isinstance(partition, SortedPartition):
            return moto()

        if local is None:  # the table's own keys
            order: list[Any] = partition.order()
            key: Callable[[Any], Any] = _cast
            item_at: Callable[[int], Any] = lambda position: partition[order[position]]  # noqa: E731
        else:
            local_order = partition.local_order(attr)
            if local_order is None:  # moto's index query, over this partition only
                stats["queries_partition"] += 1
                items = [partition[k] for k in partition.order()]
                return original(_OnePartition(self, items), *args, **filter_kwargs)
            order = local_order.entries
            key = _first_entry
            item_at = lambda position: partition[order[position][2]]  # noqa: E731
        block = _key_block(order, key, range_comparison, range_objs)
        if block is None:
            return moto()
        start = None
        if exclusive_start_key is not None:
            # moto's _item_comes_before_dct: skip the candidates up to and including the start key
            # in query order. Only a start key of this partition with values of the candidates'
            # types is handled here.
            try:
                if DynamoType(exclusive_start_key[self.hash_key_attr]) != partition_key:
                    return moto()
                start_range = DynamoType(exclusive_start_key[self.range_key_attr])
                if start_range.type != self.range_key_type:
                    return moto()
                if local is None:
                    target: Any = start_range.cast_value
                else:
                    start_value = DynamoType(exclusive_start_key[attr])
                    if local_order.kind is not None and start_value.type != local_order.kind:  # type: ignore[union-attr]
                        return moto()
                    target = (start_value.cast_value, start_range.cast_value)
                    key = _pair
                start = bisect.bisect_right(order, target, key=key) if forward \
                    else bisect.bisect_left(order, target, key=key)
            except Exception:  # noqa: BLE001
                return moto()
        positions, after_block = _positions(len(order), block[0], block[1], forward, start)
        stats["queries_fast" if local is None else "queries_local"] += 1
        results, scanned_count, last_evaluated_key = _take(self, item_at, positions, after_block, limit, index_name)
        if local is not None:
            results = [local.project(r) for r in results]
        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]
        if projection_expressions:
            results = [r.project(projection_expressions) for r in results]
        return results, scanned_count, last_evaluated_key

    return query


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
    from moto.dynamodb.models.table import StreamRecord, StreamShard
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend
    from moto.core.parse import JSONParser
    from moto.dynamodb import responses as dynamodb_responses
    from moto.core.serialize import BaseJSONSerializer
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    trimmed_error, expired_error = _errors()
    targets = [
        (DynamoDBBackend, "transact_write_items"), (StreamShard, "add"), (StreamShard, "get"),
        (DynamoDBStreamsBackend, "get_shard_iterator"), (DynamoDBStreamsBackend, "get_records"),
        (DynamoHandler, "call_action"), (DynamoDBStreamsHandler, "call_action"),
        (DynamoDBBackend, "update_item"), (UpdateExpressionParser, "make"), (ConditionExpressionParser, "parse"),
        (Item, "__init__"), (DomainDispatcherApplication, "get_backend_for_host"),
        (JSONParser, "_parse_json_body"), (BaseJSONSerializer, "_serialize_type_structure"),
        (BaseJSONSerializer, "_serialize_type_map"),
        (dynamodb_responses, "dynamo_to_dict"), (StreamRecord, "__init__"), (Item, "project"),
        (Table, "__init__"), (Table, "query"),
    ]
    # The class's own attribute (a classmethod object, not the bound method), or the inherited one.
    originals: dict[tuple[type, str], Any] = {
        (owner, name): owner.__dict__[name] if name in owner.__dict__ else getattr(owner, name)
        for owner, name in targets}
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
        (DynamoDBBackend, "update_item"): fast_update_item(DynamoDBBackend.update_item),
        (UpdateExpressionParser, "make"): classmethod(cached_update_expression_parser(
            UpdateExpressionParser.__dict__["make"].__func__)),
        (ConditionExpressionParser, "parse"): cached_condition_parser(ConditionExpressionParser,
                                                                      ConditionExpressionParser.parse),
        (Item, "__init__"): item_init,
        (DomainDispatcherApplication, "get_backend_for_host"): memoized_backend_for_host(
            DomainDispatcherApplication.get_backend_for_host),
        (JSONParser, "_parse_json_body"): compiled_json_parser(JSONParser._parse_json_body),
        (dynamodb_responses, "dynamo_to_dict"): fast_dynamo_to_dict(dynamodb_responses.dynamo_to_dict),
        (BaseJSONSerializer, "_serialize_type_structure"): fast_attribute_value_serializer(
            BaseJSONSerializer._serialize_type_structure),
        (BaseJSONSerializer, "_serialize_type_map"): fast_attribute_map_serializer(
            BaseJSONSerializer._serialize_type_map),
        (Table, "__init__"): sorted_partition_table_init(Table.__init__),
        (StreamRecord, "__init__"): lean_stream_record_init,
        (Item, "project"): fast_item_project(Item.project),
        (Table, "query"): fast_table_query(Table.query),
    }
    for (owner, name), replacement in replacements.items():
        _inherited[(owner, name)] = name not in owner.__dict__
        original = originals[(owner, name)]
        if replacement is not original:
            function = replacement.__func__ if isinstance(replacement, classmethod) else replacement
            setattr(function, "__wrapped_by_moto_engine__",
                    original.__func__ if isinstance(original, classmethod) else original)
        setattr(owner, name, replacement)
    _installed = originals


def uninstall() -> None:
    """Put moto back as it was (for tests)."""
    global _installed
    if _installed is None:
        return
    for cache in (_update_asts, _conditions, _plans):
        cache.clear()
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
