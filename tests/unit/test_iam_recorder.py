"""The IAM recorder itself (tests/iam_recorder.py): what each API call needs, which function a call
belongs to (across thread pools), per-function caches, and the evaluation of a template's roles."""
from __future__ import annotations

from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from tests import iam_recorder as rec
from tests.unit.test_expiry import ttl_remove


def test_what_iam_authorizes_for_each_kind_of_call():
    tx = {"TransactItems": [
        {"Put": {"TableName": "p-inbox", "Item": {}}},
        {"Update": {"TableName": "p-counters", "Key": {}}},
        {"Delete": {"TableName": "p-broadcasts", "Key": {}}},
        {"ConditionCheck": {"TableName": "arn:aws:dynamodb:us-east-1:1:table/p-broadcasts", "Key": {}}},
    ]}
    assert rec.iam_requests("dynamodb", "TransactWriteItems", tx) == [
        ("dynamodb:PutItem", "table:p-inbox"), ("dynamodb:UpdateItem", "table:p-counters"),
        ("dynamodb:DeleteItem", "table:p-broadcasts"), ("dynamodb:ConditionCheckItem", "table:p-broadcasts")]
    assert rec.iam_requests("dynamodb", "TransactGetItems", {"TransactItems": [{"Get": {"TableName": "p-inbox"}}]}) \
        == [("dynamodb:GetItem", "table:p-inbox")]
    assert rec.iam_requests("dynamodb", "BatchGetItem", {"RequestItems": {"p-directory": {}, "p-broadcasts": {}}}) \
        == [("dynamodb:BatchGetItem", "table:p-directory"), ("dynamodb:BatchGetItem", "table:p-broadcasts")]
    assert rec.iam_requests("dynamodb", "BatchWriteItem", {"RequestItems": {"p-directory": []}}) == \
        [("dynamodb:BatchWriteItem", "table:p-directory")]
    assert rec.iam_requests("dynamodb", "Query", {"TableName": "p-inbox", "IndexName": "unread"}) == \
        [("dynamodb:Query", "index:p-inbox/unread")]
    assert rec.iam_requests("dynamodb", "Query", {"TableName": "p-inbox"}) == [("dynamodb:Query", "table:p-inbox")]
    assert rec.iam_requests("dynamodb", "ListTables", {}) == [("dynamodb:ListTables", "*")]
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/p-work"
    assert rec.iam_requests("sqs", "SendMessageBatch", {"QueueUrl": url, "Entries": []}) == \
        [("sqs:SendMessage", "queue:p-work")]
    assert rec.iam_requests("sqs", "DeleteMessageBatch", {"QueueUrl": url}) == [("sqs:DeleteMessage", "queue:p-work")]
    assert rec.iam_requests("sqs", "GetQueueUrl", {"QueueName": "p-work"}) == [("sqs:GetQueueUrl", "queue:p-work")]
    stream = "arn:aws:dynamodb:us-east-1:1:table/p-broadcasts/stream/2024"
    assert rec.iam_requests("dynamodbstreams", "GetShardIterator", {"StreamArn": stream, "ShardId": "s"}) == \
        [("dynamodb:GetShardIterator", "stream:p-broadcasts")]
    assert rec.iam_requests("dynamodbstreams", "GetRecords", {"ShardIterator": "it"}, {"it": stream}) == \
        [("dynamodb:GetRecords", "stream:p-broadcasts")]


def test_calls_belong_to_the_entry_point_on_the_stack_and_test_calls_to_none(server, as_user):
    server.post("/v1/notifications", {"recipients": ["ann"], "type": "T", "message": "one"})
    ann = as_user("ann")
    note = ann.get("/v1/users/me/notifications").data["notifications"][0]
    from chalicelib.store.inbox import InboxItem

    item = next(i for i in InboxItem.query("dev#ann") if i.act)
    with rec.capture() as records:
        item.delete()  # the test itself: not recorded
        boto3.client("dynamodb", region_name="us-east-1").list_tables()
        assert records.calls == {}
        rec_event = {"Records": [ttl_remove(item)]}
        from chalicelib.streams import handle_inbox_stream

        assert handle_inbox_stream(rec_event) == {"batchItemFailures": []}
        ann.get(f"/v1/notifications/{note['id']}")
    assert {(f, a) for f, a, _ in records.calls} >= {
        ("Expiry", "dynamodb:PutItem"), ("Expiry", "dynamodb:UpdateItem"), ("Api", "dynamodb:GetItem")}
    assert records.calls[("Expiry", "dynamodb:PutItem", "table:notifications-dev-counters")] == \
        {"TransactWriteItems": 1}
    assert records.functions() == {"Api", "Expiry"}


def pretend_entry_point(work):
    """Registered as the Writer's entry point by the test below."""
    return work()


def test_work_submitted_to_a_thread_pool_keeps_its_function(aws, monkeypatch):
    monkeypatch.setitem(rec.ENTRY_POINTS, ("tests/unit/test_iam_recorder.py", "pretend_entry_point"), "Writer")
    monkeypatch.setattr(rec, "_code_labels", {})
    ddb = boto3.client("dynamodb", region_name="us-east-1")

    def fan_out():
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="caller") as pool:
            return list(pool.map(lambda _: ddb.describe_table(TableName="notifications-dev-inbox"), range(4)))

    with rec.capture() as records:
        pretend_entry_point(fan_out)
        fan_out()  # the same pool work submitted by the test: not recorded
    assert records.calls == {("Writer", "dynamodb:DescribeTable", "table:notifications-dev-inbox"):
                             {"DescribeTable": 4}}


def test_process_caches_are_kept_per_function(monkeypatch):
    monkeypatch.setitem(rec.ENTRY_POINTS, ("tests/unit/test_iam_recorder.py", "pretend_entry_point"), "Fanout")
    monkeypatch.setattr(rec, "_code_labels", {})
    cache = rec.PerFunction(OrderedDict())
    cache["ref"] = "seen by the tests"
    pretend_entry_point(lambda: cache.__setitem__("other", 1))
    assert "ref" in cache and "other" not in cache
    assert pretend_entry_point(lambda: ("ref" in cache, "other" in cache, len(cache))) == (False, True, 1)
    pretend_entry_point(lambda: cache.popitem(last=False))  # OrderedDict's own methods reach the partition
    assert pretend_entry_point(lambda: len(cache)) == 0 and len(cache) == 1
    cache.clear()
    assert len(cache) == 0
    registered = rec.PerFunction(set())
    registered.add(("dev", "t"))
    assert pretend_entry_point(lambda: ("dev", "t") in registered) is False


def _template(statements, *, mapping=True):
    table = {"Fn::GetAtt": ["TableInbox", "Arn"]}
    resources = {
        "TableInbox": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "notifications-prod-inbox"}},
        "WorkQueue1": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "notifications-prod-work"}},
        "Writer": {"Type": "AWS::Serverless::Function", "Properties": {"Role": {"Fn::GetAtt": ["WriterRole1", "Arn"]}}},
        "WriterRole1": {"Type": "AWS::IAM::Role", "Properties": {"ManagedPolicyArns": [{"Fn::Join": ["", [
            "arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]]}]}},
        "WriterPolicy": {"Type": "AWS::IAM::Policy", "Properties": {
            "Roles": [{"Ref": "WriterRole1"}], "PolicyDocument": {
                "Statement": [dict(s, Resource=[table if r == "table" else {"Fn::Join": ["", [table, "/index/*"]]}
                                                if r == "index" else {"Fn::GetAtt": ["WorkQueue1", "Arn"]}
                                                for r in s["Resource"]]) for s in statements]}}},
    }
    if mapping:
        resources["Mapping"] = {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "EventSourceArn": {"Fn::GetAtt": ["WorkQueue1", "Arn"]},
            "FunctionName": {"Fn::Select": [6, {"Fn::Split": [":", {"Fn::GetAtt": ["Writer", "Arn"]}]}]}}}
    return {"Resources": resources}


def test_roles_are_evaluated_like_iam():
    template = _template([
        {"Effect": "Allow", "Action": ["dynamodb:Query", "dynamodb:Put*"], "Resource": ["table"]},
        {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": ["table"]},
        {"Effect": "Allow", "Action": ["dynamodb:UpdateItem"], "Resource": ["table", "index"]},
        {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:PurgeQueue"],
         "Resource": ["queue"]},
    ])
    records = rec.Records()
    records.add("Writer", "Query", [("dynamodb:Query", "table:it-main-inbox")])       # any prefix: the kind counts
    records.add("Writer", "Query", [("dynamodb:Query", "index:notifications-dev-inbox/unread")])  # needs index/*
    records.add("Writer", "TransactWriteItems", [("dynamodb:PutItem", "table:notifications-dev-inbox"),
                                                 ("dynamodb:UpdateItem", "table:notifications-dev-inbox")])
    records.add("Writer", "SendMessageBatch", [("sqs:SendMessage", "queue:notifications-dev-work")])
    records.add("Writer", "GetItem", [("dynamodb:GetItem", "table:notifications-dev-scratch")])
    records.add("Api", "GetItem", [("dynamodb:GetItem", "table:notifications-dev-inbox")])
    outcome = rec.check(template, records)
    assert sorted(outcome.denied) == [
        "Api: dynamodb:GetItem on table:notifications-dev-inbox (GetItem x1): the template has no such function",
        "Writer: dynamodb:GetItem on table:notifications-dev-scratch (GetItem x1): not a resource of the template",
        "Writer: dynamodb:PutItem on inbox (TransactWriteItems x1) is not allowed by WriterRole1",  # explicit deny
        "Writer: dynamodb:Query on inbox/index/unread (Query x1) is not allowed by WriterRole1",
    ]
    # Put* served nothing: the only PutItem was denied
    assert outcome.unused == {"WriterRole1": ["inbox: Put*", "inbox/index/*: UpdateItem", "queue work: PurgeQueue"]}
    assert outcome.by_event_source == {"WriterRole1": ["queue work: ReceiveMessage"]}


def test_what_the_evaluator_cannot_model_is_refused():
    template = _template([{"Effect": "Allow", "Action": "dynamodb:Query", "Resource": ["table"],
                           "Condition": {"Bool": {"aws:SecureTransport": "true"}}}])
    with pytest.raises(rec.TemplateError):
        rec.check(template, rec.Records())
    template = _template([{"Effect": "Allow", "Action": "dynamodb:Query", "Resource": ["table"]}])
    template["Resources"]["WriterRole1"]["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AdminAccess"]
    with pytest.raises(rec.TemplateError):
        rec.check(template, rec.Records())
