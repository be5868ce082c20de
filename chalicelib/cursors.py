"""The one codec for the opaque tokens a client holds: page cursors and public ids.

Both are URL-safe base64 without padding; a cursor holds compact JSON (what the table module
needs to continue a Query), an id holds its parts joined by U+001F (`ids`). Cursors handed out
before this module existed decode the same (they were this encoding already).
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any


class InvalidCursor(ValueError):
    """The token is not one this service handed out."""


def encode_bytes(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_bytes(text: str) -> bytes:
    """Raises InvalidCursor for text that is not unpadded URL-safe base64."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor(str(exc)) from None


def encode(value: Any) -> str:
    """A JSON value as a cursor."""
    return encode_bytes(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def decode(cursor: str) -> Any:
    """The JSON value of a cursor; InvalidCursor when it is not one."""
    try:
        return json.loads(decode_bytes(cursor))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise InvalidCursor(str(exc)) from None
