"""Times in and out of every surface: ISO 8601 or epoch seconds/milliseconds in, epoch milliseconds inside,
ISO 8601 (UTC, milliseconds, `Z`) out."""
from __future__ import annotations

from datetime import datetime, timezone

from chalicelib.domain.errors import InvalidInput


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_seconds(ms: int | None) -> str | None:
    """Whole seconds in UTC without a zone, e.g. 2011-11-18T16:35:43 (Spark's timestamps)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms // 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def parse_time(value: str | None, field_name: str) -> int | None:
    """ISO 8601 or epoch seconds/milliseconds → epoch ms; None or "" → None."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if number != number or number in (float("inf"), float("-inf")):  # nan, inf, 1e400
            raise InvalidInput("invalid_time", f"{field_name} must be an ISO 8601 time or epoch seconds",
                               field_name)
        return int(number * 1000) if number < 1e11 else int(number)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("invalid_time", f"{field_name} must be an ISO 8601 time or epoch seconds",
                           field_name) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


def epoch_seconds(value: str | int | None, field_name: str) -> int | None:
    """A time given as ISO 8601 or epoch seconds/ms, in whole epoch seconds (DynamoDB's TTL unit)."""
    if value is None:
        return None
    ms = parse_time(str(value), field_name)
    return None if ms is None else ms // 1000
