"""The OpenAPI document is precise enough to fuzz from: typed parameters, every status with its
schema, each surface's error body, the seeds' request examples, links between operations."""
from __future__ import annotations

import pytest

from chalicelib.api.surfaces import document

DOC = document()
PATHS = DOC["paths"]
SCHEMAS = DOC["components"]["schemas"]


def param(path: str, method: str, name: str) -> dict:
    return next(p for p in PATHS[path][method]["parameters"] if p["name"] == name)


def query_schema(path: str, method: str, name: str) -> dict:
    """The parameter's schema without the `""` alternative an empty query value (= absent) gets."""
    schema = param(path, method, name)["schema"]
    return schema["anyOf"][0] if "anyOf" in schema else schema


def test_query_parameters_are_typed():
    inbox = "/v1/users/{userId}/notifications"
    assert query_schema(inbox, "get", "limit") == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    assert query_schema(inbox, "get", "status")["enum"] == ["unread", "read", "all"]
    assert query_schema("/spark/v1/notifications", "get", "_pagination")["enum"] == ["0", "1", "count"]
    assert query_schema("/spark/v1/notifications", "get", "_limit")["maximum"] == 25
    assert query_schema("/api3/notification", "get", "format")["enum"] == ["json", "xml"]
    assert query_schema("/api3/notification", "get", "page_size") == {"type": "integer", "minimum": 1,
                                                                      "maximum": 100, "default": 20}
    # an empty value is the parameter's absence
    assert {"type": "string", "maxLength": 0} in param(inbox, "get", "limit")["schema"]["anyOf"]


def test_headers_and_security():
    send = PATHS["/v1/notifications"]["post"]
    assert send["security"] == [{"bearer": []}]
    assert param("/v1/notifications", "post", "Idempotency-Key")["in"] == "header"
    for path in ("/v1/users/{userId}/notifications", "/v1/users/{userId}/notifications/unread-count"):
        op = PATHS[path]["get"]
        assert param(path, "get", "If-None-Match")["in"] == "header"
        assert "304" in op["responses"] and op["responses"]["200"]["headers"]["ETag"]["required"]
    assert DOC["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "security" not in PATHS["/health"]["get"]


def test_every_status_a_route_gives_is_documented():
    send = PATHS["/v1/notifications"]["post"]["responses"]
    assert {"201", "202", "400", "401", "403", "409", "413", "415"} <= set(send)
    assert {"200", "201"} <= set(PATHS["/v1/users/{userId}"]["put"]["responses"])
    assert "204" in PATHS["/v1/notifications/{id}"]["delete"]["responses"]
    assert "202" in PATHS["/v1/users/{userId}/notifications/read"]["post"]["responses"]
    assert "401" in PATHS["/v1/notification-types"]["get"]["responses"]


ERROR_MODELS = {"/v1/": "ErrorBody", "/threatconnect/": "TcFailure", "/cord/": "CordError",
                "/api3/": "Api3Error", "/spark/": "SparkFailure"}


@pytest.mark.parametrize("prefix,model", sorted(ERROR_MODELS.items()))
def test_errors_use_the_surface_error_body(prefix, model):
    seen = 0
    for path, ops in PATHS.items():
        if not path.startswith(prefix):
            continue
        for op in ops.values():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    seen += 1
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": f"#/components/schemas/{model}"}
                    if prefix == "/api3/":
                        assert response["content"]["application/xml"]["schema"]["$ref"].endswith(model)
            if "401" in op["responses"]:
                assert op["responses"]["401"]["headers"]["WWW-Authenticate"]["required"]
    assert seen
    assert SCHEMAS[model]["additionalProperties"] is False


def test_error_bodies_match_the_seeds():
    assert SCHEMAS["TcFailure"]["properties"]["status"]["const"] == "Failure"
    assert set(SCHEMAS["CordError"]["required"]) == {"error", "message"}
    assert set(SCHEMAS["Api3Error"]["required"]) == {"message", "code"}
    d = SCHEMAS["SparkFailureD"]
    assert d["properties"]["Success"]["const"] is False and set(d["required"]) == {"Success", "Code", "Message"}
    for surface in ("native", "threatconnect", "cord", "api3", "spark"):
        assert f"{surface}_method_not_allowed" in DOC["components"]["responses"]


def example(path: str, method: str, name: str):
    return PATHS[path][method]["requestBody"]["content"]["application/json"]["examples"][name]["value"]


def test_seed_request_examples_verbatim():
    assert example("/threatconnect/api/v2/notifications", "post", "seed") == {
        "message": "Test message created using the `v2 API`.", "notificationType": "API", "recipients": "jsmith",
        "isOrganization": False, "priority": "High"}
    assert example("/cord/v1/notifications", "post", "sandwich") == {
        "actorID": "123", "recipientID": "456", "template": "{{actor}} sent {{recipient}} a delicious sandwich",
        "url": "http://www.example.com/", "type": "url"}
    assert example("/cord/v1/notifications", "post", "joined")["template"] == "{{actor}} joined the team"
    assert example("/spark/v1/notifications", "post", "seed") == {"D": {
        "Type": "OperationComplete", "Message": "Your PDF generation has completed!",
        "BrowserUri": "http://myapplication.com/cmas/19581825.pdf",
        "ResourceUri": "http://myapplication.com/cmas/19581825.json"}}
    assert example("/spark/v1/notifications/{Id}", "put", "seed") == {"D": {"Read": True}}


def test_limits_in_characters_are_documented():
    assert SCHEMAS["SendRequest"]["properties"]["type"]["maxLength"] == 50
    assert SCHEMAS["TcNotificationRequest"]["properties"]["notificationType"]["maxLength"] == 50
    assert SCHEMAS["SparkNewNotification"]["properties"]["Message"]["maxLength"] == 140


def test_links_follow_ids():
    ids = {op["operationId"] for ops in PATHS.values() for op in ops.values()}
    links = PATHS["/v1/notifications"]["post"]["responses"]["201"]["links"]
    assert {links[n]["operationId"] for n in ("get_sent", "patch_sent", "delete_sent")} == {
        "get_notification", "patch_notification", "delete_notification"}
    assert links["get_sent"]["parameters"] == {"id": "$response.body#/notifications/0/id"}
    mark = PATHS["/v1/users/{userId}/notifications"]["get"]["responses"]["200"]["links"]["mark_listed_read"]
    assert mark["operationId"] == "mark_read" and mark["requestBody"] == {
        "ids": ["{$response.body#/notifications/0/id}"]}
    for ops in PATHS.values():
        for op in ops.values():
            for response in op["responses"].values():
                for link in response.get("links", {}).values():
                    assert link["operationId"] in ids


def test_servers_tags_and_the_authorization_header():
    # A relative server: the document's own origin (with API Gateway's stage as a variable).
    server = DOC["servers"][0]
    assert server["url"] == "{basePath}" and server["variables"]["basePath"]["default"] == "/"
    tags = {t["name"]: t.get("description", "") for t in DOC["tags"]}
    for tag in ("Service", "Notifications", "Inbox", "ThreatConnect v2", "Cord v1", "api3", "Spark"):
        assert tags[tag], tag
    used = {op["tags"][0] for ops in PATHS.values() for op in ops.values()}
    assert used == set(tags)
    assert "Authorization: Bearer" in DOC["components"]["securitySchemes"]["bearer"]["description"]
    assert "Authorization: Bearer <JWT>" in DOC["info"]["description"]


def test_every_query_parameter_says_what_it_takes():
    for path, ops in PATHS.items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                assert p.get("description") or p["in"] == "path", (path, method, p["name"])
                schema = p["schema"]["anyOf"][0] if "anyOf" in p["schema"] else p["schema"]
                assert schema.get("type") in ("string", "integer"), (path, method, p["name"])
