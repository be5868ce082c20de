"""Request and response models more than one surface uses: a notification's rendered header (native and Cord
views) and its attachment (native sends), flat metadata maps."""
from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr

Scalar = Union[StrictStr, int, float, StrictBool]


class Strict(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class UrlAttachment(Strict):
    type: Literal["url"]
    url: StrictStr


class MessageAttachment(Strict):
    type: Literal["message"]
    message: dict[str, Any]


class HeaderUser(BaseModel):
    """A user named in a rendered header: the profile as it was when the notification was sent."""

    id: str
    name: str | None
    shortName: str | None
    profilePictureURL: str | None
    metadata: dict[str, Any]


class HeaderNode(BaseModel):
    """One node of a rendered header (Cord's format): text, or a user."""

    type: Literal["text", "user"]
    text: str | None = None
    bold: bool | None = None
    user: HeaderUser | None = None
