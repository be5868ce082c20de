"""The operator's view: one structured JSON log line per API request and per stream/queue batch (never a
token or a header), and CloudWatch embedded-metric-format lines counting sends, recipients, broadcasts,
chunks, deliveries, skips and failures per tenant, flushed at the end of each invocation. In-process, the
service's lines are collected by tests/conftest.py's `service_output` (Lambda and `notifications dev` write
them to stdout: tests/integration/test_operator_logs.py)."""
from __future__ import annotations

import json

import pytest

from chalicelib import metrics
from chalicelib.settings import reset_settings
from tests.conftest import Api, LambdaContext, auth, token
from tests.streams_helper import StreamDriver


def drain(buffer) -> str:
    """What the service wrote since the last drain."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def request_lines(text: str) -> list[dict]:
    return [line for line in json_lines(text) if line.get("kind") == "request"]


def batch_lines(text: str, source: str) -> list[dict]:
    return [line for line in json_lines(text) if line.get("kind") == "batch" and line["source"] == source]


def emf_totals(text: str) -> dict[tuple[str | None, str], float]:
    """(tenant, metric) -> sum over the EMF lines printed."""
    totals: dict[tuple[str | None, str], float] = {}
    for line in json_lines(text):
        if "_aws" not in line:
            continue
        [directive] = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "InboxNotifications"
        for metric in directive["Metrics"]:
            assert metric["Unit"] == "Count"
            key = (line.get("tenant"), metric["Name"])
            value = line[metric["Name"]]  # EMF takes a number or a list of values
            totals[key] = totals.get(key, 0) + (sum(value) if isinstance(value, list) else value)
    return totals


@pytest.fixture(autouse=True)
def no_leftover_metrics():
    metrics.discard()
    yield
    metrics.discard()


def test_one_request_line_with_its_fields_and_no_token(client, service_output, capsys):
    user_token = token("dev", "alice")
    r = client.http.get("/v1/users/me/notifications/unread-count",
                        headers={"Authorization": f"Bearer {user_token}"})
    assert r.status_code == 200
    captured = capsys.readouterr()
    out, err = drain(service_output), captured.out + captured.err  # the service's lines, and anything else
    [line] = request_lines(out)
    assert line["message"] == "request" and line["level"] == "INFO" and line["service"] == "notifications-service"
    assert (line["method"], line["route"], line["status"]) == ("GET", "/v1/users/{userId}/notifications/unread-count", 200)
    assert (line["tenant"], line["caller"]) == ("dev", "user")
    assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0
    assert line["request_id"]
    assert user_token not in out + err and "Bearer" not in out + err and "Authorization" not in out + err


@pytest.mark.parametrize("header, caller", [(None, "refused"), ("Bearer not-a-token", "refused")])
def test_a_refused_request_is_logged_without_its_token(client, service_output, capsys, header, caller):
    headers = {"Authorization": header} if header else {}
    r = client.http.get("/v1/users/me/notifications", headers=headers)
    assert r.status_code == 401
    captured = capsys.readouterr()
    out, err = drain(service_output), captured.out + captured.err  # the service's lines, and anything else
    [line] = request_lines(out)
    assert (line["status"], line["caller"], line.get("tenant")) == (401, caller, None)
    assert "not-a-token" not in out + err


def test_routes_are_logged_as_templates_without_ids_or_query(client, service_output):
    server = Api(client, auth("dev"))
    r = server.post("/v1/notifications", {"recipients": ["alice"], "type": "T", "message": "secret body 42"})
    nid = r.data["ids"]["alice"] if "ids" in r.data else None
    alice = Api(client, auth("dev", "alice"))
    alice.get("/v1/users/me/notifications?limit=5&type=T")
    out = drain(service_output)
    lines = request_lines(out)
    assert [(line["method"], line["route"], line["caller"]) for line in lines] == [
        ("POST", "/v1/notifications", "server"), ("GET", "/v1/users/{userId}/notifications", "user")]
    assert "secret body 42" not in out and "limit=5" not in out
    if nid:
        assert nid not in out


def test_a_public_route_has_no_caller(client, service_output):
    assert client.http.get("/health").status_code == 200
    [line] = request_lines(drain(service_output))
    assert (line["caller"], line.get("tenant"), line["status"]) == ("none", None, 200)


def test_a_direct_send_counts_send_recipients_deliveries_and_skips(client, service_output):
    server = Api(client, auth("dev"))
    alice = Api(client, auth("dev", "alice"))
    assert alice.put("/v1/users/me/settings", {"mutedTypes": ["Noise"]}).status_code == 200
    drain(service_output)
    r = server.post("/v1/notifications", {"recipients": ["alice", "bob", "carol"], "type": "Noise", "message": "m"})
    assert r.status_code in (200, 201), r.data
    totals = emf_totals(drain(service_output))
    assert totals == {("dev", "sends"): 1, ("dev", "recipients"): 3, ("dev", "deliveries"): 2, ("dev", "skips"): 1}


def test_emf_lines_carry_tenant_and_total_dimension_sets(client, service_output):
    Api(client, auth("acme")).post("/v1/notifications", {"recipients": ["x"], "type": "T", "message": "m"})
    [emf] = [line for line in json_lines(drain(service_output)) if "_aws" in line]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["tenant", "service"], ["service"]]
    assert (emf["tenant"], emf["service"]) == ("acme", "notifications-service")


def test_metrics_off_prints_none(client, service_output, monkeypatch):
    monkeypatch.setenv("METRICS", "off")
    reset_settings()
    Api(client, auth("dev")).post("/v1/notifications", {"recipients": ["x"], "type": "T", "message": "m"})
    out = drain(service_output)
    assert emf_totals(out) == {} and len(request_lines(out)) == 1


def test_a_broadcast_logs_its_batches_and_counts_its_fan_out(client, service_output, monkeypatch):
    monkeypatch.setenv("FANOUT_CHUNK_SIZE", "3")
    reset_settings()
    server = Api(client, auth("dev"))
    users = [f"m{i}" for i in range(7)]
    for user in users:
        assert server.put(f"/v1/organizations/acme/members/{user}", {"role": "Standard User"}).status_code in (200, 201)
    server.put("/v1/users/robot", {"name": "Robot", "isApiUser": True})
    server.put("/v1/organizations/acme/members/robot", {"role": "Standard User"})
    assert Api(client, auth("dev", "m0")).put("/v1/users/me/settings", {"mutedTypes": ["News"]}).status_code == 200
    drain(service_output)
    r = server.post("/v1/notifications", {"organization": "acme", "type": "News", "message": "hello"})
    assert r.status_code == 202
    bid = r.data["broadcastId"]
    StreamDriver().drain()
    out = drain(service_output)
    stream = batch_lines(out, "broadcasts-stream")
    assert stream and all(line["outcome"] == "ok" and line["failed"] == 0 for line in stream)
    assert any(bid in line["broadcast_ids"] for line in stream)
    assert sum(line["records"] for line in stream) >= 1
    work = batch_lines(out, "work-queue")
    assert len(work) == 3 and all(line["broadcast_ids"] == [bid] and line["records"] == 1 for line in work)
    assert {line["outcome"] for line in work} == {"delivered"}
    totals = emf_totals(out)
    assert totals[("dev", "sends")] == 1 and totals[("dev", "broadcasts")] == 1
    assert totals[("dev", "chunks")] == 3  # 8 member keys (robot too) in chunks of 3
    # the API user is not in the audience at all; m0 muted the type
    assert totals[("dev", "deliveries")] == 6 and totals[("dev", "skips")] == 1


def test_a_dead_lettered_chunk_counts_a_failure_and_logs_the_retry(client, service_output, monkeypatch):
    monkeypatch.setenv("FANOUT_CHUNK_SIZE", "2")
    monkeypatch.setenv("WORK_QUEUE_MAX_RECEIVES", "1")
    reset_settings()
    from chalicelib.domain import chunks

    server = Api(client, auth("dev"))
    for user in ("a1", "a2", "a3"):
        server.put(f"/v1/communities/c/members/{user}", {"role": "Subscriber"})
    process = chunks.process

    def poisoned(message):
        if message.get("chunk") == 1:
            raise RuntimeError("chunk 1 cannot be delivered")
        return process(message)

    monkeypatch.setattr(chunks, "process", poisoned)
    server.post("/v1/notifications", {"community": "c", "type": "T", "message": "m"})
    drain(service_output)
    StreamDriver().drain()
    out = drain(service_output)
    failed = [line for line in batch_lines(out, "work-queue") if line["failed"]]
    assert failed and failed[0]["level"] == "WARNING" and failed[0]["outcome"] == "retry"
    assert emf_totals(out)[("dev", "failures")] == 1


def test_the_stream_functions_log_with_the_lambda_context(service_output):
    """app.py's stream and queue functions carry the invocation's request id in their lines."""
    import app as app_module

    assert app_module.writer({"Records": []}, LambdaContext()) == {"batchItemFailures": []}
    [line] = batch_lines(drain(service_output), "work-queue")
    assert line["function_request_id"] == "req-0123" and line["records"] == 0 and line["outcome"] == "empty"
    assert app_module.push({"Records": []}, LambdaContext()) == {"batchItemFailures": []}
    [line] = batch_lines(drain(service_output), "push")
    assert line["function_request_id"] == "req-0123" and line["records"] == 0 and line["outcome"] == "ok"


def test_unknown_metric_names_are_refused():
    with pytest.raises(KeyError):
        metrics.count("sendz")
