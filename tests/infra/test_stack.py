"""The synthesized CloudFormation: tables from the one definition, the Chalice app wired to
them, the fan-out event source mapping, least-privilege IAM, alarms, throttling, cfn-lint."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.store.base import all_models, describe_model


def _resources(template, rtype: str) -> dict:
    return template.find_resources(rtype)


def _tables(template) -> dict[str, dict]:
    return {r["Properties"]["TableName"]: r["Properties"] for r in _resources(template, "AWS::DynamoDB::Table").values()}


def _keys(schema) -> list[tuple[str, str]]:
    return sorted((k["AttributeName"], k["KeyType"]) for k in schema)


def _indexes(indexes) -> dict:
    """CloudFormation's IndexName/KeySchema/Projection or PynamoDB's index_name/key_schema/projection."""
    def get(i, *names):
        return next(i[n] for n in names if n in i)

    return {get(i, "IndexName", "index_name"): (_keys(get(i, "KeySchema", "key_schema")),
                                                get(i, "Projection", "projection")["ProjectionType"])
            for i in indexes or []}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_tables_match_the_models(templates, stage):
    tables = _tables(templates[stage])
    assert len(tables) == len(all_models())
    for model in all_models():
        spec = describe_model(model)
        props = tables[f"notifications-{stage}-{spec['kind']}"]
        assert _keys(props["KeySchema"]) == _keys(spec["key_schema"])
        assert sorted((a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]) == \
            sorted((a["AttributeName"], a["AttributeType"]) for a in spec["attribute_definitions"])
        assert _indexes(props.get("GlobalSecondaryIndexes")) == _indexes(spec["global_secondary_indexes"])
        assert _indexes(props.get("LocalSecondaryIndexes")) == _indexes(spec["local_secondary_indexes"])
        stream = props.get("StreamSpecification", {}).get("StreamViewType")
        assert stream == spec["stream_view_type"]
        ttl = props.get("TimeToLiveSpecification")
        assert (ttl and ttl["AttributeName"]) == (spec["ttl_attribute"] or None)
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        prod = stage == "prod"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is prod
        assert props["DeletionProtectionEnabled"] is prod


def test_expected_shapes_of_known_tables(templates):
    tables = _tables(templates["prod"])
    inbox = tables["notifications-prod-inbox"]
    assert set(_indexes(inbox["LocalSecondaryIndexes"])) == {"by_activity", "unread"}
    assert set(_indexes(inbox["GlobalSecondaryIndexes"])) == {"by_tenant"}
    assert set(_indexes(tables["notifications-prod-directory"]["GlobalSecondaryIndexes"])) == {"by_member"}
    assert tables["notifications-prod-broadcasts"]["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    for kind in ("inbox", "broadcasts", "idempotency"):
        assert tables[f"notifications-prod-{kind}"]["TimeToLiveSpecification"] == {"AttributeName": "expires",
                                                                                   "Enabled": True}


def test_prod_tables_are_retained(templates):
    from aws_cdk.assertions import Match

    templates["prod"].all_resources("AWS::DynamoDB::Table", Match.object_like({"DeletionPolicy": "Retain"}))
    templates["dev"].all_resources("AWS::DynamoDB::Table", Match.object_like({"DeletionPolicy": "Delete"}))


def test_functions_get_table_prefix_and_secret_backed_keys(templates):
    functions = _resources(templates["prod"], "AWS::Serverless::Function")
    assert set(functions) == {"APIHandler", "Fanout", "Expiry"}  # tokens are verified in the API handler
    for name, fn in functions.items():
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["TABLE_PREFIX"] == "notifications-prod", name
        assert env["ALLOW_DEV_KEYS"] == "false"
        assert "{{resolve:secretsmanager:" in json.dumps(env["TENANT_KEYS"])
    assert functions["Fanout"]["Properties"]["Handler"] == "app.fanout"


def test_event_source_mapping(templates):
    from aws_cdk.assertions import Match

    templates["prod"].has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": ["TableBroadcasts", "StreamArn"]},
        "FunctionName": Match.object_like({"Fn::Select": Match.array_with([6])}),
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": Match.any_value(),
        "MaximumRecordAgeInSeconds": Match.any_value(),
        "StartingPosition": "TRIM_HORIZON",
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [Match.string_like_regexp("FanoutFailures"),
                                                                          "Arn"]}}},
        "FilterCriteria": {"Filters": [{"Pattern": Match.any_value()}]},
    })
    mapping = _mapping(templates["prod"], "TableBroadcasts")
    assert 0 < mapping["MaximumRetryAttempts"] <= 10
    assert 60 <= mapping["MaximumRecordAgeInSeconds"] <= 24 * 3600
    assert "Fanout" in json.dumps(mapping["FunctionName"])
    # Each chunk's record triggers the next: no batching window; other broadcasts run beside a long one.
    assert mapping.get("MaximumBatchingWindowInSeconds", 0) == 0
    assert mapping["ParallelizationFactor"] == 10


def _mapping(template, table_logical_id: str) -> dict:
    """The event source mapping reading `table_logical_id`'s stream."""
    found = [m["Properties"] for m in _resources(template, "AWS::Lambda::EventSourceMapping").values()
             if json.dumps(m["Properties"]["EventSourceArn"]).count(table_logical_id)]
    assert len(found) == 1, found
    return found[0]


def test_expiry_mapping_passes_exactly_ttl_deletions(templates):
    from chalicelib.streams import is_ttl_expiry

    mapping = _mapping(templates["prod"], "TableInbox")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert "ExpiryFailures" in json.dumps(mapping["DestinationConfig"])
    assert "Expiry" in json.dumps(mapping["FunctionName"])
    pattern = json.loads(mapping["FilterCriteria"]["Filters"][0]["Pattern"])
    old = {"pk": {"S": "t#u"}, "sk": {"S": "01J"}, "act": {"S": "01J"}}
    ttl = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    for record, wanted in (
        ({"eventName": "REMOVE", "userIdentity": ttl, "dynamodb": {"OldImage": old}}, True),
        ({"eventName": "REMOVE", "dynamodb": {"OldImage": old}}, False),  # a user's delete
        ({"eventName": "INSERT", "dynamodb": {"NewImage": old}}, False),
    ):
        assert _matches(pattern, record) == wanted
        assert is_ttl_expiry(record) == wanted
    statements = _statements(templates["prod"], "ExpiryRole")
    actions = _table_actions(statements)
    assert set(actions) == {"counters", "counters/index", "inbox:stream"}, actions
    assert "dynamodb:DeleteItem" not in actions["counters"]


def _matches(pattern, value) -> bool:
    """The subset of EventBridge/Lambda filter syntax the stack uses: nested objects, lists of values."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and _matches(p, value[k]) for k, p in pattern.items())
    return value in pattern


def _record(event: str, kind: str | None, status: str | None, old: dict | None = None) -> dict:
    image = {"pk": {"S": "t#org#o"}, "sk": {"S": "01J"}}
    if kind:
        image["kind"] = {"S": kind}
    if status:
        image["status"] = {"S": status}
    data = {"SequenceNumber": "1"}
    if event != "REMOVE":
        data["NewImage"] = image
    if old is not None or event == "REMOVE":
        data["OldImage"] = old if old is not None else image
    return {"eventName": event, "dynamodb": data}


@pytest.mark.parametrize("record", [
    _record("INSERT", "broadcast", "queued"), _record("MODIFY", "broadcast", "running", old={}),
    _record("MODIFY", "readall", "queued", old={}), _record("INSERT", "message", None),
    _record("MODIFY", "broadcast", "complete", old={}), _record("MODIFY", "broadcast", "failed", old={}),
    _record("REMOVE", "broadcast", "queued"), _record("INSERT", "readall", "complete"),
])
def test_filter_passes_exactly_what_the_handler_acts_on(templates, record):
    from chalicelib.streams import _relevant

    mapping = _mapping(templates["prod"], "TableBroadcasts")
    pattern = json.loads(mapping["FilterCriteria"]["Filters"][0]["Pattern"])
    assert _matches(pattern, record) == _relevant(record)


def test_a_no_op_modify_passes_the_filter_and_the_handler_ignores_it(templates):
    """A filter cannot compare OldImage with NewImage; DynamoDB emits no record for a write that
    changes nothing (moto does), and the handler drops it if one comes."""
    from chalicelib.streams import _relevant

    record = _record("MODIFY", "broadcast", "running")
    record["dynamodb"]["OldImage"] = dict(record["dynamodb"]["NewImage"])
    mapping = _mapping(templates["prod"], "TableBroadcasts")
    assert _matches(json.loads(mapping["FilterCriteria"]["Filters"][0]["Pattern"]), record)
    assert not _relevant(record)


def _statements(template, role_prefix: str) -> list[dict]:
    out = []
    for policy in _resources(template, "AWS::IAM::Policy").values():
        roles = json.dumps(policy["Properties"]["Roles"])
        if role_prefix in roles:
            out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def _table_actions(statements) -> dict[str, set[str]]:
    by_table: dict[str, set[str]] = {}
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for res in resources:
            text = json.dumps(res)
            for kind in ("Inbox", "Counters", "Directory", "Broadcasts", "Idempotency"):
                if f'"Table{kind}"' in text:
                    key = kind.lower() + ("/index" if "/index/" in text else "")
                    key += ":stream" if "StreamArn" in text else ""
                    by_table.setdefault(key, set()).update(actions)
    return by_table


def test_least_privilege_iam(templates):
    t = templates["prod"]
    api = _table_actions(_statements(t, "ApiRole"))
    for kind in ("inbox", "counters", "directory", "broadcasts", "idempotency"):
        assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem"} <= api[kind], kind
        assert api[kind + "/index"] == api[kind]  # indexes covered, same actions
    fanout = _table_actions(_statements(t, "FanoutRole"))
    assert "idempotency" not in fanout
    assert "dynamodb:DeleteItem" not in set().union(*fanout.values())
    assert {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"} <= \
        fanout["broadcasts:stream"]
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= fanout["inbox"]
    assert fanout["counters"] >= {"dynamodb:UpdateItem"}
    everything = [s for name in ("ApiRole", "FanoutRole") for s in _statements(t, name)]
    for st in everything:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        assert not any(a in ("*", "dynamodb:*") for a in actions)
        assert st["Resource"] != "*" or all(a.startswith(("sqs:", "kms:")) for a in actions), st
    functions = _resources(t, "AWS::Serverless::Function")
    assert "FanoutRole" in json.dumps(functions["Fanout"]["Properties"]["Role"])
    assert "ApiRole" in json.dumps(functions["APIHandler"]["Properties"]["Role"])
    sqs = [s for s in _statements(t, "FanoutRole") if "sqs:SendMessage" in s["Action"]]
    assert sqs and "FanoutFailures" in json.dumps(sqs[0]["Resource"])


def test_alarms(templates):
    alarms = [a["Properties"] for a in _resources(templates["prod"], "AWS::CloudWatch::Alarm").values()]
    metrics = {(a["Namespace"], a["MetricName"]) for a in alarms}
    assert ("AWS/Lambda", "IteratorAge") in metrics
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in metrics
    assert ("AWS/Lambda", "Throttles") in metrics and ("AWS/Lambda", "Errors") in metrics
    assert ("AWS/DynamoDB", "WriteThrottleEvents") in metrics
    assert all(a["AlarmActions"] for a in alarms)


def test_api_throttling_and_gateway_responses(templates):
    api = _resources(templates["prod"], "AWS::Serverless::Api")["RestAPI"]["Properties"]
    settings = api["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] >= settings["ThrottlingRateLimit"]
    assert "Auth" not in api  # no API Gateway authorizer: one invocation per request, 401s shaped by each surface
    templates["prod"].has_resource_properties("AWS::ApiGateway::GatewayResponse", {
        "ResponseType": "MISSING_AUTHENTICATION_TOKEN", "StatusCode": "404", "RestApiId": {"Ref": "RestAPI"},
        "ResponseTemplates": {"application/json": json.dumps(
            {"error": "not_found", "message": "no resource at this path"})},
    })
    responses = _resources(templates["prod"], "AWS::ApiGateway::GatewayResponse").values()
    assert {r["Properties"]["ResponseType"] for r in responses} >= {"THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX"}
    for r in responses:  # fixed messages: nothing from the request (headers, tokens) is echoed
        assert "$context" not in json.dumps(r["Properties"]["ResponseTemplates"])


def test_unknown_paths_reach_each_surface(templates):
    """Greedy catch-alls under each surface's prefix, so an unknown path gets that surface's 404."""
    api = _resources(templates["prod"], "AWS::Serverless::Api")["RestAPI"]["Properties"]
    paths = api["DefinitionBody"]["paths"]
    for prefix in ("", "/v1", "/threatconnect", "/cord", "/api3", "/spark"):
        assert f"{prefix}/{{proxy+}}" in paths, prefix


def test_cfn_lint_accepts_the_templates(synthesized):
    _, outdir = synthesized
    files = sorted(str(p) for p in Path(outdir).glob("*.template.json"))
    assert len(files) == 2
    exe = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or "cfn-lint"
    result = subprocess.run([exe, *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
