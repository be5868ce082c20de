"""Plain typed values the domain takes and returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Priority(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> "Priority":
        return cls[value.strip().upper()]


@dataclass
class Content:
    """What a notification says; shared by every recipient of one send."""

    type: str
    priority: Priority = Priority.MEDIUM
    message: str | None = None
    html: str | None = None
    template: str | None = None
    actor: str | None = None
    url: str | None = None
    icon_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    location: dict[str, Any] = field(default_factory=dict)
    organization_id: str | None = None
    attachment: dict[str, Any] | None = None
    extra_classnames: str | None = None
    sender_application: str | None = None
    resource_uri: str | None = None
    group_key: str | None = None
    expires_at: int | None = None  # epoch seconds

    def body(self) -> dict[str, Any]:
        """The stored body (JSON), read back by `Content.from_body`."""
        return {
            "type": self.type, "priority": int(self.priority), "message": self.message, "html": self.html,
            "template": self.template, "actor": self.actor, "url": self.url, "iconUrl": self.icon_url,
            "metadata": self.metadata, "location": self.location, "organizationID": self.organization_id,
            "attachment": self.attachment, "extraClassnames": self.extra_classnames,
            "senderApplication": self.sender_application, "resourceUri": self.resource_uri,
            "groupKey": self.group_key, "expiresAt": self.expires_at,
        }

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> "Content":
        return cls(
            type=body["type"], priority=Priority(int(body.get("priority", 2))), message=body.get("message"),
            html=body.get("html"), template=body.get("template"), actor=body.get("actor"), url=body.get("url"),
            icon_url=body.get("iconUrl"), metadata=body.get("metadata") or {}, location=body.get("location") or {},
            organization_id=body.get("organizationID"), attachment=body.get("attachment"),
            extra_classnames=body.get("extraClassnames"), sender_application=body.get("senderApplication"),
            resource_uri=body.get("resourceUri"), group_key=body.get("groupKey"), expires_at=body.get("expiresAt"),
        )


@dataclass
class Audience:
    recipients: list[str] | None = None
    organization: str | None = None
    community: str | None = None


@dataclass
class Notification:
    """One notification as its recipient sees it."""

    id: str
    recipient: str
    content: Content
    senders: list[str]
    created_at: int  # epoch ms
    updated_at: int  # epoch ms of the last activity (creation or aggregation)
    read_at: int | None
    header: list[dict[str, Any]]
    broadcast_id: str | None = None

    @property
    def read(self) -> bool:
        return self.read_at is not None


@dataclass
class Page:
    items: list[Notification]
    cursor: str | None


@dataclass
class SendResult:
    """A direct send's outcome, or the broadcast that will deliver it."""

    ids: dict[str, str] = field(default_factory=dict)  # recipient -> notification id
    skipped: dict[str, str] = field(default_factory=dict)  # recipient -> reason
    broadcast_id: str | None = None
    aggregated: list[str] = field(default_factory=list)  # recipients whose existing item was bumped


@dataclass
class Profile:
    id: str
    name: str | None = None
    short_name: str | None = None
    profile_picture_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    is_api_user: bool = False

    def header_view(self) -> dict[str, Any]:
        return {"name": self.name, "shortName": self.short_name,
                "profilePictureURL": self.profile_picture_url, "metadata": self.metadata}


@dataclass
class Membership:
    owner_kind: str  # "org" | "com"
    owner_id: str
    user: str
    role: str
    banned: bool = False
    is_api_user: bool = False
    joined_at: int = 0


@dataclass
class UserSettings:
    muted_types: list[str] = field(default_factory=list)
    min_priority: Priority = Priority.LOW

    def allows(self, type_name: str, priority: Priority) -> bool:
        muted = {t.casefold() for t in self.muted_types}
        return type_name.casefold() not in muted and priority >= self.min_priority


@dataclass
class ChunkProgress:
    """A broadcast's chunks: `total` is known once the coordinator has cut them all."""

    total: int | None
    enqueued: int
    done: int
    failed: int


@dataclass
class BroadcastStatus:
    id: str
    status: str
    audience: dict[str, str]
    eligible: int
    delivered: int
    skipped: int
    created_at: int
    updated_at: int | None
    completed_at: int | None
    error: str | None = None
    chunks: ChunkProgress | None = None
