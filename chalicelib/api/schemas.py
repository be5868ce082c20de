"""Native API request/response models: they validate requests and generate the OpenAPI document (the models
the dialects share with it are in chalicelib.api.kit.models)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from chalicelib.api.kit.models import HeaderNode, MessageAttachment, Scalar, Strict, UrlAttachment
from chalicelib.api.kit.parsers import PRIORITY_PATTERN


class SendRequest(Strict):
    """Exactly one of recipients, organization, community."""

    recipients: list[StrictStr] | None = Field(None, min_length=1, max_length=1000,
                                               description="User ids (1..1000)")
    organization: StrictStr | None = Field(None, description="Every member who is not an API user")
    community: StrictStr | None = Field(None, description="Every member neither banned nor an API user")
    type: StrictStr = Field(..., max_length=50, description='Registered on first use; "System" is reserved')
    priority: StrictStr = Field("medium", description="low | medium | high (case-insensitive)",
                                json_schema_extra={"pattern": PRIORITY_PATTERN})
    message: StrictStr | None = Field(None, description="Markdown, at most 64 KB")
    template: StrictStr | None = Field(None, description="Header with {{actor}} / {{recipient}}")
    actor: StrictStr | None = None
    url: StrictStr | None = None
    iconUrl: StrictStr | None = None
    metadata: dict[str, Scalar] | None = None
    location: dict[str, Scalar] | None = None
    organizationID: StrictStr | None = None
    attachment: UrlAttachment | MessageAttachment | None = None
    extraClassnames: StrictStr | None = None
    groupKey: StrictStr | None = Field(None, description="Aggregate into the unread notification with this key")
    expiresAt: StrictStr | StrictInt | None = Field(None, description="ISO 8601 or epoch seconds")
    resourceUri: StrictStr | None = None


class SentNotification(BaseModel):
    id: str
    recipient: str
    aggregated: bool = False


class SendResponse(BaseModel):
    notifications: list[SentNotification] = []
    skipped: list[dict[str, str]] = []
    broadcastId: str | None = None
    status: str | None = None


class NotificationView(BaseModel):
    id: str
    recipient: str
    type: str
    priority: Literal["low", "medium", "high"]
    message: str | None
    html: str | None
    template: str | None
    header: list[HeaderNode]
    actor: str | None
    senders: list[str]
    url: str | None
    iconUrl: str | None
    metadata: dict[str, Any]
    location: dict[str, Any]
    organizationID: str | None
    attachment: dict[str, Any] | None
    extraClassnames: str | None
    senderApplication: str | None
    resourceUri: str | None
    groupKey: str | None
    read: bool
    readAt: str | None
    createdAt: str
    updatedAt: str
    expiresAt: str | None
    broadcastId: str | None


class NotificationPage(BaseModel):
    notifications: list[NotificationView]
    cursor: str | None = Field(None, description="Pass as ?cursor= for the next page; null at the end")


class UnreadCount(BaseModel):
    unreadCount: int


class ReadPatch(Strict):
    read: StrictBool


class MarkReadRequest(Strict):
    ids: list[StrictStr] | None = Field(None, min_length=1, max_length=1000)
    all: StrictBool | None = None
    before: StrictStr | StrictInt | None = None


class MarkReadResponse(BaseModel):
    marked: int
    jobId: str | None = None
    status: str


class UserBody(Strict):
    name: StrictStr | None = Field(None, max_length=256)
    shortName: StrictStr | None = Field(None, max_length=128)
    profilePictureURL: StrictStr | None = None
    metadata: dict[str, Scalar] | None = None
    isApiUser: StrictBool = False


class UserView(BaseModel):
    id: str
    name: str | None
    shortName: str | None
    profilePictureURL: str | None
    metadata: dict[str, Any]
    isApiUser: bool


class SettingsBody(Strict):
    mutedTypes: list[StrictStr] = Field(default_factory=list, max_length=200)
    minPriority: StrictStr = Field("low", description="low | medium | high (case-insensitive)",
                                   json_schema_extra={"pattern": PRIORITY_PATTERN})


class SettingsView(BaseModel):
    mutedTypes: list[str]
    minPriority: Literal["low", "medium", "high"]


class MemberBody(Strict):
    role: StrictStr
    banned: StrictBool = False


# Documentation of MemberBody per owner kind (the handler parses MemberBody; the directory checks the
# role case-insensitively).
class OrganizationMemberBody(MemberBody):
    role: Literal["Read Only User", "Standard User", "Sharing User", "Organization Administrator"] = Field(
        ..., description="An organization role (case-insensitive)")


class CommunityMemberBody(MemberBody):
    role: Literal["Subscriber", "Commenter", "Contributor", "Editor", "Director"] = Field(
        ..., description="A community role (case-insensitive)")


class MemberView(BaseModel):
    userId: str
    role: str
    banned: bool
    isApiUser: bool
    joinedAt: str | None


class MemberPage(BaseModel):
    members: list[MemberView]
    cursor: str | None = None


class ChunkProgressView(BaseModel):
    total: int | None = Field(None, description="Chunks in all; null while the audience is still being cut")
    enqueued: int = Field(..., description="Chunks handed to the writers so far")
    done: int
    failed: int = Field(..., description="Chunks dead-lettered after their last attempt (redrive delivers them)")


class BroadcastView(BaseModel):
    id: str
    status: Literal["queued", "running", "complete", "failed"]
    audience: dict[str, str]
    eligible: int
    delivered: int
    skipped: int
    createdAt: str | None
    updatedAt: str | None
    completedAt: str | None
    error: str | None = None
    chunks: ChunkProgressView | None = Field(None, description="Organization and community broadcasts: "
                                              "delivery progress in chunks of up to 500 members")


class TypeList(BaseModel):
    types: list[dict[str, Any]]


class ErrorBody(BaseModel):
    """Every native error: a stable code, a message, and the input it concerns."""

    model_config = ConfigDict(extra="forbid")
    error: str = Field(..., description="A stable machine name, e.g. invalid_field, unauthorized, not_found")
    message: str
    field: str | None = Field(None, description="The request field, parameter or header at fault")
