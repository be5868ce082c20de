"""Input rules every surface shares (limits from the seed documents and the native API)."""
from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.errors import InvalidInput, TooLarge

MAX_MESSAGE_BYTES = 64 * 1024
MAX_TYPE_LENGTH = 50
RESERVED_TYPES = {"system"}
MAX_RECIPIENTS = 1000
MAX_USER_ID = 256
MAX_URL = 2048
MAX_TEMPLATE = 4096
MAX_MAP_ENTRIES = 50
MAX_MAP_KEY = 128
MAX_MAP_STRING = 1024
MAX_CLASSNAMES = 512
MAX_GROUP_KEY = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Control characters a Markdown message may not hold: C0 and DEL except tab, LF and CR. They have no
# meaning in a message and each grows sixfold when stored as a JSON escape (65,536 NULs would need
# more than DynamoDB's 400 KB item).
_MESSAGE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ID = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,128}$")


def check_type(value: str, field: str = "type") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("invalid_type", f"{field} is required and must be a non-empty string", field)
    if len(value) > MAX_TYPE_LENGTH:
        raise InvalidInput("invalid_type", f"{field} must be at most {MAX_TYPE_LENGTH} characters", field)
    if _CONTROL.search(value):
        raise InvalidInput("invalid_type", f"{field} must not contain control characters", field)
    if value.strip().casefold() in RESERVED_TYPES:
        raise InvalidInput("reserved_type", f'{field} "System" is reserved and cannot be used', field)
    return value


def check_message(value: str | None, field: str = "message") -> str | None:
    if value is None:
        return None
    if len(value.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise TooLarge("message_too_large", f"{field} must be at most 64 KB ({MAX_MESSAGE_BYTES} bytes of UTF-8)", field)
    bad = _MESSAGE_CONTROL.search(value)
    if bad:
        raise InvalidInput("invalid_message", f"{field} must not contain control characters (found U+"
                                              f"{ord(bad.group()):04X} at character {bad.start()}); tab, line "
                                              "feed and carriage return are allowed", field)
    return value


def check_user_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput("invalid_user_id", f"{field} must be a non-empty string", field)
    if len(value) > MAX_USER_ID or _CONTROL.search(value) or _SURROGATE.search(value) or value != value.strip():
        raise InvalidInput("invalid_user_id",
                           f"{field} must be at most {MAX_USER_ID} characters, without control characters "
                           "or surrounding spaces", field)
    if value == "me":
        raise InvalidInput("invalid_user_id", f"{field} 'me' is reserved (it means the caller in paths)", field)
    return value


def check_owner_id(value: Any, field: str) -> str:
    value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidInput("invalid_id", f"{field} must be 1-128 characters of letters, digits and _.:@+-", field)
    return value


def check_recipients(values: list[str], field: str = "recipients") -> list[str]:
    if not values:
        raise InvalidInput("invalid_recipients", f"{field} must name at least one user", field)
    unique = list(dict.fromkeys(check_user_id(v, field) for v in values))
    if len(unique) > MAX_RECIPIENTS:
        raise InvalidInput("too_many_recipients", f"{field} may name at most {MAX_RECIPIENTS} users", field)
    return unique


# Inside a URL (after trimming): no whitespace of any kind (raw spaces must be percent-encoded),
# no C1 controls, no invisible or bidi-reordering characters (they hide what a link really says),
# and no backslash (browsers read it as "/" in http(s) URLs, Python's parser does not: the two
# would disagree on the host).
_URL_FORBIDDEN = re.compile(r"[\s\x80-\x9f\\\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def check_url(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_URL or _CONTROL.search(value):
        raise InvalidInput("invalid_url", f"{field} must be a URL of at most {MAX_URL} characters", field)
    text = value.strip()
    try:
        parts = urlsplit(text)  # ValueError: an unbalanced IPv6 bracket ("http://[/")
        parts.port  # ValueError: a port that is not a number from 0 to 65535
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host or _URL_FORBIDDEN.search(text):
        raise InvalidInput("invalid_url", f"{field} must be an absolute http or https URL", field)
    return text


def check_flat_map(value: dict[str, Any] | None, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("invalid_map", f"{field} must be an object", field)
    if len(value) > MAX_MAP_ENTRIES:
        raise InvalidInput("invalid_map", f"{field} may have at most {MAX_MAP_ENTRIES} entries", field)
    for key, item in value.items():
        if not isinstance(key, str) or not key or len(key) > MAX_MAP_KEY:
            raise InvalidInput("invalid_map", f"{field} keys must be 1-{MAX_MAP_KEY} character strings", field)
        if isinstance(item, bool) or isinstance(item, (int, float)):
            if not isinstance(item, bool) and not _storable_number(item):
                raise InvalidInput("invalid_map", f"{field}.{key} must be a finite number DynamoDB can store "
                                                  "(at most 38 digits, magnitude 1e-130 to 1e125)", field)
            continue
        if isinstance(item, str):
            if len(item) > MAX_MAP_STRING:
                raise InvalidInput("invalid_map", f"{field}.{key} must be at most {MAX_MAP_STRING} characters",
                                   field)
            continue
        raise InvalidInput("invalid_map", f"{field}.{key} must be a string, number or boolean (flat object)", field)
    return value


def _storable_number(value: int | float) -> bool:
    """DynamoDB numbers: 38 significant digits, magnitude 1e-130..9.99e125; never NaN or infinity."""
    import math

    if isinstance(value, int):
        return abs(value) < 10 ** 38
    return math.isfinite(value) and (value == 0 or 1e-130 <= abs(value) < 1e125)


def check_template(value: str | None, field: str = "template") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("invalid_template", f"{field} must be a non-empty string", field)
    if len(value) > MAX_TEMPLATE:
        raise InvalidInput("invalid_template", f"{field} must be at most {MAX_TEMPLATE} characters", field)
    bad = _MESSAGE_CONTROL.search(value)
    if bad:  # the header text nodes carry it to every client, as the message would
        raise InvalidInput("invalid_template", f"{field} must not contain control characters (found U+"
                                               f"{ord(bad.group()):04X} at character {bad.start()}); tab, line "
                                               "feed and carriage return are allowed", field)
    from chalicelib.domain.templates import unknown_placeholders

    unknown = unknown_placeholders(value)
    if unknown:
        raise InvalidInput("invalid_template",
                           f"{field} may only use {{{{actor}}}} and {{{{recipient}}}}, not {{{{{unknown[0]}}}}}",
                           field)
    return value


def check_classnames(value: str | None, field: str = "extraClassnames") -> str | None:
    if value is None:
        return None
    if len(value) > MAX_CLASSNAMES or _CONTROL.search(value):
        raise InvalidInput("invalid_classnames", f"{field} must be at most {MAX_CLASSNAMES} characters", field)
    return value


def check_group_key(value: str | None, field: str = "groupKey") -> str | None:
    if value is None:
        return None
    if not value or len(value) > MAX_GROUP_KEY or _CONTROL.search(value):
        raise InvalidInput("invalid_group_key", f"{field} must be 1-{MAX_GROUP_KEY} characters", field)
    return value


def check_expires_at(value: int | None, field: str = "expiresAt") -> int | None:
    """Epoch seconds in the future, at most ten years away."""
    if value is None:
        return None
    now = int(time.time())
    if value <= now:
        raise InvalidInput("invalid_expires_at", f"{field} must be in the future", field)
    if value > now + 10 * 365 * 86400:
        raise InvalidInput("invalid_expires_at", f"{field} must be within ten years", field)
    return value


def check_attachment(value: dict[str, Any] | None, field: str = "attachment") -> dict[str, Any] | None:
    if value is None:
        return None
    kind = value.get("type")
    if kind == "url":
        return {"type": "url", "url": check_url(value.get("url"), f"{field}.url")}
    if kind == "message":
        message = value.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("id"), str):
            raise InvalidInput("invalid_attachment", f"{field}.message must be an object with a string id", field)
        import json

        if len(json.dumps(message)) > 32 * 1024:
            raise InvalidInput("invalid_attachment", f"{field}.message must be at most 32 KB", field)
        return {"type": "message", "message": message}
    raise InvalidInput("invalid_attachment", f'{field}.type must be "url" or "message"', field)
