"""ThreatConnect v2 notifications (seed 000): the example verbatim, every field, limit and role rule."""
from __future__ import annotations

import json

import pytest

from tests.streams_helper import fanout  # noqa: F401  (fixture)

URL = "/threatconnect/api/v2/notifications"
ORG = "1001"
SEED_EXAMPLE = """{
    "message": "Test message created using the `v2 API`.",
    "notificationType": "API",
    "recipients": "jsmith",
    "isOrganization": false,
    "priority": "High"
}"""


def put_member(server, kind: str, owner: str, user: str, role: str, banned: bool = False):
    noun = "organizations" if kind == "org" else "communities"
    body = {"role": role, "banned": banned} if banned else {"role": role}
    r = server.put(f"/v1/{noun}/{owner}/members/{user}", body)
    assert r.status_code in (200, 201), r.data


def put_user(server, user: str, api: bool = False, name: str | None = None):
    r = server.put(f"/v1/users/{user}", {"name": name or user, "isApiUser": api})
    assert r.status_code in (200, 201), r.data


def inbox(as_user, user: str) -> list[dict]:
    r = as_user(user).get("/v1/users/me/notifications")
    assert r.status_code == 200, r.data
    return r.data["notifications"]


def assert_failure(r, status: int, *words: str):
    assert r.status_code == status, (r.status_code, r.data)
    assert set(r.data) == {"status", "message"}, r.data
    assert r.data["status"] == "Failure"
    for word in words:
        assert word.lower() in r.data["message"].lower(), r.data


@pytest.fixture
def org(server, as_user):
    """An organization: `apiuser` (the caller, a Standard User), jsmith, an admin and an API user."""
    put_user(server, "apiuser")
    put_user(server, "jsmith", name="John Smith")
    put_user(server, "orgadmin")
    put_user(server, "robot", api=True)
    put_member(server, "org", ORG, "apiuser", "Standard User")
    put_member(server, "org", ORG, "jsmith", "Standard User")
    put_member(server, "org", ORG, "orgadmin", "Organization Administrator")
    put_member(server, "org", ORG, "robot", "Standard User")
    return as_user("apiuser")


def send(api, body, **kw):
    return api.post(URL, body if isinstance(body, str) else json.dumps(body), **kw)


def base(**over):
    body = {"message": "hello", "notificationType": "API", "priority": "low", "recipients": "jsmith"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not ...}


# ---- the seed's example -------------------------------------------------------------------------

def test_seed_example_verbatim(org, as_user):
    r = org.post(URL, SEED_EXAMPLE, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.data
    assert r.data == {"status": "Success"}
    [n] = inbox(as_user, "jsmith")
    assert n["message"] == "Test message created using the `v2 API`."
    assert n["html"] == "<p>Test message created using the <code>v2 API</code>.</p>\n"  # Markdown rendered
    assert n["type"] == "API"
    assert n["priority"] == "high"
    assert n["read"] is False
    assert n["actor"] == "apiuser"
    assert n["header"] == [{"type": "text", "text": "Test message created using the `v2 API`.", "bold": False}]
    assert as_user("jsmith").get("/v1/users/me/notifications/unread-count").data == {"unreadCount": 1}
    assert inbox(as_user, "apiuser") == []


def test_seed_example_with_server_token(server, org, as_user):
    r = server.post(URL, SEED_EXAMPLE)
    assert (r.status_code, r.data) == (200, {"status": "Success"})
    assert len(inbox(as_user, "jsmith")) == 1


def test_new_type_is_registered(org, server):
    assert send(org, base(notificationType="Brand New Type")).status_code == 200
    names = [t["name"] for t in server.get("/v1/notification-types").data["types"]]
    assert "Brand New Type" in names


def test_several_recipients_comma_separated(org, as_user):
    r = send(org, base(recipients=" jsmith , orgadmin,,jsmith "))
    assert (r.status_code, r.data) == (200, {"status": "Success"})
    assert len(inbox(as_user, "jsmith")) == 1
    assert len(inbox(as_user, "orgadmin")) == 1


# ---- message ------------------------------------------------------------------------------------

def test_message_64kb_exactly_is_accepted(org, as_user):
    r = send(org, base(message="m" * 65536))
    assert (r.status_code, r.data) == (200, {"status": "Success"})
    assert len(inbox(as_user, "jsmith")[0]["message"]) == 65536


def test_message_one_byte_over_is_refused(org, as_user):
    assert_failure(send(org, base(message="m" * 65537)), 400, "message", "64 KB")
    assert_failure(send(org, base(message="m" * 65535 + "é")), 400, "message")  # 65537 bytes of UTF-8
    assert inbox(as_user, "jsmith") == []


@pytest.mark.parametrize("value", [None, "", "   ", 5, ["a"], {"a": 1}, True])
def test_message_required_non_empty_string(org, value):
    body = base(message=value) if value is not None else base(message=...)
    assert_failure(send(org, body), 400, "message")


# ---- notificationType ---------------------------------------------------------------------------

def test_type_50_characters_accepted_51_refused(org):
    assert send(org, base(notificationType="t" * 50)).status_code == 200
    assert_failure(send(org, base(notificationType="t" * 51)), 400, "notificationType", "50")


@pytest.mark.parametrize("value", ["System", "system", "SYSTEM", "sYsTeM"])
def test_system_type_is_reserved(org, value):
    assert_failure(send(org, base(notificationType=value)), 400, "notificationType", "reserved")


@pytest.mark.parametrize("value", [..., "", "  ", 12, None])
def test_type_required_string(org, value):
    assert_failure(send(org, base(notificationType=value)), 400, "notificationType")


# ---- priority -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value,stored", [("low", "low"), ("Medium", "medium"), ("HIGH", "high"), ("High", "high")])
def test_priority_case_insensitive(org, as_user, value, stored):
    assert send(org, base(priority=value)).status_code == 200
    assert inbox(as_user, "jsmith")[0]["priority"] == stored


@pytest.mark.parametrize("value", [..., "urgent", "", 3, None])
def test_priority_required_enum(org, value):
    assert_failure(send(org, base(priority=value)), 400, "priority")


# ---- body shape ---------------------------------------------------------------------------------

def test_unknown_field_is_named(org):
    assert_failure(send(org, base(recipient="jsmith")), 400, "recipient", "unknown field")


@pytest.mark.parametrize("field,value", [
    ("isOrganization", "yes"), ("isOrganization", 1), ("isOrganization", [True]),
    ("ownerId", "abc"), ("ownerId", 1.5), ("ownerId", True), ("ownerId", 0), ("ownerId", -4),
    ("ownerId", 2**31), ("recipients", ["jsmith"]), ("recipients", 7),
])
def test_wrong_types_are_named(org, field, value):
    body = base(**{field: value})
    if field != "recipients":
        body.pop("recipients")
    assert_failure(send(org, body), 400, field)


@pytest.mark.parametrize("raw", ["", "not json", "[1, 2]", "\"text\"", "null", "{\"message\": "])
def test_malformed_bodies(org, raw):
    assert_failure(org.post(URL, raw), 400)


def test_string_booleans_and_numeric_owner_id_are_coerced(server, org, as_user):
    assert send(org, base(isOrganization="false")).status_code == 200
    put_member(server, "com", "77", "apiuser", "Commenter")
    put_member(server, "com", "77", "jsmith", "Subscriber")
    r = send(org, base(recipients=..., ownerId="77"))
    assert (r.status_code, r.data) == (200, {"status": "Success"})


def test_bad_token_is_401_failure(client):
    from tests.conftest import Api

    r = Api(client, {"Content-Type": "application/json", "Authorization": "Bearer not-a-jwt"}).post(URL, SEED_EXAMPLE)
    assert_failure(r, 401)


# ---- audience -----------------------------------------------------------------------------------

def test_neither_audience_is_refused(org):
    assert_failure(send(org, base(recipients=...)), 400, "recipients is required")
    assert_failure(send(org, base(recipients=..., isOrganization=False)), 400, "recipients is required")
    assert_failure(send(org, base(recipients="  , ")), 400, "recipients")


@pytest.mark.parametrize("over", [
    {"isOrganization": True}, {"ownerId": 77}, {"recipients": ..., "isOrganization": True, "ownerId": 77},
])
def test_two_audiences_are_refused(org, over):
    assert_failure(send(org, base(**over)), 400, "only one of")


def test_recipients_outside_the_organization_are_refused(server, org, as_user):
    put_user(server, "outsider")
    put_member(server, "org", "2002", "outsider", "Standard User")
    assert_failure(send(org, base(recipients="jsmith,outsider")), 400, "organization", "outsider")
    assert_failure(send(org, base(recipients="nobody")), 400, "nobody")
    assert inbox(as_user, "jsmith") == []


def test_caller_in_no_organization_cannot_send_to_users(server, as_user):
    put_user(server, "loner")
    put_user(server, "jsmith")
    assert_failure(send(as_user("loner"), base()), 400, "organization")


def test_api_users_are_never_recipients(org, as_user):
    r = send(org, base(recipients="jsmith,robot"))
    assert (r.status_code, r.data) == (200, {"status": "Success"})
    assert len(inbox(as_user, "jsmith")) == 1
    assert inbox(as_user, "robot") == []
    assert send(org, base(recipients="robot")).data == {"status": "Success"}
    assert inbox(as_user, "robot") == []


def test_server_token_recipients_must_be_known_users(server, org, as_user):
    assert_failure(send(server, base(recipients="jsmith,ghost")), 400, "ghost")
    assert inbox(as_user, "jsmith") == []


# ---- isOrganization -----------------------------------------------------------------------------

def test_organization_send_by_administrator(server, org, as_user, fanout):
    put_user(server, "carol")
    put_member(server, "org", "2002", "carol", "Standard User")  # another organization
    r = send(as_user("orgadmin"), base(recipients=..., isOrganization=True, message="all hands"))
    assert (r.status_code, r.data) == (200, {"status": "Success"})
    fanout.drain()
    for user in ("apiuser", "jsmith", "orgadmin"):
        assert [n["message"] for n in inbox(as_user, user)] == ["all hands"], user
    assert inbox(as_user, "robot") == []  # API user
    assert inbox(as_user, "carol") == []  # not in the organization


@pytest.mark.parametrize("role", ["Read Only User", "Standard User", "Sharing User"])
def test_organization_send_needs_administrator_role(server, org, as_user, role):
    put_user(server, "member")
    put_member(server, "org", ORG, "member", role)
    r = send(as_user("member"), base(recipients=..., isOrganization=True))
    assert_failure(r, 403, "Organization Administrator")


def test_organization_role_is_case_insensitive(server, org, as_user, fanout):
    put_member(server, "org", ORG, "apiuser", "organization administrator")
    assert send(org, base(recipients=..., isOrganization=True)).status_code == 200
    fanout.drain()
    assert len(inbox(as_user, "jsmith")) == 1


def test_organization_send_from_no_organization(server, as_user):
    put_user(server, "loner")
    assert_failure(send(as_user("loner"), base(recipients=..., isOrganization=True)), 403)


def test_several_organizations_administrator_of_none(server, org, as_user):
    put_member(server, "org", "2002", "jsmith", "Sharing User")
    assert_failure(send(as_user("jsmith"), base(recipients=..., isOrganization=True)), 403, "Administrator")


def test_several_organizations(server, org, as_user, fanout):
    put_member(server, "org", "2002", "orgadmin", "Standard User")
    # admin in exactly one of them: that one is meant
    assert send(as_user("orgadmin"), base(recipients=..., isOrganization=True)).status_code == 200
    put_member(server, "org", "2002", "orgadmin", "Organization Administrator")
    put_user(server, "carol")
    put_member(server, "org", "2002", "carol", "Standard User")
    assert_failure(send(as_user("orgadmin"), base(recipients=..., isOrganization=True)), 400, "?owner=")
    r = as_user("orgadmin").post(URL + "?owner=2002", json.dumps(base(recipients=..., isOrganization=True)))
    assert r.status_code == 200, r.data
    assert_failure(as_user("orgadmin").post(URL + "?owner=3003", json.dumps(base(recipients=...,
                                                                                 isOrganization=True))), 403)
    fanout.drain()
    assert len(inbox(as_user, "jsmith")) == 1
    assert len(inbox(as_user, "carol")) == 1


def test_server_token_organization_needs_owner(server, org, as_user, fanout):
    assert_failure(send(server, base(recipients=..., isOrganization=True)), 400, "owner")
    assert_failure(server.post(URL + "?owner=9999", json.dumps(base(recipients=..., isOrganization=True))), 403)
    r = server.post(URL + f"?owner={ORG}", json.dumps(base(recipients=..., isOrganization=True)))
    assert (r.status_code, r.data) == (200, {"status": "Success"})
    fanout.drain()
    assert len(inbox(as_user, "jsmith")) == 1
    assert inbox(as_user, "robot") == []


# ---- ownerId (community or source) --------------------------------------------------------------

@pytest.fixture
def community(server, org):
    put_user(server, "banned")
    put_user(server, "subscriber")
    put_user(server, "bot2", api=True)
    put_member(server, "com", "77", "jsmith", "Subscriber")
    put_member(server, "com", "77", "subscriber", "Subscriber")
    put_member(server, "com", "77", "banned", "Contributor", banned=True)
    put_member(server, "com", "77", "bot2", "Subscriber")
    return "77"


@pytest.mark.parametrize("role", ["Commenter", "Contributor", "Editor", "Director", "director"])
def test_community_send_allowed_roles(server, org, community, as_user, fanout, role):
    put_member(server, "com", community, "apiuser", role)
    r = send(org, base(recipients=..., ownerId=int(community), message="to the community"))
    assert (r.status_code, r.data) == (200, {"status": "Success"})
    fanout.drain()
    for user in ("jsmith", "subscriber", "apiuser"):
        assert [n["message"] for n in inbox(as_user, user)] == ["to the community"], user
    assert inbox(as_user, "banned") == []  # banned member
    assert inbox(as_user, "bot2") == []  # API user
    assert inbox(as_user, "orgadmin") == []  # not a member


def test_community_send_subscriber_refused(server, org, community, as_user):
    put_member(server, "com", community, "apiuser", "Subscriber")
    assert_failure(send(org, base(recipients=..., ownerId=77)), 403, "Commenter")


def test_community_send_non_member_refused(org, community):
    assert_failure(send(org, base(recipients=..., ownerId=77)), 403, "77")


def test_community_send_banned_director_refused(server, org, community):
    put_member(server, "com", community, "apiuser", "Director", banned=True)
    assert_failure(send(org, base(recipients=..., ownerId=77)), 403)


def test_community_send_server_token(server, org, community, as_user, fanout):
    assert send(server, base(recipients=..., ownerId=77)).status_code == 200
    assert_failure(send(server, base(recipients=..., ownerId=4242)), 403, "4242")
    fanout.drain()
    assert len(inbox(as_user, "subscriber")) == 1
    assert inbox(as_user, "banned") == []


def test_owner_id_of_own_organization_means_its_users(server, org, as_user, fanout):
    # "ownerId: the owner whose users or members will receive": an organization's id means its users.
    r = send(as_user("orgadmin"), base(recipients=..., ownerId=int(ORG)))
    assert (r.status_code, r.data) == (200, {"status": "Success"}), r.data
    fanout.drain()
    assert len(inbox(as_user, "jsmith")) == 1
    assert inbox(as_user, "carol") == []  # not in the organization


def test_owner_id_of_organization_needs_administrator(server, org, as_user):
    put_member(server, "org", ORG, "member", "Standard User")
    assert_failure(send(as_user("member"), base(recipients=..., ownerId=int(ORG))), 403, "Organization Administrator")


def test_owner_id_of_organization_with_server_token(server, org, as_user, fanout):
    assert send(server, base(recipients=..., ownerId=int(ORG))).status_code == 200
    fanout.drain()
    assert len(inbox(as_user, "jsmith")) == 1


def test_owner_id_of_another_organization_is_refused(server, org, as_user):
    put_member(server, "org", "5005", "carol", "Organization Administrator")
    assert_failure(send(org, base(recipients=..., ownerId=5005)), 403, "5005")


# ---- hostile input ------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    {"message": "x", "notificationType": "A\x00B", "priority": "low", "recipients": "jsmith"},
    {"message": "x", "notificationType": "A", "priority": "low", "recipients": "js\x00mith"},
    {"message": "x", "notificationType": "A", "priority": "low", "recipients": "a" * 5000},
    {"message": "x", "notificationType": "A", "priority": "low", "recipients": ",".join(f"u{i}" for i in range(1500))},
    {"message": "x", "notificationType": "A", "priority": "l\u0000ow", "recipients": "jsmith"},
    {"message": "x", "notificationType": "A", "priority": "low", "ownerId": "1" * 40},
    {"message": {"$gt": ""}, "notificationType": "A", "priority": "low", "recipients": "jsmith"},
    {"message": "x", "notificationType": "A", "priority": "low", "recipients": "me"},
    {"__proto__": {"admin": True}, "message": "x", "notificationType": "A", "priority": "low"},
])
def test_hostile_input_is_a_clean_400(org, body):
    r = send(org, body)
    assert r.status_code in (400, 403), (r.status_code, r.data)
    assert r.data["status"] == "Failure"


def test_deeply_nested_json_is_not_a_500(org):
    raw = '{"message": ' + "[" * 5000 + "]" * 5000 + ', "notificationType": "A", "priority": "low"}'
    r = org.post(URL, raw)
    assert r.status_code == 400 and r.data["status"] == "Failure", r.data


def test_server_token_recipient_known_by_membership_only(server, org, as_user):
    put_member(server, "org", ORG, "noprofile", "Standard User")
    r = send(server, base(recipients="noprofile"))
    assert (r.status_code, r.data) == (200, {"status": "Success"})
    assert len(inbox(as_user, "noprofile")) == 1
