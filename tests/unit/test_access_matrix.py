"""Who may do what: every documented route x every kind of caller -> the documented status.

The documented status of each (surface, caller) cell. "Ids" are a notification or broadcast id
of the victim's (tenant `dev`, user alice); "named user" routes are those whose path names alice
(`/v1/users/alice/...`, `/v1/.../members/alice`). The other tenant's tokens carry the same user
id (alice) and, for the user, every role (admin, Private).

| caller | service (`/health`, `/openapi.json`, `/docs`, `/docs/{asset}`, `/static/notification-bell.js`) | native `/v1` | ThreatConnect v2 (`ownerId` of a community) | Cord v1 | api3 | Spark |
| --- | --- | --- | --- | --- | --- | --- |
| no token | 200 | 401 `unauthorized` | 401 | 401 `missing_authorization_header` | 401 | 401, Code 1000 |
| malformed; expired; wrong signature; `alg: none`; signed RS256; HMAC with the tenant key under an RS256 header; no `aud`; no `exp`; the tenant's identity provider's token signed by an unpublished key, for another audience, expired, or HS256 with the tenant key under the provider's issuer | 200 | 401 `unauthorized` | 401 | 401 `invalid_access_token` | 401 | 401, Code 1000 (expired: 1020) |
| other tenant's server token | 200 | ids 404; named user: 200/201 on its own tenant's user of that id; membership get/delete 404; member list/put, send: its own tenant (200/201/202) | 403 (no such owner in its tenant) | its own tenant: POST/GET/PUT 200; DELETE of our id 404 | LIST 200 (its own tenant only); GET, DELETE 404 | (`_apiuser`) its own user: 200/201; PUT of our id 404 |
| other tenant's user token | 200 | ids 404; named user: 200 on its own data; membership get 404; server-only routes 403; community send 403 | 403 | 403 (server token only) | LIST 200 (its own tenant only); GET, DELETE 404 | its own inbox 200/201; PUT of our id 404 |
| same tenant, other user | 200 | ids 404; named user 403; server-only 403; community send 403 (not a member); notification types 200 (tenant-wide) | 403 (not a member) | 403 | LIST 403; GET 404; DELETE 404 | its own inbox 200/201; PUT of our id 404 |
| API user (profile `isApiUser`; Director in the community) | 200 | as the other user, but community send 202 | 200 (the role allows sending; API users never receive) | 403 | as the other user | as the other user |
| banned member (Director, banned) | 200 | as the other user (community send 403) | 403 | 403 | as the other user | as the other user |
| role too low | 200 | Subscriber / Sharing User: 403 (ids 404); the named user herself on server-only routes: 403 | Subscriber: 403 | a user token (alice herself): 403 | no `admin` role: LIST 403, GET 404 (even her own), DELETE of her own 200 | IDX: 403, Code 1500 |
| right caller | 200 | 200 / 201 / 202 / 204 | 200 | 200 | 200 | 200 / 201 |

An identity provider's token for alice (TENANT_JWKS) is checked as the right caller on every route whose
right caller is alice herself.

Right callers: native: alice for her inbox, ids, profile, settings, membership and broadcast (a
Commenter of the community for the send), the tenant's server for profiles and memberships;
ThreatConnect: a Commenter (or Contributor, Editor, Director) of the community; Cord: the tenant's
server; api3: an `admin` for LIST and GET, the recipient for DELETE; Spark: the user (role Private).

Error shapes: native and service `{"error", "message", "field"?}`; ThreatConnect
`{"status": "Failure", "message"}`; Cord `{"error", "message"}`; api3 `{"message", "code"}`; Spark
`{"D": {"Success": false, "Code", "Message"}}`; every 401 sends `WWW-Authenticate: Bearer`.

In every cell: a refused request changes nothing stored (the whole database is compared before and
after); an allowed request by someone other than the target changes only the caller's own data; no
response holds data the caller may not see (markers planted in alice's data and in tenant dev's,
and alice's ids, unless the caller sent that id). Then: another tenant's ids are 404 both ways,
cursors from one listing are useless in another (400 or the user's own page), and an
Idempotency-Key is scoped to its tenant and caller.

The shared world (two tenants, their users, memberships and notifications) is built once per
module; a cell that changed anything is followed by a restore of the tables, so cells are
independent of their order.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode

import jwt
import pytest

from chalicelib.settings import reset_settings

from tests.conftest import reset_process_caches

# ---- markers: where data may leak to ----------------------------------------------------------------
# Planted in the victim's data; a response to a caller who may not see it must not contain it.
UM = "zqUSERSECRETalice"    # dev alice's own data (her inbox, profile, settings, her broadcast)
TM = "zqTENANTSECRETdev"    # tenant dev's data (a notification type, a member id) other tenants never see
AM = "zqACMEOWNDATA"        # tenant acme's own data: what an acme caller's own reads show

VICTIM, OTHER = "dev", "acme"
ORG, COM = "1001", "2001"   # numeric: ThreatConnect's ownerId is an integer
TM_MEMBER = f"member-{TM}"
ALICE_UNREAD = 3            # alice's inbox: N1..N3, unread


# ---- who is calling -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Who:
    tenant: str | None            # None: no token at all
    user: str | None = None       # None with a tenant: that tenant's server token
    roles: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        if self.tenant is None:
            return "anonymous"
        who = "server" if self.user is None else self.user
        return f"{self.tenant}:{who}" + (f"[{','.join(self.roles)}]" if self.roles else "")


ANONYMOUS = Who(None)
SERVER = Who(VICTIM)
ALICE = Who(VICTIM, "alice")
ALICE_ADMIN = Who(VICTIM, "alice", ("admin",))
ALICE_PRIVATE = Who(VICTIM, "alice", ("Private",))
ALICE_IDX = Who(VICTIM, "alice", ("IDX",))
BOB = Who(VICTIM, "bob")
ROBOT = Who(VICTIM, "robot")        # profile isApiUser; Director in the community
MALLORY = Who(VICTIM, "mallory")    # Director in the community, banned
LOWLY = Who(VICTIM, "lowly")        # Subscriber in the community, Sharing User in the organization
ACME_SERVER = Who(OTHER)
ACME_ALICE = Who(OTHER, "alice", ("admin", "Private"))  # same user id, other tenant, every role

# Token defects: the right caller's own claims, each with one thing wrong. The idp-* ones are tokens of the
# tenant's identity provider (TENANT_JWKS, served by tests/idp.py during this module): an unpublished key, another
# audience, expired, or HS256 with the tenant's shared key under the provider's issuer (algorithm confusion).
AUTH_FAILURES = ["no-token", "malformed", "expired", "wrong-signature", "alg-none", "rs256", "hs-key-as-rs256",
                 "no-aud", "no-exp", "idp-unknown-kid", "idp-wrong-audience", "idp-expired", "idp-hs256-tenant-key"]
FIXED = {"other-tenant-server": ACME_SERVER, "other-tenant-user": ACME_ALICE, "same-tenant-other-user": BOB,
         "api-user": ROBOT, "banned-member": MALLORY}
CALLERS = AUTH_FAILURES + list(FIXED) + ["role-too-low", "right-caller"]
SEMANTIC = list(FIXED) + ["role-too-low", "right-caller"]


def _claims(who: Who, **over: Any) -> dict[str, Any]:
    from chalicelib.settings import get_settings

    s = get_settings()
    now = int(time.time())
    c: dict[str, Any] = {"iss": s.issuer, "aud": s.audience, "iat": now, "exp": now + 3600,
                         "tid": who.tenant or VICTIM, "roles": list(who.roles),
                         "kind": "user" if who.user else "server"}
    if who.user:
        c["sub"] = who.user
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def _key(tenant: str) -> str:
    from chalicelib.settings import get_settings

    return get_settings().tenant_keys[tenant]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


_RSA: dict[str, bytes] = {}


def _rsa_private_pem() -> bytes:
    if "pem" not in _RSA:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _RSA["pem"] = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
    return _RSA["pem"]


# The victim tenant's identity provider while this module runs (see the `world` fixture).
IDP: dict[str, Any] = {}


def idp_token(who: Who, defect: str | None = None) -> str:
    """A token of the victim tenant's identity provider for `who` (a user), with `defect`."""
    from tests.idp import rsa_key

    provider = IDP["provider"]
    user = who.user or "alice"
    if defect == "idp-unknown-kid":
        return provider.token(user, IDP.setdefault("stranger", rsa_key("unpublished")))
    if defect == "idp-wrong-audience":
        return provider.token(user, aud="another-app")
    if defect == "idp-expired":
        return provider.token(user, ttl=-120)
    if defect == "idp-hs256-tenant-key":
        claims = {**_claims(who), "iss": provider.issuer, "aud": provider.audience}
        return jwt.encode(claims, _key(VICTIM), algorithm="HS256", headers={"kid": provider.keys[0].kid})
    assert defect is None, defect
    return provider.token(user)


def token_for(who: Who, defect: str | None = None) -> str | None:
    """A bearer token for `who`, or that token with `defect`; None: send no Authorization."""
    if defect == "no-token" or (who.tenant is None and defect is None):
        return None
    who = who if who.tenant is not None else SERVER  # defects of an anonymous caller: a server token's
    if defect and defect.startswith("idp-"):
        return idp_token(who, defect)
    key = _key(who.tenant)
    if defect is None:
        return jwt.encode(_claims(who), key, algorithm="HS256")
    if defect == "malformed":
        header = _b64(b'{"alg":"HS256","typ":"JWT"}')
        return f"{header}.not*base64*json.{_b64(b'sig')}"
    if defect == "expired":
        now = int(time.time())
        return jwt.encode(_claims(who, iat=now - 7200, exp=now - 60), key, algorithm="HS256")
    if defect == "wrong-signature":
        return jwt.encode(_claims(who), "wrong-key-0123456789abcdef0123456789", algorithm="HS256")
    if defect == "alg-none":
        return jwt.encode(_claims(who), None, algorithm="none")
    if defect == "rs256":
        return jwt.encode(_claims(who), _rsa_private_pem(), algorithm="RS256")
    if defect == "hs-key-as-rs256":
        # The classic confusion: header says RS256, signature is HMAC-SHA256 with the tenant's key
        # (what a verifier taking the algorithm from the header and the key as a "public key" accepts).
        header = _b64(b'{"alg":"RS256","typ":"JWT"}')
        signing_input = f"{header}.{_b64(json.dumps(_claims(who)).encode())}"
        sig = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(sig)}"
    if defect == "no-aud":
        return jwt.encode(_claims(who, aud=None), key, algorithm="HS256")
    if defect == "no-exp":
        return jwt.encode(_claims(who, exp=None), key, algorithm="HS256")
    raise AssertionError(defect)


# ---- expectations -----------------------------------------------------------------------------------

ALLOW, OWN, DENY = "allow", "own", "deny"


@dataclass(frozen=True)
class Exp:
    """`allow`: the caller may do this to the target; `own`: allowed, but it acts on the caller's own
    data only (another tenant's, or the caller's own inbox), never the target's; `deny`: refused, and
    nothing anywhere changed. `shows`: markers the body must hold; `code`: the surface's error code;
    `check(body, world, who)`: anything else."""

    status: int
    kind: str
    shows: tuple[str, ...] = ()
    code: Any = None
    check: Callable[[Any, "World", Who], None] | None = None


def A(status: int, *shows: str, check=None) -> Exp:
    return Exp(status, ALLOW, shows, check=check)


def O(status: int, *shows: str, check=None) -> Exp:  # noqa: E743
    return Exp(status, OWN, shows, check=check)


def D(status: int, code: Any = None) -> Exp:
    return Exp(status, DENY, code=code)


@dataclass
class Req:
    method: str
    path: str
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)

    def url(self) -> str:
        return self.path + ("?" + urlencode(self.query) if self.query else "")


@dataclass
class Spec:
    """One documented route's row of the matrix."""

    surface: str
    right: Who | None                       # None: a public route
    low: Who | None                         # the seed's "role too low" caller for this route
    build: Callable[["World", Who, Exp], Req]
    expect: dict[str, Exp]                  # by semantic caller


# ---- the world: built once per module -------------------------------------------------------------

@dataclass
class World:
    client: Any
    n: list[str] = field(default_factory=list)        # alice's notifications (dev), newest last
    acme_n: str = ""                                   # acme alice's notification
    broadcast: str = ""                                # alice's broadcast to the community
    acme_broadcast: str = ""
    saved: dict[str, Any] = field(default_factory=dict)
    canonical: dict[tuple[str, str, str], str] = field(default_factory=dict)

    # -- raw HTTP --
    def call(self, req: Req, token: str | None, extra: dict[str, str] | None = None):
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(extra or {})
        body = None if req.body is None else json.dumps(req.body)
        r = getattr(self.client.http, req.method.lower())(req.url(), headers=headers, body=body)
        try:
            r.data = json.loads(r.body) if r.body else None
        except ValueError:
            r.data = None
        return r

    def as_(self, who: Who, method: str, path: str, body: Any = None, **query: str):
        r = self.call(Req(method, path, body, dict(query)), token_for(who))
        assert r.status_code < 300, (method, path, who.label, r.status_code, r.body)
        return r

    # -- fresh objects for cells that consume their target --
    def fresh_notification(self, user: str = "alice") -> str:
        r = self.as_(SERVER, "POST", "/v1/notifications",
                     {"recipients": [user], "type": f"Type{TM}", "message": f"fresh {UM}"})
        return r.data["notifications"][0]["id"]

    # -- the database, as moto holds it --
    @staticmethod
    def _backend():
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]

    def dump(self) -> dict[tuple[str, str, str], str]:
        out = {}
        for name, table in self._backend().tables.items():
            for item in table.all_items():
                attrs = item.to_json()["Attributes"]
                key = (name, attrs["pk"]["S"], attrs.get("sk", {}).get("S", ""))
                out[key] = json.dumps(attrs, sort_keys=True)
        return out

    def save(self) -> None:
        self.saved = {name: copy.deepcopy(t.items) for name, t in self._backend().tables.items()}
        self.canonical = self.dump()

    def restore(self) -> None:
        for name, table in self._backend().tables.items():
            table.items = copy.deepcopy(self.saved[name])
        reset_process_caches()


def _build_world(client) -> World:
    w = World(client)
    users = {"alice": {"name": f"Alice {UM}", "metadata": {"secret": UM}}, "bob": {"name": "Bob"},
             "robot": {"name": "Robot", "isApiUser": True}, "mallory": {"name": "Mallory"},
             "lowly": {"name": "Lowly"}, TM_MEMBER: {"name": "Tenant member"}}
    for user, body in users.items():
        w.as_(SERVER, "PUT", f"/v1/users/{user}", body)
    w.as_(SERVER, "PUT", "/v1/users/alice/settings", {"mutedTypes": [f"Muted{UM}"], "minPriority": "low"})
    for user, role in (("alice", "Organization Administrator"), ("bob", "Standard User"),
                       ("robot", "Standard User"), ("mallory", "Standard User"), ("lowly", "Sharing User"),
                       (TM_MEMBER, "Read Only User")):
        w.as_(SERVER, "PUT", f"/v1/organizations/{ORG}/members/{user}", {"role": role})
    for user, role, banned in (("alice", "Commenter", False), ("robot", "Director", False),
                               ("mallory", "Director", True), ("lowly", "Subscriber", False),
                               (TM_MEMBER, "Subscriber", False)):
        w.as_(SERVER, "PUT", f"/v1/communities/{COM}/members/{user}", {"role": role, "banned": banned})
    for i in range(ALICE_UNREAD):
        r = w.as_(SERVER, "POST", "/v1/notifications",
                  {"recipients": ["alice"], "type": f"Type{TM}", "message": f"hello {i} {UM}",
                   "metadata": {"secret": UM}})
        w.n.append(r.data["notifications"][0]["id"])
    r = w.as_(ALICE, "POST", "/v1/notifications", {"community": COM, "type": "Matrix", "message": f"bc {UM}"})
    w.broadcast = r.data["broadcastId"]
    # The other tenant: its own alice (same user id) with her own notification.
    w.as_(ACME_SERVER, "PUT", "/v1/users/alice", {"name": f"Acme Alice {AM}"})
    r = w.as_(ACME_SERVER, "POST", "/v1/notifications", {"recipients": ["alice"], "type": "Matrix",
                                                          "message": f"acme {AM}"})
    w.acme_n = r.data["notifications"][0]["id"]
    w.as_(ACME_SERVER, "PUT", f"/v1/communities/{COM}/members/alice", {"role": "Director"})
    r = w.as_(Who(OTHER, "alice"), "POST", "/v1/notifications", {"community": COM, "type": "Matrix",
                                                                  "message": f"acme bc {AM}"})
    w.acme_broadcast = r.data["broadcastId"]
    w.as_(ACME_SERVER, "DELETE", f"/v1/communities/{COM}/members/alice")
    return w


@pytest.fixture(scope="module")
def world():
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib.auth import jwks
    from tests.idp import Provider, rsa_key

    provider = IDP["provider"] = Provider([rsa_key()]).start()
    jwks._clients.clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DYNAMODB_ENDPOINT", raising=False)
        mp.setenv("TENANT_JWKS", json.dumps(provider.config(VICTIM)))
        reset_settings()
        with mock_aws():
            reset_process_caches()
            from chalicelib.store.bootstrap import ensure_tables

            ensure_tables()
            from app import app

            with Client(app) as client:
                w = _build_world(client)
                w.save()
                yield w
    reset_process_caches()
    provider.stop()
    jwks._clients.clear()


# ---- the rows ----------------------------------------------------------------------------------------

def _n(w: World, exp: Exp) -> str:
    """Alice's first notification; a fresh one when the cell may consume it."""
    return w.fresh_notification() if exp.kind == ALLOW else w.n[0]


def _spark_query(who: Who) -> dict[str, str]:
    # A server token has no Spark "current user": it names one with _apiuser (the seed's parameter).
    return {"_apiuser": "alice"} if who.tenant and who.user is None else {}


def _own_unread(body: Any, w: World, who: Who) -> None:
    from chalicelib.store import counters
    from chalicelib.store.inbox import inbox_key

    user = who.user or "alice"
    assert body == {"unreadCount": counters.read(inbox_key(who.tenant, user)).unread}, body


def _alice_unread(body: Any, w: World, who: Who) -> None:
    assert body == {"unreadCount": ALICE_UNREAD}, body


def _spark_rows(expected_rows: Callable[[Who], int]) -> Callable[[Any, World, Who], None]:
    def check(body: Any, w: World, who: Who) -> None:
        assert body["D"]["Pagination"]["TotalRows"] == expected_rows(who), body

    return check


def _spark_own_unread(who: Who) -> int:
    from chalicelib.store import counters
    from chalicelib.store.inbox import inbox_key

    return counters.read(inbox_key(who.tenant, who.user or "alice")).unread


def _marked(n: int) -> Callable[[Any, World, Who], None]:
    def check(body: Any, w: World, who: Who) -> None:
        assert body["marked"] == n, body

    return check


def _user_routes(allow: Exp, own: Exp) -> dict[str, Exp]:
    """A route about alice's own inbox, profile or settings (`{userId}` = alice)."""
    return {"other-tenant-server": own, "other-tenant-user": own, "same-tenant-other-user": D(403, "forbidden"),
            "api-user": D(403, "forbidden"), "banned-member": D(403, "forbidden"), "role-too-low": D(403, "forbidden"),
            "right-caller": allow}


def _id_routes(allow: Exp, code: Any = "notification_not_found") -> dict[str, Exp]:
    """A route taking alice's notification id: everyone else gets the missing-id answer."""
    return {"other-tenant-server": D(404, code), "other-tenant-user": D(404, code),
            "same-tenant-other-user": D(404, code), "api-user": D(404, code), "banned-member": D(404, code),
            "role-too-low": D(404, code), "right-caller": allow}


def _server_only(allow: Exp, own: Exp, code: Any = "forbidden") -> dict[str, Exp]:
    """A route for the tenant's backend: every user token is refused, whatever it names."""
    return {"other-tenant-server": own, "other-tenant-user": D(403, code), "same-tenant-other-user": D(403, code),
            "api-user": D(403, code), "banned-member": D(403, code), "role-too-low": D(403, code),
            "right-caller": allow}


def _public(build: Callable[[World, Who, Exp], Req]) -> Spec:
    return Spec("service", None, LOWLY, build, {c: A(200) for c in SEMANTIC})


def _member_specs(noun: str, owner: str) -> dict[tuple[str, str], Spec]:
    base = f"/v1/{noun}/{{{'orgId' if noun == 'organizations' else 'communityId'}}}/members"
    real = f"/v1/{noun}/{owner}/members"
    role = "Standard User" if noun == "organizations" else "Subscriber"
    return {
        ("GET", base): Spec("native", SERVER, ALICE, lambda w, who, e: Req("GET", real),
                            _server_only(A(200, TM), O(200))),
        ("PUT", base + "/{userId}"): Spec(
            "native", SERVER, ALICE, lambda w, who, e: Req("PUT", f"{real}/alice", {"role": role}),
            _server_only(A(200), O(201))),
        ("GET", base + "/{userId}"): Spec(
            "native", ALICE, LOWLY, lambda w, who, e: Req("GET", f"{real}/alice"),
            {**_user_routes(A(200), D(404, "member_not_found"))}),
        ("DELETE", base + "/{userId}"): Spec(
            "native", SERVER, ALICE, lambda w, who, e: Req("DELETE", f"{real}/alice"),
            {**_server_only(A(204), D(404, "member_not_found"))}),
    }


SPECS: dict[tuple[str, str], Spec] = {
    # -- service: public, and never any tenant's data --
    ("GET", "/health"): _public(lambda w, who, e: Req("GET", "/health")),
    ("GET", "/openapi.json"): _public(lambda w, who, e: Req("GET", "/openapi.json")),
    ("GET", "/static/notification-bell.js"): _public(lambda w, who, e: Req("GET", "/static/notification-bell.js")),
    ("GET", "/docs"): _public(lambda w, who, e: Req("GET", "/docs")),
    ("GET", "/docs/{asset}"): _public(lambda w, who, e: Req("GET", "/docs/docs.js")),

    # -- native --
    ("POST", "/v1/notifications"): Spec(
        "native", ALICE, LOWLY,
        # Types the cells send ("Fresh", Spark's "General", "Cord") are registered nowhere yet: a refused
        # send that registered its type would show as a change.
        lambda w, who, e: Req("POST", "/v1/notifications", {"community": COM, "type": "Fresh", "message": "m"}),
        {"other-tenant-server": O(202), "other-tenant-user": D(403, "forbidden"),
         "same-tenant-other-user": D(403, "forbidden"), "api-user": A(202), "banned-member": D(403, "forbidden"),
         "role-too-low": D(403, "forbidden"), "right-caller": A(202)}),
    ("GET", "/v1/notifications/{id}"): Spec(
        "native", ALICE, LOWLY, lambda w, who, e: Req("GET", f"/v1/notifications/{w.n[0]}"),
        _id_routes(A(200, UM))),
    ("PATCH", "/v1/notifications/{id}"): Spec(
        "native", ALICE, LOWLY, lambda w, who, e: Req("PATCH", f"/v1/notifications/{w.n[0]}", {"read": True}),
        _id_routes(A(200, UM))),
    ("DELETE", "/v1/notifications/{id}"): Spec(
        "native", ALICE, LOWLY, lambda w, who, e: Req("DELETE", f"/v1/notifications/{_n(w, e)}"),
        _id_routes(A(204))),
    ("GET", "/v1/users/{userId}/notifications"): Spec(
        "native", ALICE, LOWLY, lambda w, who, e: Req("GET", "/v1/users/alice/notifications"),
        _user_routes(A(200, UM, TM), O(200, AM))),
    ("GET", "/v1/users/{userId}/notifications/unread-count"): Spec(
        "native", ALICE, LOWLY, lambda w, who, e: Req("GET", "/v1/users/alice/notifications/unread-count"),
        _user_routes(A(200, check=_alice_unread), O(200, check=_own_unread))),
    ("POST", "/v1/realtime/tickets"): Spec(
        "native", ALICE, LOWLY, lambda w, who, e: Req("POST", "/v1/realtime/tickets", query={"userId": "alice"}),
        _user_routes(A(201), O(201))),
    ("POST", "/v1/users/{userId}/notifications/read"): Spec(
        "native", ALICE, LOWLY,
        lambda w, who, e: Req("POST", "/v1/users/alice/notifications/read", {"ids": [w.n[0]]}),
        _user_routes(A(200, check=_marked(1)), O(200, check=_marked(0)))),
    ("GET", "/v1/broadcasts/{id}"): Spec(
        "native", ALICE, LOWLY, lambda w, who, e: Req("GET", f"/v1/broadcasts/{w.broadcast}"),
        {**_id_routes(A(200), "broadcast_not_found")}),
    ("PUT", "/v1/users/{userId}"): Spec(
        "native", SERVER, ALICE, lambda w, who, e: Req("PUT", "/v1/users/alice", {"name": "Renamed"}),
        _server_only(A(200), O(200))),
    ("GET", "/v1/users/{userId}"): Spec(
        "native", ALICE, LOWLY, lambda w, who, e: Req("GET", "/v1/users/alice"),
        _user_routes(A(200, UM), O(200, AM))),
    ("GET", "/v1/users/{userId}/settings"): Spec(
        "native", ALICE, LOWLY, lambda w, who, e: Req("GET", "/v1/users/alice/settings"),
        _user_routes(A(200, UM), O(200))),
    ("PUT", "/v1/users/{userId}/settings"): Spec(
        "native", ALICE, LOWLY,
        lambda w, who, e: Req("PUT", "/v1/users/alice/settings", {"mutedTypes": ["Other"], "minPriority": "low"}),
        _user_routes(A(200), O(200))),
    ("GET", "/v1/notification-types"): Spec(
        "native", ALICE, LOWLY, lambda w, who, e: Req("GET", "/v1/notification-types"),
        # Types are the tenant's: every user of it may list them; nobody else sees them.
        {"other-tenant-server": O(200), "other-tenant-user": O(200), "same-tenant-other-user": A(200, TM),
         "api-user": A(200, TM), "banned-member": A(200, TM), "role-too-low": A(200, TM),
         "right-caller": A(200, TM)}),
    **_member_specs("organizations", ORG),
    **_member_specs("communities", COM),

    # -- ThreatConnect v2: a community send (ownerId) --
    ("POST", "/threatconnect/api/v2/notifications"): Spec(
        "threatconnect", ALICE, LOWLY,
        lambda w, who, e: Req("POST", "/threatconnect/api/v2/notifications",
                              {"message": "m", "notificationType": "Fresh", "priority": "low", "ownerId": int(COM)}),
        {"other-tenant-server": D(403), "other-tenant-user": D(403), "same-tenant-other-user": D(403),
         "api-user": A(200), "banned-member": D(403), "role-too-low": D(403), "right-caller": A(200)}),

    # -- Cord v1: the application's backend (server token) only --
    ("POST", "/cord/v1/notifications"): Spec(
        "cord", SERVER, ALICE,
        lambda w, who, e: Req("POST", "/cord/v1/notifications",
                              {"recipientID": "alice", "template": "m {{recipient}}", "url": "https://x.example/",
                               "type": "url"}),
        _server_only(A(200), O(200))),
    ("DELETE", "/cord/v1/notifications/{notificationID}"): Spec(
        "cord", SERVER, ALICE, lambda w, who, e: Req("DELETE", f"/cord/v1/notifications/{_n(w, e)}"),
        _server_only(A(200), D(404, "notification_not_found"))),
    ("GET", "/cord/v1/users/{userID}/notifications"): Spec(
        "cord", SERVER, ALICE, lambda w, who, e: Req("GET", "/cord/v1/users/alice/notifications"),
        _server_only(A(200, UM), O(200, AM))),
    ("PUT", "/cord/v1/users/{userID}"): Spec(
        "cord", SERVER, ALICE, lambda w, who, e: Req("PUT", "/cord/v1/users/alice", {"name": "Renamed"}),
        _server_only(A(200), O(200))),

    # -- api3: LIST and GET need an admin; DELETE only the requester's own --
    ("GET", "/api3/notification"): Spec(
        "api3", ALICE_ADMIN, ALICE, lambda w, who, e: Req("GET", "/api3/notification"),
        {"other-tenant-server": O(200, AM), "other-tenant-user": O(200, AM), "same-tenant-other-user": D(403),
         "api-user": D(403), "banned-member": D(403), "role-too-low": D(403), "right-caller": A(200, UM, TM)}),
    ("GET", "/api3/notification/{id}"): Spec(
        "api3", ALICE_ADMIN, ALICE, lambda w, who, e: Req("GET", f"/api3/notification/{w.n[0]}"),
        _id_routes(A(200, UM), None)),
    ("DELETE", "/api3/notification/{id}"): Spec(
        # No role is needed to delete one's own: the "role too low" caller (alice without admin) may.
        "api3", ALICE, ALICE, lambda w, who, e: Req("DELETE", f"/api3/notification/{_n(w, e)}"),
        {**_id_routes(A(200), None), "role-too-low": A(200)}),

    # -- Spark: IDX and VOW may neither read nor write; everyone else acts on their own inbox --
    ("GET", "/spark/v1/notifications/unread"): Spec(
        "spark", ALICE_PRIVATE, ALICE_IDX,
        lambda w, who, e: Req("GET", "/spark/v1/notifications/unread", query=_spark_query(who)),
        {"other-tenant-server": O(200, check=_spark_rows(_spark_own_unread)),
         "other-tenant-user": O(200, check=_spark_rows(_spark_own_unread)),
         "same-tenant-other-user": O(200, check=_spark_rows(_spark_own_unread)),
         "api-user": O(200, check=_spark_rows(_spark_own_unread)),
         "banned-member": O(200, check=_spark_rows(_spark_own_unread)),
         "role-too-low": D(403, 1500), "right-caller": A(200, check=_spark_rows(lambda who: ALICE_UNREAD))}),
    ("GET", "/spark/v1/notifications"): Spec(
        "spark", ALICE_PRIVATE, ALICE_IDX,
        lambda w, who, e: Req("GET", "/spark/v1/notifications", query=_spark_query(who)),
        {"other-tenant-server": O(200, AM), "other-tenant-user": O(200, AM), "same-tenant-other-user": O(200),
         "api-user": O(200), "banned-member": O(200), "role-too-low": D(403, 1500), "right-caller": A(200, UM)}),
    ("POST", "/spark/v1/notifications"): Spec(
        "spark", ALICE_PRIVATE, ALICE_IDX,
        lambda w, who, e: Req("POST", "/spark/v1/notifications", {"D": {"Type": "General", "Message": "m"}},
                              query=_spark_query(who)),
        {"other-tenant-server": O(201), "other-tenant-user": O(201), "same-tenant-other-user": O(201),
         "api-user": O(201), "banned-member": O(201), "role-too-low": D(403, 1500), "right-caller": A(201)}),
    ("PUT", "/spark/v1/notifications/{Id}"): Spec(
        "spark", ALICE_PRIVATE, ALICE_IDX,
        lambda w, who, e: Req("PUT", f"/spark/v1/notifications/{w.n[0]}", {"D": {"Read": True}},
                              query=_spark_query(who)),
        {**_id_routes(A(200), 404), "role-too-low": D(403, 1500)}),
}


# ---- checks ------------------------------------------------------------------------------------------

def _error_shape(surface: str, status: int, body: Any, defect: str | None, exp: Exp) -> None:
    assert isinstance(body, dict), body
    if surface in ("native", "service"):
        assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
        assert set(body) <= {"error", "message", "field"}, body
        if status == 401:
            assert body["error"] == "unauthorized", body
        if exp.code is not None:
            assert body["error"] == exp.code, body
    elif surface == "threatconnect":
        assert body.get("status") == "Failure" and isinstance(body.get("message"), str), body
        assert set(body) == {"status", "message"}, body
    elif surface == "cord":
        assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
        assert set(body) == {"error", "message"}, body
        if status == 401:
            wanted = "missing_authorization_header" if defect == "no-token" else "invalid_access_token"
            assert body["error"] == wanted, body
        if exp.code is not None:
            assert body["error"] == exp.code, body
    elif surface == "api3":
        assert set(body) == {"message", "code"} and body["code"] == status, body
        assert isinstance(body["message"], str) and body["message"], body
    elif surface == "spark":
        assert set(body) == {"D"} and set(body["D"]) == {"Success", "Code", "Message"}, body
        assert body["D"]["Success"] is False, body
        if status == 401:
            assert body["D"]["Code"] == (1020 if defect in ("expired", "idp-expired") else 1000), body
        if exp.code is not None:
            assert body["D"]["Code"] == exp.code, body
    else:
        raise AssertionError(surface)


def _success_shape(surface: str, status: int, body: Any) -> None:
    if status == 204:
        assert body is None
    elif surface == "service" and body is None:  # the bell's script, the /docs page and its assets: not JSON
        pass
    elif surface == "threatconnect":
        assert body == {"status": "Success"}, body
    elif surface == "spark":
        assert body["D"]["Success"] is True, body
    elif surface == "cord":
        assert isinstance(body, list) or body.get("success") is True, body
    else:
        assert isinstance(body, dict), body


def _sees(who: Who, public: bool) -> set[str]:
    """The planted markers (and alice's ids) this caller may ever be shown."""
    if public or who.tenant is None:
        return set()
    if who.tenant != VICTIM:
        return {AM}
    if who.user in (None, "alice"):
        return {UM, TM}
    return {TM}


def _own_scope(who: Who, pk: str) -> bool:
    """Whether an item (by partition key) is the caller's own to change."""
    if who.tenant != VICTIM:
        return pk.startswith(f"{who.tenant}#")
    if who.user is None:
        return pk.startswith(f"{VICTIM}#")
    return (pk in {f"{VICTIM}#{who.user}", f"{VICTIM}#u#{who.user}", f"{VICTIM}#types"}
            or pk.startswith(f"{VICTIM}#user:{who.user}#"))


def _leaks(text: str, w: World, sees: set[str], sent: str) -> list[str]:
    """Markers and ids in a response that the caller may not see (an id it sent may be echoed)."""
    found = [m for m in (UM, TM, AM) if m not in sees and m in text]
    if UM not in sees:
        found += [f"id {i}" for i in w.n + [w.broadcast] if i in text and i not in sent]
    if AM not in sees:
        found += [f"id {i}" for i in (w.acme_n, w.acme_broadcast) if i in text and i not in sent]
    return found


def expectation(spec: Spec, caller: str) -> Exp:
    if caller in AUTH_FAILURES:
        return A(200) if spec.right is None else D(401)
    return spec.expect[caller]


def identity(spec: Spec, caller: str) -> Who:
    """Who the caller is; a defective token carries the right caller's claims (a public route's:
    the tenant's server)."""
    if caller in FIXED:
        return FIXED[caller]
    if caller == "role-too-low":
        assert spec.low is not None
        return spec.low
    if spec.right is None:
        return ANONYMOUS if caller == "right-caller" else SERVER
    return spec.right


# ---- the matrix --------------------------------------------------------------------------------------

def _route_keys() -> list[tuple[str, str]]:
    from chalicelib.api.surfaces import service_routes

    return [(r.method, r.path) for r in service_routes()]


# Every documented route, from the route table itself: a new route gets cells (which fail until it
# has a row) without anyone remembering to add it here.
ROUTE_KEYS = _route_keys()
# Read by tests/unit/conftest.py's terminal summary.
STATS = {"cells": len(ROUTE_KEYS) * len(CALLERS), "routes": len(ROUTE_KEYS), "callers": len(CALLERS), "passed": 0}


def test_every_route_has_a_matrix_row():
    missing = [k for k in ROUTE_KEYS if k not in SPECS]
    stale = [k for k in SPECS if k not in ROUTE_KEYS]
    assert not missing, f"documented routes without a row in the access matrix: {missing}"
    assert not stale, f"matrix rows for routes that no longer exist: {stale}"
    for key, spec in SPECS.items():
        assert set(spec.expect) == set(SEMANTIC), (key, set(SEMANTIC) ^ set(spec.expect))


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTE_KEYS, ids=[f"{m} {p}" for m, p in ROUTE_KEYS])
def test_matrix(world: World, route: tuple[str, str], caller: str) -> None:
    check_cell(world, route, caller)


# Routes alice herself (no roles) may use: an identity provider's token for alice must do exactly what hers does.
IDP_ROUTES = [k for k in ROUTE_KEYS if k in SPECS and SPECS[k].right == ALICE]


@pytest.mark.parametrize("route", IDP_ROUTES, ids=[f"{m} {p}" for m, p in IDP_ROUTES])
def test_an_identity_provider_token_acts_as_its_user(world: World, route: tuple[str, str]) -> None:
    check_cell(world, route, "right-caller", token=idp_token(ALICE), counted=False)


def check_cell(world: World, route: tuple[str, str], caller: str, token: str | None = None,
               counted: bool = True) -> None:
    """One cell: `caller` (or `token`, standing for that caller) on `route`, checked against its row
    (`counted`: one of the matrix's own cells, in STATS)."""
    if route not in SPECS:
        pytest.fail(f"{route[0]} {route[1]} has no row in the access matrix (add it to SPECS)")
    spec = SPECS[route]
    exp = expectation(spec, caller)
    who = identity(spec, caller)
    defect = caller if caller in AUTH_FAILURES else None
    token = token or token_for(who, defect)
    try:
        req = spec.build(world, who, exp)
        before = world.dump()
        reset_process_caches()  # no in-process cache hides a write a refused request would make
        r = world.call(req, token)
        after = world.dump()
        label = f"{req.method} {req.url()} as {who.label} ({caller})"
        assert r.status_code == exp.status, (label, r.status_code, r.body)
        text = r.body.decode("utf-8") if isinstance(r.body, bytes) else (r.body or "")
        if exp.kind == DENY:
            _error_shape(spec.surface, r.status_code, r.data, defect, exp)
            if r.status_code == 401:
                assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
        else:
            _success_shape(spec.surface, r.status_code, r.data)
        sees = set() if exp.kind == DENY or defect is not None else _sees(who, spec.right is None)
        leaked = _leaks(text, world, sees, req.url() + json.dumps(req.body))
        assert not leaked, (label, "response holds data the caller may not see", leaked, text[:500])
        for marker in exp.shows:
            assert marker in text, (label, f"expected the target's data ({marker}) in the body", text[:500])
        if exp.check is not None:
            exp.check(r.data, world, who)
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        if exp.kind == DENY:
            assert not changed, (label, "a refused request changed stored data", sorted(changed))
        elif exp.kind == OWN:
            foreign = sorted(k for k in changed if not _own_scope(who, k[1]))
            assert not foreign, (label, "changed data outside the caller's own", foreign)
        else:
            tenant = who.tenant or VICTIM
            foreign = sorted(k for k in changed if not k[1].startswith(f"{tenant}#"))
            assert not foreign, (label, "changed another tenant's data", foreign)
        STATS["passed"] += counted
    finally:
        if world.dump() != world.canonical:
            world.restore()


# ---- ids of one tenant are unknown in another (both directions) -------------------------------------

ID_ROUTES = [
    # (route, surface, request for an id, the tenant's callers the route admits)
    ("native GET", "native", lambda i: Req("GET", f"/v1/notifications/{i}"), "user"),
    ("native PATCH", "native", lambda i: Req("PATCH", f"/v1/notifications/{i}", {"read": True}), "user"),
    ("native DELETE", "native", lambda i: Req("DELETE", f"/v1/notifications/{i}"), "user"),
    ("cord DELETE", "cord", lambda i: Req("DELETE", f"/cord/v1/notifications/{i}"), "server"),
    ("api3 GET", "api3", lambda i: Req("GET", f"/api3/notification/{i}"), "user"),
    ("api3 DELETE", "api3", lambda i: Req("DELETE", f"/api3/notification/{i}"), "user"),
    ("spark PUT", "spark", lambda i: Req("PUT", f"/spark/v1/notifications/{i}", {"D": {"Read": True}}), "user"),
]


@pytest.mark.parametrize("holder", ["server", "user"])
@pytest.mark.parametrize("direction", ["dev-id-in-acme", "acme-id-in-dev"])
@pytest.mark.parametrize("route,surface,make,admits", ID_ROUTES, ids=[r[0] for r in ID_ROUTES])
def test_foreign_notification_id_is_404(world, route, surface, make, admits, direction, holder):
    """The same user id (alice) in both tenants, every role: another tenant's id is simply unknown."""
    if admits == "server" and holder == "user":
        pytest.skip("the route refuses every user token (403) before it reads an id")
    nid, tenant = (world.n[0], OTHER) if direction == "dev-id-in-acme" else (world.acme_n, VICTIM)
    who = Who(tenant, "alice", ("admin", "Private")) if holder == "user" else Who(tenant)
    req = make(nid)
    if surface == "spark" and holder == "server":
        req.query = {"_apiuser": "alice"}
    before = world.dump()
    try:
        r = world.call(req, token_for(who))
        assert r.status_code == 404, (route, who.label, r.status_code, r.body)
        _error_shape(surface, 404, r.data, None, D(404))
        assert world.dump() == before
    finally:
        if world.dump() != world.canonical:
            world.restore()


def test_foreign_broadcast_id_is_404(world):
    for who, bid in ((ACME_SERVER, world.broadcast), (Who(OTHER, "alice"), world.broadcast),
                     (SERVER, world.acme_broadcast), (ALICE, world.acme_broadcast)):
        r = world.call(Req("GET", f"/v1/broadcasts/{bid}"), token_for(who))
        assert r.status_code == 404 and r.data["error"] == "broadcast_not_found", (who.label, r.body)


# ---- cursors: one caller's position is no key to another's data ------------------------------------

CURSOR_SOURCES = {
    # where a cursor comes from: (who lists, what)
    "alice-inbox": (ALICE, "/v1/users/me/notifications?limit=1"),
    "alice-unread": (ALICE, "/v1/users/me/notifications?limit=1&status=unread"),
    "dev-org-members": (SERVER, f"/v1/organizations/{ORG}/members?limit=1"),
    "dev-community-members": (SERVER, f"/v1/communities/{COM}/members?limit=1"),
}
CURSOR_CASES = [
    # (the cursor's source, who uses it, on which listing)
    ("alice-inbox", BOB, "/v1/users/me/notifications"),
    ("alice-inbox", ROBOT, "/v1/users/me/notifications"),
    ("alice-inbox", SERVER, "/v1/users/bob/notifications"),
    ("alice-inbox", ACME_ALICE, "/v1/users/me/notifications"),
    ("alice-inbox", ACME_SERVER, "/v1/users/alice/notifications"),
    ("alice-inbox", ACME_SERVER, "/cord/v1/users/alice/notifications"),
    ("alice-inbox", SERVER, "/cord/v1/users/bob/notifications"),
    ("alice-unread", BOB, "/v1/users/me/notifications?status=unread"),
    ("alice-unread", ACME_ALICE, "/v1/users/me/notifications?status=unread"),
    ("dev-org-members", ACME_SERVER, f"/v1/organizations/{ORG}/members"),
    ("dev-org-members", ACME_SERVER, f"/v1/communities/{COM}/members"),
    ("dev-community-members", ACME_SERVER, f"/v1/communities/{COM}/members"),
]


@pytest.mark.parametrize("source,who,listing", CURSOR_CASES,
                         ids=[f"{s}->{w.label}:{p}" for s, w, p in CURSOR_CASES])
def test_foreign_cursor_gives_400_or_own_page(world, source, who, listing):
    """A cursor from one caller's listing, used by another: 400 or the user's own page, never the
    first listing's items."""
    owner, first = CURSOR_SOURCES[source]
    r = world.call(Req("GET", first), token_for(owner))
    cursor = r.data["cursor"]
    assert r.status_code == 200 and cursor, r.body
    before = world.dump()
    r = world.call(Req("GET", f"{listing}{'&' if '?' in listing else '?'}{urlencode({'cursor': cursor})}"),
                   token_for(who))
    assert r.status_code in (200, 400), (r.status_code, r.body)
    text = r.body.decode()
    # Nothing of alice's (the tenant's server reads bob's listing here) nor, for acme, of tenant dev.
    sees = {AM} if who.tenant == OTHER else {TM}
    leaked = _leaks(text, world, sees, cursor)
    assert not leaked, (r.body, leaked)
    assert world.dump() == before


# ---- Idempotency-Key: scoped to the caller; another caller's same key is a new request ----------------

IDEM_CASES = [
    # (first caller, its key, second caller, its key): never the same record
    (SERVER, "K-1", ACME_SERVER, "K-1"),
    (ALICE, "K-1", Who(OTHER, "alice"), "K-1"),
    (ALICE, "K-1", BOB, "K-1"),
    (SERVER, "K-1", ALICE, "K-1"),
    (ALICE, "x#K-1", Who(VICTIM, "alice#x"), "K-1"),  # "#" inside a user id or a key is not a separator
    (Who(VICTIM, "alice#x"), "K-1", ALICE, "x#K-1"),
]


@pytest.mark.parametrize("first,first_key,second,second_key", IDEM_CASES,
                         ids=[f"{a.label}:{ka}->{b.label}:{kb}" for a, ka, b, kb in IDEM_CASES])
def test_idempotency_key_of_another_caller_is_a_new_request(world, first, first_key, second, second_key):
    body = {"recipients": ["alice"], "type": "Matrix", "message": "idem"}
    try:
        if "alice#x" in (first.user, second.user):  # alice#x may send to alice: same organization
            world.as_(SERVER, "PUT", f"/v1/organizations/{ORG}/members/alice%23x", {"role": "Standard User"})

        def send(who: Who, key: str):
            r = world.call(Req("POST", "/v1/notifications", body), token_for(who), {"Idempotency-Key": key})
            assert r.status_code == 201, (who.label, r.status_code, r.body)
            return r

        r1 = send(first, first_key)
        assert r1.headers.get("Idempotent-Replayed") == "false"
        again = send(first, first_key)  # the first caller's own retry is a replay
        assert again.headers.get("Idempotent-Replayed") == "true" and again.data == r1.data
        r2 = send(second, second_key)
        assert r2.headers.get("Idempotent-Replayed") == "false", (r2.headers, r2.body)
        ids1 = {n["id"] for n in r1.data["notifications"]}
        ids2 = {n["id"] for n in r2.data["notifications"]}
        assert ids1 and ids2 and not ids1 & ids2, (r1.data, r2.data)
        for nid in ids1:  # the first caller's notification is still there, as it was
            r = world.call(Req("GET", f"/v1/notifications/{nid}"), token_for(Who(first.tenant)))
            assert r.status_code == 200 and r.data["message"] == "idem", r.body
        r = world.call(Req("GET", "/v1/users/alice/notifications/unread-count"), token_for(Who(second.tenant)))
        base = ALICE_UNREAD if second.tenant == VICTIM else 1
        assert r.data["unreadCount"] == base + (2 if first.tenant == second.tenant else 1), r.body
    finally:
        world.restore()
