"""What the fuzzer checks beyond schemathesis's own checks, and how it reads api3's XML.

- `surface_error_body`: every 4xx (documented or not: 405s of `unsupported_method`, 404s of unknown
  paths included) is in the error body of the surface the path belongs to, in JSON or, for api3 with
  format=xml, XML. schemathesis's `response_schema_conformance` checks documented statuses against the
  document; this one does not depend on the document, so a route documenting the wrong error schema or
  a status that slips through undocumented is caught too.
- An `application/xml` deserializer turning api3's XML (`chalicelib.api.dialects.api3.to_xml`) back
  into the JSON value the response schema describes, so XML responses are validated like JSON ones.
"""
from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

import schemathesis
from pydantic import BaseModel, ValidationError

from chalicelib.api.surfaces import SURFACES


def surface_for(path: str):
    """The surface whose prefix starts `path` (the service surface, prefix "", otherwise)."""
    best = None
    for surface in SURFACES:
        if surface.prefix and (path == surface.prefix or path.startswith(surface.prefix + "/")):
            best = surface
    return best or next(s for s in SURFACES if s.prefix == "")


def is_xml(content_type: str | None) -> bool:
    return bool(content_type) and content_type.split(";")[0].strip().lower() in ("application/xml", "text/xml")


# ---- XML ------------------------------------------------------------------------------------------

def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _branch(schema: dict[str, Any], doc: dict[str, Any], element: ET.Element) -> dict[str, Any]:
    """The anyOf/oneOf branch an element can be: the non-null one, the object one if it has children."""
    options = [_resolve(s, doc) for s in schema.get("anyOf", schema.get("oneOf", []))]
    options = [o for o in options if o.get("type") != "null"]
    if not options:
        return schema
    if len(element):
        for o in options:
            if o.get("type") in ("object", "array") or "properties" in o:
                return o
    return options[0]


def from_xml(element: ET.Element, schema: dict[str, Any], doc: dict[str, Any]) -> Any:
    schema = _resolve(schema or {}, doc)
    if element.get("nil") == "true":
        return None
    if "anyOf" in schema or "oneOf" in schema:
        schema = _resolve(_branch(schema, doc, element), doc)
    kind = schema.get("type")
    if element.get("type") == "list" or kind == "array":
        return [from_xml(child, schema.get("items", {}), doc) for child in element]
    if kind == "object" or "properties" in schema or len(element):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {child.tag: from_xml(child, props.get(child.tag, extra if isinstance(extra, dict) else {}), doc)
                for child in element}
    text = element.text or ""
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError(f"<{element.tag}> is not a boolean: {text!r}")
        return text == "true"
    return text


def _xml_schema(operation: Any, status: int) -> dict[str, Any]:
    responses = operation.definition.raw.get("responses", {})
    entry = responses.get(str(status)) or responses.get("default") or {}
    return entry.get("content", {}).get("application/xml", {}).get("schema", {})


@schemathesis.deserializer("application/xml", "text/xml")
def _deserialize_xml(ctx: schemathesis.DeserializationContext, response: schemathesis.Response) -> Any:
    root = ET.fromstring(response.content)
    if root.tag != "response":
        raise ValueError(f"XML root is <{root.tag}>, not <response>")
    doc = ctx.operation.schema.raw_schema
    return from_xml(root, _xml_schema(ctx.operation, response.status_code), doc)


# ---- the surface's error body -------------------------------------------------------------------

def error_body(path: str, status: int, content_type: str | None, content: bytes) -> str | None:
    """None when `content` is the error body of the surface `path` belongs to, else what is wrong."""
    surface = surface_for(path)
    model: type[BaseModel] = surface.error_model
    if is_xml(content_type):
        if not surface.error_xml:
            return f"{surface.name} answered XML ({content_type})"
        try:
            root = ET.fromstring(content)
        except ET.ParseError as exc:
            return f"not XML: {exc}"
        from chalicelib.api.surfaces import document

        doc = document()
        data = from_xml(root, doc["components"]["schemas"][model.__name__], doc)
    else:
        if not content_type or content_type.split(";")[0].strip().lower() != "application/json":
            return f"Content-Type {content_type!r}, not application/json"
        try:
            data = json.loads(content)
        except ValueError as exc:
            return f"not JSON: {exc}"
    try:
        model.model_validate(data, strict=True)
    except ValidationError as exc:
        return f"not a {surface.name} error body ({model.__name__}): {exc.errors()[0]}"
    code = data.get("code") if isinstance(data, dict) else None
    if surface.name == "api3" and code != status:
        return f"api3 code {code} differs from the status {status}"
    return None


@schemathesis.check
def surface_error_body(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                       case: schemathesis.Case) -> bool | None:
    if not 400 <= response.status_code < 500:
        return None
    path = response.request.url.split("://", 1)[-1]
    path = "/" + path.split("/", 1)[1] if "/" in path else "/"
    path = path.split("?", 1)[0]
    problem = error_body(path, response.status_code, response.headers.get("content-type", [None])[0],
                         response.content)
    if problem:
        raise AssertionError(f"{response.status_code} from {case.method} {path}: {problem}: "
                             f"{response.content[:300]!r}")
    if response.status_code == 401 and not response.headers.get("www-authenticate"):
        raise AssertionError("401 without WWW-Authenticate")
    return True


def response_checks() -> list:
    """The checks for a hand-built case (no generation metadata): no 5xx, documented status, content type
    and schema, and the surface's error body."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                                   response_schema_conformance, status_code_conformance)

    return [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
            response_schema_conformance, surface_error_body]
