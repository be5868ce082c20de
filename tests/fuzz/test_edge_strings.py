"""Hand-picked strings the generator rarely builds, sent through the same schemathesis operations (so
every response is also checked against the document and the surface's error body):

- lone UTF-16 surrogates as raw JSON escapes (`"\\ud800"`): 400 naming the field;
- NUL and other control characters: refused (400, naming the field), except tab, LF and CR in
  message text;
- right-to-left marks (U+200F, U+202E): ordinary text, stored and read back unchanged;
- 4-byte emoji at the character limits (Spark Message 140, ThreatConnect notificationType 50, native
  type 50): limits count characters, not bytes nor UTF-16 units: exactly the limit is accepted,
  one more is refused; sent both as raw UTF-8 and as `\\ud83d\\udd14` surrogate-pair escapes.
"""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.fuzz.checks import response_checks as checks
from tests.fuzz.harness import STATS, bearer
from tests.fuzz.test_schemathesis import schema

EMOJI = "\U0001F514"  # BELL, outside the BMP: 1 character, 2 UTF-16 units, 4 UTF-8 bytes


def call(path: str, method: str, raw: str | bytes, query: dict | None = None):
    """Send `raw` as the JSON body of the documented operation; validate the response; return it with
    `data` (the parsed body)."""
    operation = schema[path][method]
    params = {name: "edge-user" for name in ("userId", "userID") if f"{{{name}}}" in path}
    case = operation.Case(body={}, media_type="application/json", query=query or {}, path_parameters=params)
    body = raw if isinstance(raw, bytes) else raw.encode("utf-8")
    response = case.call(data=body, headers={"Content-Type": "application/json",
                                             "Authorization": f"Bearer {bearer(case)}"})
    case.validate_response(response, checks=checks())
    STATS.operations.add(operation.label)
    STATS.cases += 1
    return SimpleNamespace(status_code=response.status_code, content=response.content,
                           data=json.loads(response.content) if response.content else None)


def dumps(body: dict, ascii_escapes: bool) -> str:
    return json.dumps(body, ensure_ascii=ascii_escapes)


def names_field(path: str, data, field: str) -> bool:
    """Whether an error body names `field` the way its surface can: native's `field`, the others' text."""
    if path.startswith("/v1/"):
        return data.get("field") == field
    if path.startswith("/spark/"):
        return field in data["D"]["Message"]
    return field in data["message"]


# ---- lone surrogates ---------------------------------------------------------------------------------

SEND = {"recipients": ["alice"], "type": "Edge", "message": "m"}
TC = {"message": "m", "notificationType": "Edge", "priority": "low", "recipients": "alice"}
CORD = {"actorID": "123", "recipientID": "456", "template": "{{actor}} pinged {{recipient}}",
        "url": "https://example.com/", "type": "url"}
SPARK = {"D": {"Type": "General", "Message": "m"}}

SURROGATES = [
    ("/v1/notifications", "POST", SEND, "message", "message"),
    ("/v1/notifications", "POST", SEND, "type", "type"),
    ("/v1/notifications", "POST", {**SEND, "metadata": {"k": "v"}}, "metadata.k", "metadata.k"),
    ("/v1/users/{userId}", "PUT", {"name": "n"}, "name", "name"),
    ("/v1/users/{userId}/settings", "PUT", {"mutedTypes": ["t"]}, "mutedTypes", "mutedTypes"),
    ("/threatconnect/api/v2/notifications", "POST", TC, "message", "message"),
    ("/threatconnect/api/v2/notifications", "POST", TC, "notificationType", "notificationType"),
    ("/cord/v1/notifications", "POST", CORD, "template", "template"),
    ("/cord/v1/users/{userID}", "PUT", {"name": "n"}, "name", "name"),
    ("/spark/v1/notifications", "POST", SPARK, "D.Message", "Message"),
]


def put_marker(body: dict, dotted: str, marker: str) -> dict:
    """`body` with the string at `dotted` replaced by one holding `marker` (a list's first item)."""
    body = json.loads(json.dumps(body))
    node = body
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node[part]
    value = node[parts[-1]]
    node[parts[-1]] = [f"a{marker}b"] if isinstance(value, list) else f"a{marker}b"
    return body


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\udbff\\u0041"])
@pytest.mark.parametrize("path,method,body,where,field", SURROGATES,
                         ids=[f"{m} {p} {w}" for p, m, _, w, _ in SURROGATES])
def test_lone_surrogate_is_400_naming_the_field(fuzz_app, path, method, body, where, field, escape):
    raw = json.dumps(put_marker(body, where, "@@")).replace("@@", escape)
    assert escape in raw
    r = call(path, method, raw)
    assert r.status_code == 400, (r.status_code, r.content)
    assert names_field(path, r.data, field), r.data


# ---- control characters -----------------------------------------------------------------------------

CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x0b"]
CONTROL_FIELDS = [
    ("/v1/notifications", "POST", SEND, "message", "message"),
    ("/v1/notifications", "POST", SEND, "type", "type"),
    ("/v1/notifications", "POST", SEND, "recipients", "recipients"),
    ("/v1/notifications", "POST", {**SEND, "template": "t", "message": None}, "template", "template"),
    ("/threatconnect/api/v2/notifications", "POST", TC, "message", "message"),
    ("/threatconnect/api/v2/notifications", "POST", TC, "notificationType", "notificationType"),
    ("/cord/v1/notifications", "POST", CORD, "template", "template"),
    ("/spark/v1/notifications", "POST", SPARK, "D.Message", "Message"),
]


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
@pytest.mark.parametrize("path,method,body,where,field", CONTROL_FIELDS,
                         ids=[f"{m} {p} {w}" for p, m, _, w, _ in CONTROL_FIELDS])
def test_control_characters_are_refused_naming_the_field(fuzz_app, path, method, body, where, field, char):
    r = call(path, method, dumps(put_marker(body, where, char), ascii_escapes=True))
    assert r.status_code == 400, (r.status_code, r.content)
    assert names_field(path, r.data, field), r.data


@pytest.mark.parametrize("char", ["\t", "\n", "\r"])
def test_tab_and_newlines_are_message_text(fuzz_app, char):
    r = call("/v1/notifications", "POST", dumps({**SEND, "message": f"line{char}next"}, ascii_escapes=True))
    assert r.status_code == 201, r.content
    nid = r.data["notifications"][0]["id"]
    assert _get(nid)["message"] == f"line{char}next"


def _get(nid: str) -> dict:
    operation = schema["/v1/notifications/{id}"]["GET"]
    case = operation.Case(path_parameters={"id": nid})
    response = case.call(headers={"Authorization": f"Bearer {bearer(case)}"})
    case.validate_response(response, checks=checks())
    assert response.status_code == 200, response.content
    return json.loads(response.content)


# ---- right-to-left marks ----------------------------------------------------------------------------

@pytest.mark.parametrize("mark", ["\u200f", "\u202e"], ids=["RLM", "RLO"])
@pytest.mark.parametrize("ascii_escapes", [True, False], ids=["escaped", "utf8"])
def test_rtl_marks_round_trip(fuzz_app, mark, ascii_escapes):
    text = f"{mark}\u05e9\u05dc\u05d5\u05dd abc{mark}"
    r = call("/v1/notifications", "POST", dumps({**SEND, "type": f"{mark}Edge", "message": text}, ascii_escapes))
    assert r.status_code == 201, r.content
    got = _get(r.data["notifications"][0]["id"])
    assert got["message"] == text and got["type"] == f"{mark}Edge"
    spark = call("/spark/v1/notifications", "POST", dumps({"D": {"Type": "General", "Message": text}},
                                                           ascii_escapes))
    assert spark.status_code == 201, spark.content
    tc = call("/threatconnect/api/v2/notifications", "POST",
              dumps({**TC, "message": text, "notificationType": f"{mark}Edge"}, ascii_escapes))
    assert tc.status_code == 200 and tc.data == {"status": "Success"}, tc.content


# ---- 4-byte emoji at the character limits -------------------------------------------------------------

LIMITS = [
    # (path, body with {} for the emoji run, limit, field)
    ("/spark/v1/notifications", lambda s: {"D": {"Type": "General", "Message": s}}, 140, "Message"),
    ("/threatconnect/api/v2/notifications", lambda s: {**TC, "notificationType": s}, 50, "notificationType"),
    ("/v1/notifications", lambda s: {**SEND, "type": s}, 50, "type"),
]
ACCEPTED = {"/spark/v1/notifications": 201, "/threatconnect/api/v2/notifications": 200, "/v1/notifications": 201}


@pytest.mark.parametrize("ascii_escapes", [True, False], ids=["pair-escapes", "utf8"])
@pytest.mark.parametrize("path,build,limit,field", LIMITS, ids=[p for p, *_ in LIMITS])
def test_emoji_limits_count_characters(fuzz_app, path, build, limit, field, ascii_escapes):
    exact = call(path, "POST", dumps(build(EMOJI * limit), ascii_escapes))
    assert exact.status_code == ACCEPTED[path], (limit, exact.content)
    over = call(path, "POST", dumps(build(EMOJI * (limit + 1)), ascii_escapes))
    assert over.status_code == 400, (limit + 1, over.content)
    assert names_field(path, over.data, field), over.data
    if path == "/v1/notifications":
        assert _get(exact.data["notifications"][0]["id"])["type"] == EMOJI * limit


@pytest.mark.parametrize("path", ["/v1/users/{userId}/notifications", "/cord/v1/users/{userID}/notifications"])
@pytest.mark.parametrize("flt", ['{"metadata":{"k":"\\ud800"}}', '{"organizationID":"x\\udfff"}'])
def test_lone_surrogate_in_a_query_json_is_400(fuzz_app, path, flt):
    operation = schema[path]["GET"]
    params = {name: "alice" for name in ("userId", "userID") if f"{{{name}}}" in path}
    case = operation.Case(path_parameters=params, query={"filter": flt})
    response = case.call(headers={"Authorization": f"Bearer {bearer(case)}"})
    case.validate_response(response, checks=checks())
    STATS.cases += 1
    assert response.status_code == 400, response.content
    assert "filter" in json.loads(response.content)["message"]
