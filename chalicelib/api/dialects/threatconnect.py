"""ThreatConnect v2 dialect: `POST /threatconnect/api/v2/notifications`.

Request fields, limits and role rules follow the ThreatConnect v2 notifications document;
responses are `{"status": "Success"}` or `{"status": "Failure", "message": ...}`. Statuses:
400 a malformed request (unknown usernames included), 401 no valid token (authentication),
403 the caller may not do this: the role is too low for the audience (Organization
Administrator for an organization, Commenter or above for a community or source), the caller
is banned from or not a member of the owner, or the owner does not exist (one status for all
three, so a refusal does not tell whether an owner exists); 404 an unknown path; 405 any
method other than POST.

Audiences: `recipients` (comma-separated usernames in the caller's organization),
`isOrganization: true` (every non-API user of the caller's organization) or `ownerId`, "the
owner whose users or members will receive": an organization's id means its non-API users, a
community's or source's id its non-banned, non-API members. Exactly one must be given. For a
user token, `ownerId` is an organization when the caller belongs to an organization with that
id, otherwise a community or source; for the tenant's server token, an organization with that
id if it has members, otherwise a community or source.
A tenant server token belongs to no organization: with `isOrganization` it must name one with
ThreatConnect's usual `?owner=` query parameter; a user in several organizations may do the same.
"""
from __future__ import annotations

from typing import Any, Literal

from chalice import Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator
from pydantic_core import PydanticCustomError

from chalicelib.api.http import Call, json_response, parse
from chalicelib.api.kit.parsers import PRIORITY_PATTERN, priority
from chalicelib.api.kit.routing import Param, Route, RouteGroup, Surface
from chalicelib.api.kit.users import known_users
from chalicelib.domain import directory, sending
from chalicelib.domain.errors import DomainError, Forbidden, InvalidInput
from chalicelib.domain.model import Audience, Content
from chalicelib.domain.principal import Caller
from chalicelib.domain.rules import check_message, check_owner_id, check_type, check_user_id

PATH = "/threatconnect/api/v2/notifications"
MAX_OWNER_ID = 2**31 - 1  # ownerId is a Java Integer in ThreatConnect


# ---- request and response models --------------------------------------------------------------

class TcNotificationRequest(BaseModel):
    """The v2 request body. Scalars are coerced the way ThreatConnect's JSON binding does
    ("true"/"false" for isOrganization, a numeric string for ownerId); anything else is a 400."""

    model_config = ConfigDict(extra="forbid")

    message: StrictStr = Field(..., description="Markdown, at most 64 KB")
    notificationType: StrictStr = Field(..., description='At most 50 characters; "System" is reserved',
                                        json_schema_extra={"minLength": 1, "maxLength": 50})
    priority: StrictStr = Field(..., description="low | medium | high (case-insensitive)",
                                json_schema_extra={"pattern": PRIORITY_PATTERN})
    recipients: StrictStr | None = Field(
        None, description="Comma-separated usernames in your organization; required unless isOrganization "
                          "is true or ownerId is given")
    isOrganization: bool | None = Field(None, description="All non-API users of your organization")
    ownerId: int | None = Field(None, description="An owner: an organization (its non-API users) or a community "
                                                  "or source (its non-banned, non-API members)")

    @field_validator("isOrganization", mode="before")
    @classmethod
    def _bool(cls, value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise PydanticCustomError("tc_bool", "must be a boolean (true or false)")

    @field_validator("ownerId", mode="before")
    @classmethod
    def _owner(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_OWNER_ID:
            raise PydanticCustomError("tc_owner", "must be a positive integer (the id of a community or source)")
        return value


class TcResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["Success"]


class TcFailure(BaseModel):
    """Every ThreatConnect error, 401, 404 and 405 included."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["Failure"]
    message: str = Field(..., description="Why the request failed")


# The seed's example request (ThreatConnect v2 notifications document), verbatim.
SEED_EXAMPLE = {
    "message": "Test message created using the `v2 API`.",
    "notificationType": "API",
    "recipients": "jsmith",
    "isOrganization": False,
    "priority": "High",
}


# ---- errors -------------------------------------------------------------------------------------

def error_response(exc: DomainError, status: int) -> Response:
    """`{"status": "Failure", "message": ...}`. ThreatConnect reports an over-long message as a
    malformed request (400), not 413."""
    if exc.kind == "too_large":
        status = 400
    return json_response({"status": "Failure", "message": exc.message}, status)


GROUP = RouteGroup("threatconnect", "/threatconnect", "ThreatConnect v2", error_response, error_model=TcFailure,
                   description="ThreatConnect v2's notifications endpoint: `{\"status\": \"Failure\", "
                               "\"message\"}` errors")


# ---- helpers ------------------------------------------------------------------------------------

def _usernames(raw: str) -> list[str]:
    names = [part.strip() for part in raw.split(",")]
    names = [n for n in names if n]
    if not names:
        raise InvalidInput("invalid_recipients", "recipients must name at least one username", "recipients")
    return list(dict.fromkeys(check_user_id(n, "recipients") for n in names))


def _owner_exists(caller: Caller, owner_kind: str, owner_id: str) -> bool:
    members, _ = directory.list_members(caller.tenant, owner_kind, owner_id, 1, None)
    return bool(members)


def _deliverable(caller: Caller, names: list[str]) -> list[str]:
    """Drop API users (ThreatConnect never delivers to them). A server token acts for the whole
    tenant, so its usernames must at least be users the directory knows (a profile or a
    membership); a user token's recipients are checked against the caller's organization by the core."""
    profiles = directory.get_profiles(caller.tenant, names)
    if caller.is_server:
        known = known_users(caller, names)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InvalidInput("unknown_recipients", f"recipients: unknown username {unknown[0]!r}", "recipients")
    return [n for n in names if not (n in profiles and profiles[n].is_api_user)]


def _caller_organization(call: Call, caller: Caller) -> str:
    """The organization `isOrganization` means, from the directory (or `?owner=`)."""
    owner = call.q("owner")
    if owner is not None:
        owner = check_owner_id(owner.strip(), "owner")
    if caller.is_server:
        if owner is None:
            raise InvalidInput("owner_required",
                               "isOrganization with the tenant's server token needs the organization named by the "
                               "?owner= query parameter (a server token belongs to no organization)",
                               "isOrganization")
        if not _owner_exists(caller, directory.ORG, owner):
            raise Forbidden("owner_not_found", f"owner {owner!r} does not exist or is not accessible", "owner")
        return owner
    orgs = [m for m in directory.memberships_of(caller.tenant, caller.user or "") if m.owner_kind == directory.ORG]
    if owner is not None:
        if owner not in {m.owner_id for m in orgs}:
            raise Forbidden("owner_not_found", f"owner {owner!r} does not exist or is not accessible", "owner")
        return owner
    if not orgs:
        raise Forbidden("not_permitted", "sending to your organization requires the Organization Administrator "
                                         "role, and you belong to no organization", "isOrganization")
    if len(orgs) == 1:
        return orgs[0].owner_id
    admin = [m for m in orgs if m.role.casefold() in directory.ORG_SENDERS]
    if len(admin) == 1:
        return admin[0].owner_id
    if not admin:
        raise Forbidden("not_permitted", "sending to your organization requires the Organization Administrator "
                                         "role, which you hold in none of your organizations", "isOrganization")
    raise InvalidInput("ambiguous_organization",
                       "you belong to several organizations; name one with the ?owner= query parameter",
                       "isOrganization")


def _refusal(caller: Caller, exc: Forbidden, owner_kind: str | None, owner_id: str | None) -> DomainError:
    """The core's refusal in ThreatConnect's terms: a recipient outside the organization is an
    unknown username (400); every other refusal stays 403, and one the caller cannot see behind
    (not a member, or banned) reads as an inaccessible owner."""
    if exc.field == "recipients":
        return InvalidInput(exc.code, exc.message, exc.field)
    if owner_id is not None and owner_kind is not None:
        membership = directory.get_membership(caller.tenant, owner_kind, owner_id, caller.user or "")
        if membership is None or membership.banned:
            return Forbidden(exc.code, f"owner {owner_id} does not exist or is not accessible", "ownerId")
    return Forbidden(exc.code, exc.message, exc.field)


def _owner_audience(caller: Caller, owner_id: str) -> Audience:
    """`ownerId`: an organization's users or a community's (or source's) members."""
    if caller.is_server:
        if _owner_exists(caller, directory.ORG, owner_id):
            return Audience(organization=owner_id)
        if _owner_exists(caller, directory.COMMUNITY, owner_id):
            return Audience(community=owner_id)
        raise Forbidden("owner_not_found", f"owner {owner_id} does not exist or is not accessible", "ownerId")
    if directory.get_membership(caller.tenant, directory.ORG, owner_id, caller.user or "") is not None:
        return Audience(organization=owner_id)
    return Audience(community=owner_id)  # the core checks membership and role


# ---- handler ------------------------------------------------------------------------------------

def create_notification(call: Call) -> Response:
    caller = call.require_caller()
    req = parse(TcNotificationRequest, call.json())
    check_type(req.notificationType, "notificationType")
    check_message(req.message, "message")
    if not req.message.strip():
        raise InvalidInput("invalid_message", "message must not be empty", "message")
    content = Content(type=req.notificationType, priority=priority(req.priority), message=req.message)

    has_recipients = req.recipients is not None and req.recipients.strip() != ""
    chosen = [name for name, given in (("recipients", has_recipients), ("isOrganization=true", bool(req.isOrganization)),
                                       ("ownerId", req.ownerId is not None)) if given]
    if len(chosen) > 1:
        raise InvalidInput("invalid_audience", f"give only one of recipients, isOrganization=true or ownerId "
                                               f"(got {' and '.join(chosen)})", "recipients")
    if not chosen:
        raise InvalidInput("missing_recipients", "recipients is required when ownerId is omitted and isOrganization "
                                                 "is false or omitted", "recipients")

    owner_id = owner_kind = None
    if has_recipients:
        names = _deliverable(caller, _usernames(req.recipients or ""))
        if not names:  # every recipient was an API user: nothing to deliver, not an error
            return json_response({"status": "Success"})
        audience = Audience(recipients=names)
    elif req.isOrganization:
        audience = Audience(organization=_caller_organization(call, caller))
    else:
        owner_id = str(req.ownerId)
        audience = _owner_audience(caller, owner_id)
        owner_kind = directory.ORG if audience.organization else directory.COMMUNITY
    try:
        sending.send(caller, audience, content)
    except Forbidden as exc:
        raise _refusal(caller, exc, owner_kind, owner_id) from None
    return json_response({"status": "Success"})


def routes() -> list[Route]:
    r = GROUP.route
    return [
        r(PATH, "POST", create_notification, "threatconnect_create_notification",
          "ThreatConnect v2: create and send a notification to recipients, your organization or a "
          "community/source", request_model=TcNotificationRequest,
          response_model=TcResponse, success_status=200,
          query_params=[Param("owner", "Organization id (1-128 letters, digits and _.:@+-) for "
                                       "isOrganization when it cannot be inferred (server token, or a user in "
                                       "several organizations); read only with isOrganization")],
          request_examples={"seed": SEED_EXAMPLE}),
    ]


SURFACE = Surface(GROUP, routes)
