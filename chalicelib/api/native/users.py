"""User profiles, a user's notification settings, and the tenant's notification types."""
from __future__ import annotations

from chalice import Response

from chalicelib.api import schemas as s
from chalicelib.api.http import Call, json_response, parse
from chalicelib.api.kit.parsers import priority
from chalicelib.api.native.views import settings_view, user_view
from chalicelib.domain import directory
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.model import Profile, UserSettings
from chalicelib.domain.rules import _CONTROL, check_flat_map, check_url, check_user_id


def put_user(call: Call) -> Response:
    caller = call.require_caller()
    caller.require_server("changing a user profile")
    user = check_user_id(call.params["userId"], "userId")
    req = parse(s.UserBody, call.json())
    profile = Profile(id=user, name=req.name, short_name=req.shortName,
                      profile_picture_url=check_url(req.profilePictureURL, "profilePictureURL"),
                      metadata=check_flat_map(dict(req.metadata or {}), "metadata"), is_api_user=req.isApiUser)
    saved, created = directory.put_profile(caller.tenant, profile)
    return json_response(user_view(saved), 201 if created else 200)


def get_user(call: Call) -> Response:
    caller = call.require_caller()
    user = caller.resolve_user(call.params["userId"])
    return json_response(user_view(directory.require_profile(caller.tenant, user, "userId")))


def get_user_settings(call: Call) -> Response:
    caller = call.require_caller()
    user = caller.resolve_user(call.params["userId"])
    return json_response(settings_view(directory.get_settings(caller.tenant, user)))


def put_user_settings(call: Call) -> Response:
    caller = call.require_caller()
    user = caller.resolve_user(call.params["userId"])
    req = parse(s.SettingsBody, call.json())
    for t in req.mutedTypes:
        if not t or len(t) > 50 or _CONTROL.search(t):
            raise InvalidInput("invalid_type", "mutedTypes entries must be 1-50 characters without control "
                                               "characters", "mutedTypes")
    saved = directory.put_settings(caller.tenant, user, UserSettings(req.mutedTypes,
                                                                     priority(req.minPriority, "minPriority")))
    return json_response(settings_view(saved))


def list_types(call: Call) -> Response:
    return json_response({"types": directory.list_types(call.require_caller().tenant)})
