"""What the OpenAPI document says of the native API's parameters, headers, replies and examples (the handlers
never read these)."""
from __future__ import annotations

from chalicelib.api.kit.parsers import PRIORITY_SCHEMA
from chalicelib.api.kit.routing import Param, Reply

# The native listings' page sizes.
LIST_LIMIT = (20, 1, 100)  # default, lowest, highest
MEMBERS_LIMIT = (50, 1, 100)


def limit_param(default: int, lo: int, hi: int) -> Param:
    return Param("limit", f"{lo}..{hi}, default {default}", {"type": "integer", "minimum": lo, "maximum": hi,
                                                             "default": default})


CURSOR = Param("cursor", "opaque, from the previous page")
# A user named by a server token (PUT of a profile or membership): 'me' is reserved there.
MEMBER_ID = Param("userId", "A user id (1-256 characters, no control characters or surrounding spaces; not 'me')",
                  {"type": "string", "minLength": 1, "maxLength": 256, "not": {"const": "me"}}, ("alice", "bob"))
PRIORITY = PRIORITY_SCHEMA
TIME = {"type": "string", "description": "ISO 8601, or epoch seconds (or milliseconds)",
        "examples": ["2024-01-01T00:00:00Z", "1704067200"]}
IF_NONE_MATCH = Param("If-None-Match", "An ETag this listing returned: 304 while the inbox is unchanged",
                      {"type": "string"}, ('W/"v3-0123456789abcdef"',))
IDEMPOTENCY_KEY = Param("Idempotency-Key", "Retries with the same key and body answer the first result "
                                           "(1-255 printable characters; 24 hours)",
                        {"type": "string", "minLength": 1, "maxLength": 255})
POLL_HEADERS = ("ETag", "Cache-Control", "Vary", "X-Poll-Interval")
NOT_MODIFIED = Reply(304, "Not Modified: the inbox has not changed since that ETag", None, POLL_HEADERS)

SEND_EXAMPLES = {
    "recipients": {"recipients": ["alice"], "type": "Welcome", "message": "Hello **alice**", "priority": "high"},
    "template": {"recipients": ["bob"], "type": "Mention", "template": "{{actor}} mentioned {{recipient}}",
                 "actor": "alice", "url": "https://example.com/threads/1", "metadata": {"thread": "1"}},
    "organization": {"organization": "acme", "type": "Announcement", "message": "Maintenance tonight"},
}

# The first notification a send created, and its recipient's inbox.
SENT_ID = "$response.body#/notifications/0/id"
SENT_TO = "$response.body#/notifications/0/recipient"
LISTED_ID = "$response.body#/notifications/0/id"
