"""Members of an organization or a community: the same four routes under /v1/organizations/{orgId} and
/v1/communities/{communityId}."""
from __future__ import annotations

from chalice import Response

from chalicelib.api import schemas as s
from chalicelib.api.http import Call, empty_response, json_response, parse
from chalicelib.api.kit.parsers import query_int
from chalicelib.api.kit.routing import Link, Reply, Route
from chalicelib.api.native.docs import CURSOR, MEMBER_ID, MEMBERS_LIMIT, limit_param
from chalicelib.api.native.errors import GROUP
from chalicelib.api.native.views import member_view
from chalicelib.domain import directory
from chalicelib.domain.errors import NotFound
from chalicelib.domain.rules import check_owner_id, check_user_id


def _owner(call: Call, kind: str) -> tuple[str, str]:
    key = "orgId" if kind == directory.ORG else "communityId"
    return kind, check_owner_id(call.params[key], key)


def raise_not_member() -> None:
    raise NotFound("member_not_found", "no such member", "userId")


def member_routes(kind: str) -> list[Route]:
    noun, key = ("organizations", "orgId") if kind == directory.ORG else ("communities", "communityId")
    base = f"/v1/{noun}/{{{key}}}/members"

    def put_member(call: Call) -> Response:
        caller = call.require_caller()
        caller.require_server(f"managing {noun}")
        owner_kind, owner_id = _owner(call, kind)
        user = check_user_id(call.params["userId"], "userId")
        req = parse(s.MemberBody, call.json())
        m, created = directory.put_membership(caller.tenant, owner_kind, owner_id, user, req.role, req.banned)
        return json_response(member_view(m), 201 if created else 200)

    def delete_member(call: Call) -> Response:
        caller = call.require_caller()
        caller.require_server(f"managing {noun}")
        owner_kind, owner_id = _owner(call, kind)
        user = check_user_id(call.params["userId"], "userId")
        if not directory.delete_membership(caller.tenant, owner_kind, owner_id, user):
            raise_not_member()
        return empty_response(204)

    def get_member(call: Call) -> Response:
        caller = call.require_caller()
        owner_kind, owner_id = _owner(call, kind)
        user = caller.resolve_user(call.params["userId"])
        m = directory.get_membership(caller.tenant, owner_kind, owner_id, user)
        if m is None:
            raise_not_member()
        return json_response(member_view(m))

    def list_members(call: Call) -> Response:
        caller = call.require_caller()
        caller.require_server(f"listing {noun} members")
        owner_kind, owner_id = _owner(call, kind)
        members, cursor = directory.list_members(caller.tenant, owner_kind, owner_id,
                                                 query_int(call, "limit", *MEMBERS_LIMIT), call.q("cursor") or None)
        return json_response({"members": [member_view(m) for m in members], "cursor": cursor})

    tag = noun.capitalize()
    member_links = [Link("get_member", f"get_{kind}_member", {key: f"$request.path.{key}",
                                                              "userId": "$request.path.userId"}),
                    Link("delete_member", f"delete_{kind}_member", {key: f"$request.path.{key}",
                                                                    "userId": "$request.path.userId"})]
    created = [Reply(201, "Created: the membership is new", s.MemberView)]
    body_doc = s.OrganizationMemberBody if kind == directory.ORG else s.CommunityMemberBody
    return [
        GROUP.route(base, "GET", list_members, f"list_{kind}_members", f"List {noun} members (server)", tag=tag,
                    response_model=s.MemberPage, query_params=[limit_param(*MEMBERS_LIMIT), CURSOR]),
        GROUP.route(base + "/{userId}", "PUT", put_member, f"put_{kind}_member", "Add or change a member (server)",
                    tag=tag, request_model=body_doc, response_model=s.MemberView, replies=created,
                    path_params=[MEMBER_ID],
                    links=member_links + [Link(f"{link.name}_created", link.operation_id, link.parameters,
                                               status=201) for link in member_links]),
        GROUP.route(base + "/{userId}", "GET", get_member, f"get_{kind}_member", "Get a membership", tag=tag,
                    response_model=s.MemberView),
        GROUP.route(base + "/{userId}", "DELETE", delete_member, f"delete_{kind}_member",
                    "Remove a member (server)", tag=tag, success_status=204, path_params=[MEMBER_ID]),
    ]
