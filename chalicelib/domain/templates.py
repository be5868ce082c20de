"""Header templates: `{{actor}}` and `{{recipient}}` become user nodes, the rest text nodes."""
from __future__ import annotations

import re
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*(actor|recipient)\s*\}\}")
ANY_PLACEHOLDER = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")


def uses(template: str | None, name: str) -> bool:
    return bool(template) and any(m.group(1) == name for m in PLACEHOLDER.finditer(template))


def unknown_placeholders(template: str) -> list[str]:
    return [m.group(1) for m in ANY_PLACEHOLDER.finditer(template) if m.group(1) not in ("actor", "recipient")]


def user_node(user_id: str, profile: dict[str, Any] | None) -> dict[str, Any]:
    profile = profile or {}
    return {
        "type": "user",
        "user": {
            "id": user_id,
            "name": profile.get("name"),
            "shortName": profile.get("shortName"),
            "profilePictureURL": profile.get("profilePictureURL"),
            "metadata": profile.get("metadata") or {},
        },
    }


def render_header(template: str, actor: str | None, recipient: str,
                  profiles: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Split the template into nodes; text keeps its whitespace exactly."""
    nodes: list[dict[str, Any]] = []
    pos = 0
    for match in PLACEHOLDER.finditer(template):
        if match.start() > pos:
            nodes.append({"type": "text", "text": template[pos:match.start()], "bold": False})
        who = actor if match.group(1) == "actor" else recipient
        if who:
            nodes.append(user_node(who, profiles.get(who)))
        pos = match.end()
    if pos < len(template):
        nodes.append({"type": "text", "text": template[pos:], "bold": False})
    return nodes
