"""The storage layer owns the schema: items written in the stored shape load as their item classes,
cursors handed out before the codec was shared still decode, failed writes read one way, and
retries happen at one level."""
from __future__ import annotations

import base64
import json

import botocore.exceptions
import pytest
from pynamodb.exceptions import CancellationReason, PutError, TransactWriteError, VerboseClientError

from chalicelib import cursors
from chalicelib.store import base, broadcasts, directory, inbox


def _client():
    from chalicelib.store.bootstrap import dynamodb_client

    return dynamodb_client()


def _put(model, item: dict) -> None:
    _client().put_item(TableName=model.Meta.table_name, Item=item)


def test_broadcast_items_in_the_stored_shape_load_as_their_classes(aws):
    """Items as the code before the item classes wrote them (every attribute of the old single
    model, `kind` a plain string) load as the class their `kind` names, readable names mapped."""
    pk, sk = "dev#org#o1", "01J00000000000000000000000"
    common = {"seq": {"N": "0"}, "eligible": {"N": "0"}, "delivered": {"N": "0"}, "skipped": {"N": "0"},
              "attempts": {"N": "0"}}
    _put(broadcasts.BroadcastItem, {"pk": {"S": pk}, "sk": {"S": sk}, "kind": {"S": "broadcast"},
                                    "status": {"S": "running"}, "chunks": {"N": "4"}, "created": {"N": "5"},
                                    "spec": {"S": json.dumps({"ref": "dev#msg|x", "sender": "server"})}, **common})
    _put(broadcasts.BroadcastItem, {"pk": {"S": pk}, "sk": {"S": f"{sk}#p"}, "kind": {"S": "progress"},
                                    "done": {"N": "3"}, "failed": {"N": "1"}, "total": {"N": "4"},
                                    "delivered": {"N": "9"}, **{k: v for k, v in common.items() if k != "delivered"}})
    _put(broadcasts.BroadcastItem, {"pk": {"S": pk}, "sk": {"S": f"{sk}#m#000000"}, "kind": {"S": "manifest"},
                                    "spec": {"S": json.dumps({"first": 0, "ranges": [[None, None]], "next": None})},
                                    **common})
    job = broadcasts.get_job("dev", "org#o1", sk)
    assert isinstance(job, broadcasts.BroadcastJob) and job.chunks_enqueued == 4 and job.status == "running"
    progress = broadcasts.progress(pk, sk)
    assert isinstance(progress, broadcasts.ProgressItem)
    assert (progress.chunks_done, progress.chunks_failed, progress.chunks_total, progress.delivered) == (3, 1, 4, 9)
    assert broadcasts.manifest(job) == {"first": 0, "ranges": [[None, None]], "next": None}
    # a key that holds no job is no job, whatever id pointed at it
    assert broadcasts.get_job("dev", "org#o1", "01J00000000000000000000001") is None
    raw = _client().get_item(TableName=broadcasts.BroadcastItem.Meta.table_name,
                             Key={"pk": {"S": pk}, "sk": {"S": f"{sk}#p"}})["Item"]
    assert broadcasts.job_from_image(raw).kind is broadcasts.ProgressItem


def test_new_broadcast_items_keep_the_stored_names(aws):
    broadcasts.put_broadcast_job("dev", "com", "c1", "01J00000000000000000000002", ref="dev#msg|y", sender="server",
                                 now_ms=7)
    job = broadcasts.get_job("dev", "com#c1", "01J00000000000000000000002")
    assert broadcasts.advance_broadcast(job, chunks_enqueued=2, next_after=None, now_ms=8)
    raw = _client().get_item(TableName=broadcasts.BroadcastItem.Meta.table_name,
                             Key={"pk": {"S": "dev#com#c1"}, "sk": {"S": "01J00000000000000000000002"}})["Item"]
    assert raw["kind"] == {"S": "broadcast"} and raw["chunks"] == {"N": "2"} and raw["status"] == {"S": "delivering"}
    progress = _client().get_item(TableName=broadcasts.BroadcastItem.Meta.table_name,
                                  Key={"pk": {"S": "dev#com#c1"}, "sk": {"S": "01J00000000000000000000002#p"}})["Item"]
    assert progress["kind"] == {"S": "progress"} and progress["total"] == {"N": "2"}
    assert not broadcasts.advance_broadcast(job, chunks_enqueued=2, next_after=None, now_ms=9)  # seq moved on


def test_directory_items_in_the_stored_shape_load_with_readable_names(aws):
    _put(directory.DirectoryItem, {"pk": {"S": "dev#org#o1"}, "sk": {"S": "m#bob"}, "mkey": {"S": "dev#bob"},
                                   "role": {"S": "Standard User"}, "banned": {"BOOL": False},
                                   "is_api": {"BOOL": True}, "joined": {"N": "12"}})
    _put(directory.DirectoryItem, {"pk": {"S": "dev#u#bob"}, "sk": {"S": "profile"}, "name": {"S": "Bob"},
                                   "picture": {"S": "https://x/p.png"}, "meta": {"M": {"a": {"S": "b"}}},
                                   "is_api": {"BOOL": True}})
    _put(directory.DirectoryItem, {"pk": {"S": "dev#u#bob"}, "sk": {"S": "settings"},
                                   "muted": {"L": [{"S": "T"}]}, "min_pri": {"N": "2"}})
    member = directory.get_member("dev", "org", "o1", "bob")
    assert (member.user, member.owner, member.is_api_user, member.joined_at) == ("bob", ("org", "o1"), True, 12)
    assert [m.user for m in directory.memberships_of("dev", "bob")] == ["bob"]
    profile = directory.get_profiles("dev", ["bob", "nobody"])["bob"]
    assert (profile.picture_url, profile.metadata.as_dict(), profile.is_api_user) == ("https://x/p.png", {"a": "b"},
                                                                                        True)
    settings = directory.get_settings("dev", "bob")
    assert (settings.muted_types, settings.min_priority) == (["T"], 2)
    assert directory.put_type_once("dev", "Alert") and not directory.put_type_once("dev", "ALERT")
    raw = _client().get_item(TableName=directory.DirectoryItem.Meta.table_name,
                             Key={"pk": {"S": "dev#types"}, "sk": {"S": "alert"}})["Item"]
    assert raw["name"] == {"S": "Alert"} and "created" in raw


def test_cursors_from_before_the_shared_codec_still_decode(aws):
    old_members = base64.urlsafe_b64encode(json.dumps({"sk": "m#bob"}).encode()).decode().rstrip("=")
    assert cursors.decode(old_members) == {"sk": "m#bob"}
    items, nxt = directory.members_page("dev", "org", "o1", 10, old_members)
    assert items == [] and nxt is None
    old_inbox = base64.urlsafe_b64encode(json.dumps({"i": "by_activity", "s": "01J00000000000000000000000",
                                                     "r": "01J00000000000000000000000"},
                                                    separators=(",", ":")).encode()).decode().rstrip("=")
    assert inbox._start_key(old_inbox, "by_activity", "dev#bob")["act"] == {"S": "01J00000000000000000000000"}
    for bad in ("garbage", "AAAA", cursors.encode([1, 2]), cursors.encode({"sk": 3})):
        with pytest.raises(cursors.InvalidCursor):
            directory.members_page("dev", "org", "o1", 10, bad)


def _cancelled(*codes: str) -> TransactWriteError:
    cause = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
                               "TransactWriteItems", {},
                               cancellation_reasons=[CancellationReason(code=c) if c else None for c in codes])
    return TransactWriteError("Failed to write transaction items", cause=cause)


def test_failed_writes_read_one_way():
    assert base.failed_conditions(_cancelled("None", "ConditionalCheckFailed", None)) == {1}
    assert base.failed_conditions(_cancelled("ThrottlingError", "None")) == set()
    assert base.is_retryable_cancellation(_cancelled("TransactionConflict", "None"))
    assert not base.is_retryable_cancellation(_cancelled("ConditionalCheckFailed", "ThrottlingError"))
    refused = PutError("put failed", cause=botocore.exceptions.ClientError(
        {"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}, "PutItem"))
    assert base.condition_failed(refused) and not base.transaction_cancelled(refused)
    assert base.transaction_cancelled(_cancelled("None"))


def test_with_backoff_retries_only_what_botocore_does_not(monkeypatch):
    """botocore's standard mode retries a throttled call; with_backoff retries only a transaction
    cancelled for throttling or a conflict, so no error is retried at two levels."""
    monkeypatch.setattr(base.time, "sleep", lambda s: None)
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] < 3:
            raise _cancelled("TransactionConflict", "None")
        return "ok"

    assert base.with_backoff(flaky) == "ok" and calls["n"] == 3
    throttled = botocore.exceptions.ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "PutItem")
    calls["n"] = 0

    def throttled_call():
        calls["n"] += 1
        raise throttled

    with pytest.raises(botocore.exceptions.ClientError):
        base.with_backoff(throttled_call)
    assert calls["n"] == 1  # botocore already spent its attempts on it
    calls["n"] = 0

    def always_conflicting():
        calls["n"] += 1
        raise _cancelled("TransactionConflict")

    with pytest.raises(TransactWriteError):
        base.with_backoff(always_conflicting)
    assert calls["n"] == base.RETRY_ATTEMPTS


def test_store_base_imports_no_table_module():
    import ast
    import pathlib

    tree = ast.parse(pathlib.Path(base.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {m for m in imported if m and m.startswith("chalicelib.store.") and m != "chalicelib.store.base"}
