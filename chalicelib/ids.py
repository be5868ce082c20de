"""Identifiers: time-sortable ULIDs for sort keys, opaque public ids around them.

A public notification id carries the recipient and the inbox sort key, so any
holder of the id (the recipient or the tenant's server) reaches the item with one
GetItem; the tenant always comes from the caller's token, never from the id.
"""
from __future__ import annotations

import re

from ulid import ULID

from chalicelib import cursors

SEP = "\x1f"


def new_ulid() -> str:
    return str(ULID())


def ulid_time_ms(value: str) -> int:
    return ULID.from_str(value).milliseconds


def ulid_bound(ms: int, upper: bool) -> str:
    """The smallest (or largest) ULID string at millisecond `ms`, for key range conditions."""
    ms = max(0, min(ms, 2**48 - 1))
    raw = ms.to_bytes(6, "big") + (b"\xff" * 10 if upper else b"\x00" * 10)
    return str(ULID.from_bytes(raw))


def encode(*parts: str) -> str:
    return cursors.encode_bytes(SEP.join(parts).encode("utf-8"))


def decode(value: str, count: int) -> tuple[str, ...] | None:
    """The parts of an id made by `encode`, or None when it is not one."""
    if not value or len(value) > 2048:
        return None
    try:
        parts = tuple(cursors.decode_bytes(value).decode("utf-8").split(SEP))
    except (UnicodeDecodeError, ValueError):
        return None
    if len(parts) != count or not all(parts):
        return None
    if encode(*parts) != value:
        return None
    return parts


def notification_id(user: str, sk: str) -> str:
    return encode("n", user, sk)


_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
MAX_USER = 256


def parse_notification_id(value: str) -> tuple[str, str] | None:
    """Every inbox sort key is a ULID and every user id at most 256 characters: a hand-built id
    outside that never reaches DynamoDB (keys over its size limits are a ValidationException there)."""
    parts = decode(value, 3)
    if not parts or parts[0] != "n" or len(parts[1]) > MAX_USER or not _ULID.match(parts[2]):
        return None
    return parts[1], parts[2]


def broadcast_id(owner: str, sk: str) -> str:
    return encode("b", owner, sk)


def parse_broadcast_id(value: str) -> tuple[str, str] | None:
    parts = decode(value, 3)
    if not parts or parts[0] != "b" or len(parts[1]) > MAX_USER + 16 or not _ULID.match(parts[2]):
        return None
    return parts[1], parts[2]
