"""A notification as one plain string, for the surfaces whose notifications are text only (api3, Spark)."""
from __future__ import annotations

from chalicelib.domain.model import Notification


def summary_text(n: Notification) -> str:
    """The message as sent; for a template-only notification, its rendered header with each
    user node written as the user's name (or short name, or id)."""
    if n.content.message is not None:
        return n.content.message
    parts = []
    for node in n.header:
        if node.get("type") == "user":
            user = node.get("user") or {}
            parts.append(user.get("name") or user.get("shortName") or user.get("id") or "")
        else:
            parts.append(node.get("text") or "")
    return "".join(parts)
