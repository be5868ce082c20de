"""The synthesized CloudFormation: tables from the one definition, the Chalice app wired to
them, the stream and work-queue event source mappings, least-privilege IAM, alarms, throttling,
prod's warm throughput, cfn-lint."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.store.tables import all_models, describe_model


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
    # tokens are verified in the API handler; the WebSocket handlers and the push function are realtime's
    assert set(functions) == {"APIHandler", "Fanout", "Expiry", "Writer", "Push", "WebsocketConnect", "WebsocketMessage",
                              "WebsocketDisconnect"}
    work_queue = _queue_id(templates["prod"], "notifications-prod-work")
    redrive = _resources(templates["prod"], "AWS::SQS::Queue")[work_queue]["Properties"]["RedrivePolicy"]
    for name, fn in functions.items():
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["TABLE_PREFIX"] == "notifications-prod", name
        assert env["ALLOW_DEV_KEYS"] == "false"
        assert "{{resolve:secretsmanager:" in json.dumps(env["TENANT_KEYS"])
        assert env["WORK_QUEUE_URL"] == {"Ref": work_queue}, name
        assert env["WORK_QUEUE_MAX_RECEIVES"] == str(redrive["maxReceiveCount"]), name  # one constant
    assert functions["Fanout"]["Properties"]["Handler"] == "app.fanout"
    assert functions["Writer"]["Properties"]["Handler"] == "app.writer"


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


def _mapping(template, table_logical_id: str, function: str | None = None) -> dict:
    """The event source mapping reading `table_logical_id`'s stream (into `function`, where several do)."""
    found = [m["Properties"] for m in _resources(template, "AWS::Lambda::EventSourceMapping").values()
             if json.dumps(m["Properties"]["EventSourceArn"]).count(table_logical_id)
             and (function is None or f'"{function}"' in json.dumps(m["Properties"]["FunctionName"]))]
    assert len(found) == 1, found
    return found[0]


def test_expiry_mapping_passes_exactly_ttl_deletions(templates):
    from chalicelib.streams import is_ttl_expiry

    mapping = _mapping(templates["prod"], "TableInbox", "Expiry")
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
            for kind in ("Inbox", "Counters", "Directory", "Broadcasts", "Idempotency", "Connections"):
                if f'"Table{kind}"' in text:
                    key = kind.lower() + ("/index" if "/index/" in text else "")
                    key += ":stream" if "StreamArn" in text else ""
                    by_table.setdefault(key, set()).update(actions)
    return by_table


def _queue_actions(statements) -> dict[str, set[str]]:
    """Queue logical id -> the actions statements allow on it."""
    out: dict[str, set[str]] = {}
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for res in resources:
            if isinstance(res, dict) and "Fn::GetAtt" in res and res["Fn::GetAtt"][1] == "Arn" and \
                    res["Fn::GetAtt"][0].startswith(("Work", "FanoutFailures", "ExpiryFailures")):
                out.setdefault(res["Fn::GetAtt"][0], set()).update(actions)
    return out


def _queue_id(template, queue_name: str) -> str:
    found = [k for k, q in _resources(template, "AWS::SQS::Queue").items()
             if q["Properties"].get("QueueName") == queue_name]
    assert len(found) == 1, (queue_name, found)
    return found[0]


def test_least_privilege_iam(templates):
    t = templates["prod"]
    api = _table_actions(_statements(t, "ApiRole"))
    for kind in ("inbox", "counters", "directory", "broadcasts", "idempotency"):
        assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem"} <= api[kind], kind
        assert api[kind + "/index"] == api[kind]  # indexes covered, same actions
    assert _queue_actions(_statements(t, "ApiRole")) == {}
    work = _queue_id(t, "notifications-prod-work")
    # The coordinator (fan-out v2) reads members and writes manifests/progress; the writers write inboxes.
    fanout = _table_actions(_statements(t, "FanoutRole"))
    assert set(fanout) == {"directory", "directory/index", "broadcasts", "broadcasts/index", "broadcasts:stream"}
    assert fanout["directory"] == {"dynamodb:Query"}
    assert fanout["broadcasts"] == {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                    "dynamodb:ConditionCheckItem"}
    assert {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"} <= \
        fanout["broadcasts:stream"]
    queues = _queue_actions(_statements(t, "FanoutRole"))
    assert queues[work] == {"sqs:SendMessage"}  # SendMessageBatch is authorized by sqs:SendMessage
    failures = next(q for q in queues if q.startswith("FanoutFailures"))
    assert set(queues) == {work, failures}
    assert "sqs:SendMessage" in queues[failures]  # the stream mapping's on-failure destination
    everything = [s for name in ("ApiRole", "FanoutRole", "ExpiryRole", "WriterRole", "PushRole", "SocketsRole")
                  for s in _statements(t, name)]
    for st in everything:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        assert not any(a in ("*", "dynamodb:*") for a in actions)
        # "*" only where the service has no resource-level scope (X-Ray's trace segments)
        assert st["Resource"] != "*" or all(a.startswith(("sqs:", "kms:", "xray:")) for a in actions), st
    functions = _resources(t, "AWS::Serverless::Function")
    assert "FanoutRole" in json.dumps(functions["Fanout"]["Properties"]["Role"])
    assert "ApiRole" in json.dumps(functions["APIHandler"]["Properties"]["Role"])
    assert "WriterRole" in json.dumps(functions["Writer"]["Properties"]["Role"])


def test_writer_role(templates):
    t = templates["prod"]
    writer = _table_actions(_statements(t, "WriterRole"))
    assert set(writer) == {k for kind in ("directory", "inbox", "counters", "broadcasts")
                           for k in (kind, kind + "/index")}  # no idempotency table, no stream
    assert writer["directory"] == {"dynamodb:Query", "dynamodb:BatchGetItem"}
    # a copy: a conditional Put (TransactWriteItems); mark-all-read: Query (LSIs) and UpdateItem
    assert writer["inbox"] == {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"}
    assert writer["inbox/index"] == writer["inbox"]
    assert writer["counters"] == {"dynamodb:UpdateItem"}
    assert writer["broadcasts"] == {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem",
                                    "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"}
    queues = _queue_actions(_statements(t, "WriterRole"))
    assert queues == {_queue_id(t, "notifications-prod-work"): {
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:SendMessage"}}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_work_queue_and_dead_letter_queue(templates, stage):
    t = templates[stage]
    queues = _resources(t, "AWS::SQS::Queue")
    work = queues[_queue_id(t, f"notifications-{stage}-work")]["Properties"]
    dlq_id = _queue_id(t, f"notifications-{stage}-work-dlq")
    dlq = queues[dlq_id]["Properties"]
    assert "FifoQueue" not in work  # a standard queue: fair queuing by MessageGroupId
    assert work["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
    assert work["MessageRetentionPeriod"] == 4 * 86400
    assert dlq["MessageRetentionPeriod"] == 14 * 86400
    assert work["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 5}
    writer_timeout = _resources(t, "AWS::Serverless::Function")["Writer"]["Properties"]["Timeout"]
    assert writer_timeout == 120
    assert work["VisibilityTimeout"] >= 6 * writer_timeout  # AWS's advice for SQS-triggered functions
    # enforce SSL: each queue's policy denies every non-TLS request
    for queue_id in (_queue_id(t, f"notifications-{stage}-work"), dlq_id):
        policies = [p["Properties"] for p in _resources(t, "AWS::SQS::QueuePolicy").values()
                    if p["Properties"]["Queues"] == [{"Ref": queue_id}]]
        assert len(policies) == 1, queue_id
        assert {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sqs:*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                "Resource": {"Fn::GetAtt": [queue_id, "Arn"]}} in policies[0]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("stage, concurrency", [("dev", 10), ("prod", 100)])
def test_work_queue_mapping(templates, stage, concurrency):
    from infra.stack import STAGES

    t = templates[stage]
    work = _queue_id(t, f"notifications-{stage}-work")
    found = [m for m in _resources(t, "AWS::Lambda::EventSourceMapping").values()
             if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [work, "Arn"]}]
    assert len(found) == 1
    mapping = found[0]["Properties"]
    assert mapping["FunctionName"] == {"Fn::Select": [6, {"Fn::Split": [":", {"Fn::GetAtt": ["Writer", "Arn"]}]}]}
    assert mapping["BatchSize"] == 5
    assert mapping["MaximumBatchingWindowInSeconds"] == 0
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": concurrency} == \
        {"MaximumConcurrency": STAGES[stage]["writer_concurrency"]}
    # Lambda validates the queue permissions when it creates the mapping: the role's policy comes first.
    assert any(d.startswith("WriterRoleDefaultPolicy") for d in found[0].get("DependsOn", []))


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_warm_throughput_on_prod_only(templates, stage):
    tables = _tables(templates[stage])
    prefix = f"notifications-{stage}"
    if stage == "dev":
        assert all("WarmThroughput" not in p for p in tables.values())
        assert all("WarmThroughput" not in g for p in tables.values() for g in p.get("GlobalSecondaryIndexes", []))
        return
    # 1M recipients in 150 s: inbox 6 WRU (transactional put + two LSI entries), counters 2 WRU per recipient.
    assert tables[f"{prefix}-inbox"]["WarmThroughput"] == {"ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 40000}
    assert tables[f"{prefix}-counters"]["WarmThroughput"] == {"ReadUnitsPerSecond": 12000,
                                                              "WriteUnitsPerSecond": 13334}
    gsi = {g["IndexName"]: g for g in tables[f"{prefix}-inbox"]["GlobalSecondaryIndexes"]}
    assert gsi["by_tenant"]["WarmThroughput"] == {"ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 6667}
    for kind in ("directory", "broadcasts", "idempotency"):
        assert "WarmThroughput" not in tables[f"{prefix}-{kind}"], kind
    # at least 1,000,000 / 150 recipients/s at the per-recipient costs, within the default 40,000 WRU table quota
    assert 40000 >= tables[f"{prefix}-inbox"]["WarmThroughput"]["WriteUnitsPerSecond"] >= 6 * 1_000_000 / 150


def test_alarms(templates):
    alarms = [a["Properties"] for a in _resources(templates["prod"], "AWS::CloudWatch::Alarm").values()]
    metrics = {(a["Namespace"], a["MetricName"]) for a in alarms}
    assert ("AWS/Lambda", "IteratorAge") in metrics
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in metrics
    assert ("AWS/Lambda", "Throttles") in metrics and ("AWS/Lambda", "Errors") in metrics
    assert ("AWS/DynamoDB", "WriteThrottleEvents") in metrics
    assert all(a["AlarmActions"] for a in alarms)
    t = templates["prod"]
    work = _queue_id(t, "notifications-prod-work")
    dlq = _queue_id(t, "notifications-prod-work-dlq")

    def on_queue(metric: str, queue_id: str) -> dict:
        found = [a for a in alarms if a["MetricName"] == metric and
                 a["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]]
        assert len(found) == 1, (metric, queue_id)
        return found[0]

    age = on_queue("ApproximateAgeOfOldestMessage", work)
    assert (age["Threshold"], age["Period"], age["EvaluationPeriods"], age["Statistic"]) == (300, 60, 3, "Maximum")
    assert age["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    dead = on_queue("ApproximateNumberOfMessagesVisible", dlq)
    assert (dead["Threshold"], dead["EvaluationPeriods"]) == (1, 1)
    assert dead["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    for metric in ("Errors", "Throttles"):  # every function, the writer included
        functions = {json.dumps(a["Dimensions"][0]["Value"]) for a in alarms if a["MetricName"] == metric}
        assert functions == {json.dumps({"Ref": f}) for f in ("APIHandler", "Fanout", "Expiry", "Writer", "Push",
                                                              "WebsocketConnect", "WebsocketMessage",
                                                              "WebsocketDisconnect")}, metric


def test_outputs(templates):
    outputs = templates["prod"].to_json()["Outputs"]
    t = templates["prod"]
    assert outputs["WorkQueueUrl"]["Value"] == {"Ref": _queue_id(t, "notifications-prod-work")}
    assert outputs["WorkDeadLetterQueueUrl"]["Value"] == {"Ref": _queue_id(t, "notifications-prod-work-dlq")}
    assert outputs["WorkDeadLetterQueueArn"]["Value"] == {"Fn::GetAtt": [_queue_id(t, "notifications-prod-work-dlq"),
                                                                          "Arn"]}


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


def test_cors_in_the_functions_and_the_gateway_responses(templates):
    """The app answers CORS itself (every path's OPTIONS reaches it); what the gateway answers carries CORS headers
    too, or a browser hides a 429 or a 5xx from the page."""
    for stage, allow_origin in (("prod", "'https://app.example.com'"), ("dev", "method.request.header.Origin")):
        t = templates[stage]
        env = _resources(t, "AWS::Serverless::Function")["APIHandler"]["Properties"]["Environment"]["Variables"]
        assert env["CORS_ALLOWED_ORIGINS"] == {"prod": "https://app.example.com",
                                               "dev": "https://app.example.com,http://localhost:*"}[stage]
        responses = _resources(t, "AWS::ApiGateway::GatewayResponse").values()
        assert {r["Properties"]["ResponseType"] for r in responses} >= {"DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED"}
        for r in responses:
            params = r["Properties"]["ResponseParameters"]
            assert params["gatewayresponse.header.Access-Control-Allow-Origin"] == allow_origin, (stage, r)
            assert params["gatewayresponse.header.Vary"] == "'Origin'"
        paths = _resources(t, "AWS::Serverless::Api")["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
        for path in ("/v1/users/{userId}/notifications", "/v1/notifications/{id}", "/v1/{proxy+}"):
            options = paths[path]["options"]  # a preflight goes to the function, not to a mock integration
            assert options["x-amazon-apigateway-integration"]["type"] == "aws_proxy", (path, options)
    dev_env = _resources(templates["dev"], "AWS::Serverless::Function")["APIHandler"]["Properties"]["Environment"]
    assert json.loads(dev_env["Variables"]["TENANT_JWKS"])["acme"]["audience"] == "bell"


def test_a_bad_cors_origin_or_identity_provider_fails_the_synth():
    pytest.importorskip("aws_cdk")
    import aws_cdk as cdk

    from chalicelib.settings import SettingsError
    from infra.stack import NotificationsStack

    for options in ({"cors_origins": "https://app.example.com/path"}, {"tenant_jwks": '{"acme": {"issuer": "x"}}'}):
        with pytest.raises(SettingsError):
            NotificationsStack(cdk.App(), "dev", **options)


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


def _function_names(template) -> dict[str, str]:
    """Chalice's function resource -> the short name its log group is named after."""
    from infra.stack import FUNCTIONS

    return FUNCTIONS


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_tracing_is_active_on_every_function_and_the_api(templates, stage):
    t = templates[stage]
    functions = _resources(t, "AWS::Serverless::Function")
    assert set(functions) == set(_function_names(t))
    for name, fn in functions.items():
        assert fn["Properties"]["Tracing"] == "Active", name
    api = _resources(t, "AWS::Serverless::Api")["RestAPI"]["Properties"]
    assert api["TracingEnabled"] is True and api["Name"] == f"notifications-{stage}-api"
    # the functions' own roles (Chalice's policy generation is off) may write trace segments
    for role_id, role in _resources(t, "AWS::IAM::Role").items():
        if role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service") != \
                "lambda.amazonaws.com":
            continue
        policies = [p for p in _resources(t, "AWS::IAM::Policy").values()
                    if {"Ref": role_id} in p["Properties"]["Roles"]]
        statements = [st for p in policies for st in p["Properties"]["PolicyDocument"]["Statement"]]
        assert {"Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "Effect": "Allow",
                "Resource": "*"} in statements, role_id


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_function_logs_to_its_own_group_with_retention(templates, stage):
    t = templates[stage]
    groups = _resources(t, "AWS::Logs::LogGroup")
    functions = _resources(t, "AWS::Serverless::Function")
    seen = set()
    for name, fn in functions.items():
        config = fn["Properties"]["LoggingConfig"]
        group_id = config["LogGroup"]["Ref"]
        group = groups[group_id]
        assert group["Properties"]["LogGroupName"] == f"/aws/lambda/notifications-{stage}-{_function_names(t)[name]}"
        assert group["Properties"]["RetentionInDays"] == 30  # logRetentionDays' default
        assert group["DeletionPolicy"] == ("Retain" if stage == "prod" else "Delete")
        assert config["LogFormat"] == "Text"  # the EMF and JSON lines stay as printed
        seen.add(group_id)
    assert len(seen) == len(functions) == len(_function_names(t))


def test_log_retention_comes_from_context_and_is_checked():
    pytest.importorskip("aws_cdk")
    import aws_cdk as cdk

    from infra.stack import NotificationsStack, log_retention_days

    assert (log_retention_days(None), log_retention_days("7"), log_retention_days(365)) == (30, 7, 365)
    for bad, words in (("10", "one of CloudWatch's retention periods"), ("a month", "whole number")):
        with pytest.raises(ValueError, match=words) as raised:
            NotificationsStack(cdk.App(), "dev", log_retention=bad)
        assert str(raised.value).startswith("logRetentionDays ")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_an_api_5xx_alarm(templates, stage):
    from infra.stack import API_5XX_THRESHOLD

    alarms = [a["Properties"] for a in _resources(templates[stage], "AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("MetricName") == "5XXError"]
    assert len(alarms) == 1
    [alarm] = alarms
    assert alarm["Namespace"] == "AWS/ApiGateway" and alarm["Statistic"] == "Sum" and alarm["Period"] == 300
    assert sorted((d["Name"], d["Value"]) for d in alarm["Dimensions"]) == [
        ("ApiName", f"notifications-{stage}-api"), ("Stage", "api")]
    assert alarm["Threshold"] == API_5XX_THRESHOLD
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["AlarmActions"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_functions_get_each_table_name(templates, stage):
    """The code takes each table's name from TABLE_<KIND> (chalicelib.settings), as the stack created it."""
    t = templates[stage]
    tables = {r["Properties"]["TableName"]: rid for rid, r in _resources(t, "AWS::DynamoDB::Table").items()}
    for name, fn in _resources(t, "AWS::Serverless::Function").items():
        env = fn["Properties"]["Environment"]["Variables"]
        for model in all_models():
            kind = model.Meta.table_kind
            assert env[f"TABLE_{kind.upper()}"] == {"Ref": tables[f"notifications-{stage}-{kind}"]}, (name, kind)
