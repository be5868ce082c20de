"""Attribute types shared by the table models."""
from __future__ import annotations

import json
from typing import Any

from pynamodb.attributes import JSONAttribute

# DynamoDB's item limit, less room for key and attribute names, index keys and the other small
# attributes of an item: what a notification's stored body and maps may use together.
ITEM_LIMIT = 400 * 1024
ITEM_BUDGET = ITEM_LIMIT - 16 * 1024


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class CompactJSONAttribute(JSONAttribute):
    """JSON stored as written: PynamoDB's JSONAttribute escapes every non-ASCII character
    (an emoji becomes 12 bytes instead of 4), which can triple a body's size. Reads of items
    written either way are the same."""

    def serialize(self, value: Any) -> str | None:
        return None if value is None else compact_json(value)


def stored_size(*values: Any) -> int:
    """Bytes these values take as stored (UTF-8 JSON): a close bound of their share of an item."""
    return sum(len(compact_json(v).encode("utf-8")) for v in values if v is not None)
