"""JWTs naming a tenant and either a user (`sub`) or the tenant's server.

Two kinds of issuer, told apart by the token's `iss` before anything else is trusted:
- this service (TOKEN_ISSUER): HS256 with the key of the tenant in `tid` (TENANT_KEYS), user or server;
- a tenant's identity provider (TENANT_JWKS, see chalicelib.auth.jwks): RS256 or ES256 with a key of its
  JWKS, always a user token of that tenant.
Each kind has its own algorithm allow-list, never taken from the token (`alg: none`, an HS256 token
claiming a provider's issuer, an RS256 token claiming ours: all refused), and `exp`, `iss`, `aud` are
required of both.
"""
from __future__ import annotations

import re
import time
from typing import Any

import jwt

from chalicelib.domain.errors import InvalidInput, Unauthorized
from chalicelib.domain.principal import Caller
from chalicelib.domain.rules import check_user_id
from chalicelib.settings import get_settings

ALGORITHMS = ["HS256"]
# Why a request is unauthenticated (TokenRefused.reason; each surface maps it to its own code).
MISSING, INVALID, EXPIRED = "missing", "invalid", "expired"


class TokenRefused(Unauthorized):
    """401: `reason` says whether the token was missing, invalid or expired."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__("unauthorized", message)
        self.reason = reason
TENANT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TOKEN = 8192


def issue(tenant: str, user: str | None = None, roles: list[str] | tuple[str, ...] = (),
          ttl_seconds: int = 3600, application: str | None = None, key: str | None = None) -> str:
    settings = get_settings()
    key = key or settings.tenant_keys.get(tenant)
    if not key:
        raise ValueError(f"no signing key configured for tenant {tenant!r}")
    now = int(time.time())
    claims: dict[str, Any] = {"iss": settings.issuer, "aud": settings.audience, "iat": now,
                              "exp": now + ttl_seconds, "tid": tenant, "roles": list(roles),
                              "kind": "user" if user else "server"}
    if user:
        claims["sub"] = user
    if application:
        claims["app"] = application
    return jwt.encode(claims, key, algorithm="HS256")


def verify(authorization: str | None) -> Caller:
    if not authorization:
        raise TokenRefused(MISSING, "missing Authorization header (Bearer token)")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise TokenRefused(INVALID, "Authorization must be 'Bearer <token>'")
    if len(token) > MAX_TOKEN:
        raise TokenRefused(INVALID, "token too long")
    settings = get_settings()
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise TokenRefused(INVALID, "malformed token") from None
    providers = [p for p in settings.tenant_jwks.values() if p.issuer == unverified.get("iss")]
    if providers:
        from chalicelib.auth import jwks

        return jwks.verify(token, unverified, providers)
    tenant = unverified.get("tid")
    if not isinstance(tenant, str) or not TENANT_ID.match(tenant) or tenant not in settings.tenant_keys:
        raise TokenRefused(INVALID, "unknown tenant")
    try:
        claims = jwt.decode(token, settings.tenant_keys[tenant], algorithms=ALGORITHMS,
                            audience=settings.audience, issuer=settings.issuer,
                            options={"require": ["exp", "iss", "aud", "tid"]})
    except jwt.ExpiredSignatureError:
        raise TokenRefused(EXPIRED, "token expired") from None
    except jwt.PyJWTError as exc:
        raise TokenRefused(INVALID, f"invalid token: {exc}") from None
    kind = claims.get("kind", "user" if claims.get("sub") else "server")
    user = claims.get("sub")
    if kind == "user":
        user_id(claims, "sub")
    elif kind == "server":
        user = None
    else:
        raise TokenRefused(INVALID, "claim 'kind' must be user or server")
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise TokenRefused(INVALID, "claim 'roles' must be a list of strings")
    app_name = claims.get("app")
    return Caller(tenant=tenant, user=user, roles=frozenset(roles),
                  application=app_name if isinstance(app_name, str) else None)


def user_id(claims: dict[str, Any], claim: str) -> str:
    """The user a token acts as, from `claim`: a string that is a valid user id, else a 401."""
    user = claims.get(claim)
    if not isinstance(user, str) or not user:
        raise TokenRefused(INVALID, f"a user token needs a {claim!r} claim (a string)")
    try:
        check_user_id(user, claim)
    except InvalidInput as exc:
        raise TokenRefused(INVALID, f"claim {exc.message}") from None
    return user
