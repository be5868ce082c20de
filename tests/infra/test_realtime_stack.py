"""The realtime push in the synthesized stack: Chalice's WebSocket API and its routes, the connections table,
the push function's inbox stream mapping and filter, least-privilege roles (execute-api:ManageConnections
on this API's connections only), alarms, the socket URL given to the functions and the outputs."""
from __future__ import annotations

import json

import pytest

from chalicelib.domain.realtime import change_of
from tests.infra.test_stack import _mapping, _resources, _statements, _table_actions, _tables


def _exists_matches(pattern, value) -> bool:
    """The subset of Lambda filter syntax the push filters use: nested objects, lists of values, exists."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            (k in value and _exists_matches(p, value[k])) or (p == [{"exists": False}] and k not in value)
            for k, p in pattern.items())
    if pattern == [{"exists": True}]:
        return True
    return value in pattern


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_websocket_api_routes_and_throttling(templates, stage):
    t = templates[stage]
    apis = _resources(t, "AWS::ApiGatewayV2::Api")
    assert [a["Properties"]["ProtocolType"] for a in apis.values()] == ["WEBSOCKET"]
    routes = {r["Properties"]["RouteKey"] for r in _resources(t, "AWS::ApiGatewayV2::Route").values()}
    assert routes == {"$connect", "$disconnect", "$default"}
    stage_props = next(iter(_resources(t, "AWS::ApiGatewayV2::Stage").values()))["Properties"]
    assert stage_props["StageName"] == "api"
    assert stage_props["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0


def test_connections_table_has_a_ttl(templates):
    table = _tables(templates["prod"])["notifications-prod-connections"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    assert "StreamSpecification" not in table
    inbox = _tables(templates["prod"])["notifications-prod-inbox"]
    assert inbox["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"  # the push needs new images


def test_push_mapping(templates):
    mapping = _mapping(templates["prod"], "TableInbox", "Push")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.get("MaximumBatchingWindowInSeconds", 0) == 0
    assert mapping["BatchSize"] == 100 and mapping["ParallelizationFactor"] >= 1
    assert mapping["MaximumRecordAgeInSeconds"] <= 3600 and mapping["BisectBatchOnFunctionError"] is True
    assert "PushFailures" in json.dumps(mapping["DestinationConfig"])
    assert len(_resources(templates["prod"], "AWS::Lambda::EventSourceMapping")) == 4  # fanout, expiry, push, writer


def _image(sk: str, **extra) -> dict:
    return {"pk": {"S": "dev#alice"}, "sk": {"S": sk}, **extra}


RECORDS = [
    {"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "dev#alice"}, "sk": {"S": "01J"}},
                                         "NewImage": _image("01J", act={"S": "01J"}, unr={"S": "01J"})}},
    {"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "dev#alice"}, "sk": {"S": "g#k"}},
                                         "NewImage": _image("g#k", target={"S": "01J"})}},  # a group pointer
    {"eventName": "MODIFY", "dynamodb": {"Keys": {"pk": {"S": "dev#alice"}, "sk": {"S": "01J"}},
                                         "OldImage": _image("01J", act={"S": "01J"}, unr={"S": "01J"}),
                                         "NewImage": _image("01J", act={"S": "01J"})}},  # read
    {"eventName": "REMOVE", "dynamodb": {"Keys": {"pk": {"S": "dev#alice"}, "sk": {"S": "01J"}},
                                         "OldImage": _image("01J", act={"S": "01J"})}},  # deleted
    {"eventName": "REMOVE", "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
     "dynamodb": {"Keys": {"pk": {"S": "dev#alice"}, "sk": {"S": "01J"}}, "OldImage": _image("01J", act={"S": "01J"})}},
    {"eventName": "REMOVE", "dynamodb": {"Keys": {"pk": {"S": "dev#alice"}, "sk": {"S": "g#k"}},
                                         "OldImage": _image("g#k", target={"S": "01J"})}},
]


@pytest.mark.parametrize("record", RECORDS)
def test_push_filter_passes_what_the_handler_acts_on(templates, record):
    mapping = _mapping(templates["prod"], "TableInbox", "Push")
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    passes = any(_exists_matches(p, record) for p in patterns)
    assert passes == (change_of(record) is not None)


def _execute_api(statements) -> list[tuple[list, list]]:
    return [(st["Action"] if isinstance(st["Action"], list) else [st["Action"]], st["Resource"])
            for st in statements if "execute-api" in json.dumps(st["Action"])]


def test_least_privilege_realtime_roles(templates):
    t = templates["prod"]
    push, sockets = _statements(t, "PushRole"), _statements(t, "SocketsRole")
    for statements in (push, sockets):
        (actions, resource), = _execute_api(statements)
        assert actions == ["execute-api:ManageConnections"]
        text = json.dumps(resource)
        assert '"Ref": "WebsocketAPI"' in text and "/api/POST/@connections/*" in text
    assert _table_actions(push) == {
        "connections": {"dynamodb:BatchGetItem", "dynamodb:UpdateItem"},
        "connections/index": {"dynamodb:BatchGetItem", "dynamodb:UpdateItem"},
        "counters": {"dynamodb:BatchGetItem"}, "counters/index": {"dynamodb:BatchGetItem"},
        "broadcasts": {"dynamodb:BatchGetItem"}, "broadcasts/index": {"dynamodb:BatchGetItem"},
        "directory": {"dynamodb:BatchGetItem"}, "directory/index": {"dynamodb:BatchGetItem"},
        "inbox:stream": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                         "dynamodb:ListStreams"}}
    socket_tables = _table_actions(sockets)
    assert set(socket_tables) == {"connections", "connections/index"}  # nothing but the connections table
    assert _table_actions(_statements(t, "ApiRole"))["connections"] == {"dynamodb:PutItem"}  # tickets only
    assert not _execute_api(_statements(t, "ApiRole"))
    functions = _resources(t, "AWS::Serverless::Function")
    assert "PushRole" in json.dumps(functions["Push"]["Properties"]["Role"])
    for name in ("WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect"):
        assert "SocketsRole" in json.dumps(functions[name]["Properties"]["Role"]), name
    assert functions["Push"]["Properties"]["Handler"] == "app.push"


def test_socket_url_for_the_ticket_endpoint_and_the_push_and_the_output(templates):
    t = templates["prod"]
    functions = _resources(t, "AWS::Serverless::Function")
    for name in ("APIHandler", "Push"):
        url = functions[name]["Properties"]["Environment"]["Variables"]["REALTIME_WEBSOCKET_URL"]
        assert url["Fn::Sub"][0].startswith("wss://${WebsocketAPI}.execute-api.") and url["Fn::Sub"][0].endswith("/api")
    outputs = t.to_json()["Outputs"]
    assert outputs["WebsocketUrl"]["Value"] == functions["Push"]["Properties"]["Environment"]["Variables"][
        "REALTIME_WEBSOCKET_URL"]


def test_push_alarms(templates):
    alarms = [a["Properties"] for a in _resources(templates["prod"], "AWS::CloudWatch::Alarm").values()]
    on_push = [a for a in alarms if json.dumps(a.get("Dimensions")) == json.dumps(
        [{"Name": "FunctionName", "Value": {"Ref": "Push"}}])]
    assert {a["MetricName"] for a in on_push} == {"Errors", "Throttles", "IteratorAge"}
    failures = [a for a in alarms if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
                and "PushFailures" in json.dumps(a["Dimensions"])]
    assert len(failures) == 1 and failures[0]["Threshold"] == 1
