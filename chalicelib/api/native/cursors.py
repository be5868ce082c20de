"""The cursor of a membership listing: the last member's sort key, opaque to the client."""
from __future__ import annotations

import base64
import json
from typing import Any

from chalicelib.domain.errors import InvalidInput


def encode_start(last: dict[str, Any] | None) -> str | None:
    if not last:
        return None
    return base64.urlsafe_b64encode(json.dumps({"sk": last["sk"]["S"]}).encode()).decode().rstrip("=")


def decode_start(cursor: str | None, pk: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        sk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["sk"]
        if not isinstance(sk, str):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("invalid_cursor", "cursor is not one this listing returned", "cursor") from None
    return {"pk": {"S": pk}, "sk": {"S": sk}}
