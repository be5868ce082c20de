"""Parsers of what every surface reads from a request: priorities, whole numbers in query strings, Cord's
`filter` (also the native listing's). Each raises InvalidInput naming the parameter; a surface's error shaper
turns it into its own error body (Spark's code 1053, api3's `{"message", "code"}`...)."""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from chalicelib.api.http import refuse_unpaired_surrogates
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.model import Priority
from chalicelib.domain.rules import check_flat_map

if TYPE_CHECKING:
    from chalicelib.api.http import Call


def any_case(*words: str) -> str:
    """A JSON Schema pattern matching any of `words` in any letter case, with surrounding spaces (what a
    handler that strips and case-folds accepts): `any_case("low")` matches " LoW"."""
    def letters(word: str) -> str:
        return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)

    return r"^\s*(?:" + "|".join(letters(w) for w in words) + r")\s*$"


PRIORITY_PATTERN = any_case("low", "medium", "high")
PRIORITY_SCHEMA = {"type": "string", "pattern": PRIORITY_PATTERN, "description": "low | medium | high (case-insensitive)"}


def priority(value: str, field: str = "priority") -> Priority:
    """low | medium | high, case-insensitive, surrounding spaces ignored."""
    try:
        return Priority.parse(value)
    except (KeyError, AttributeError):
        raise InvalidInput("invalid_priority", f"{field} must be one of low, medium, high (case-insensitive)",
                           field) from None


# ASCII digits only: Python's int() and `\d` also take other scripts' digits ("٣"), "1_000" and surrounding
# spaces, none of which a query string of these APIs means. 12 digits: past every limit, short of a huge int.
_WHOLE = re.compile(r"[+-]?[0-9]{1,12}")


def query_int(call: Call, name: str, default: int, lo: int, hi: int) -> int:
    """The query parameter `name` as a whole number from `lo` to `hi`; absent or empty: `default`."""
    raw = call.q(name)
    if raw is None or raw == "":
        return default
    if not _WHOLE.fullmatch(raw) or not lo <= int(raw) <= hi:
        raise InvalidInput(f"invalid_{name.lstrip('_')}", f"{name} must be a whole number from {lo} to {hi}", name)
    return int(raw)


FILTER_KEYS = ("metadata", "location", "organizationID")


def parse_filter(raw: str | None) -> dict[str, Any]:
    """Cord's `filter` (the native listing takes it too): a URI-encoded JSON object with metadata, location,
    organizationID; returned with the domain's names (metadata, location, organization_id)."""
    if not raw:
        return {}
    text = raw
    for _ in range(2):  # tolerate clients that encode twice
        try:
            data = json.loads(text)
            break
        except (ValueError, RecursionError):  # RecursionError: hostile nesting
            text = unquote(text)
    else:
        raise InvalidInput("invalid_filter", "filter must be a URI-encoded JSON object", "filter")
    if not isinstance(data, dict):
        raise InvalidInput("invalid_filter", "filter must be a JSON object", "filter")
    try:  # JSON in a query string is an edge too: "\ud800" escapes must not reach the store
        refuse_unpaired_surrogates(data, ("filter",))
    except InvalidInput as exc:
        raise InvalidInput("invalid_filter", exc.message, "filter") from None
    unknown = set(data) - set(FILTER_KEYS)
    if unknown:
        raise InvalidInput("invalid_filter", f"filter: unknown key {sorted(unknown)[0]!r} (allowed: metadata, "
                                             "location, organizationID)", "filter")
    out: dict[str, Any] = {}
    if data.get("metadata") is not None:
        out["metadata"] = check_flat_map(data["metadata"], "filter.metadata")
    if data.get("location") is not None:
        out["location"] = check_flat_map(data["location"], "filter.location")
    if data.get("organizationID") is not None:
        if not isinstance(data["organizationID"], str):
            raise InvalidInput("invalid_filter", "filter.organizationID must be a string", "filter")
        out["organization_id"] = data["organizationID"]
    return out
