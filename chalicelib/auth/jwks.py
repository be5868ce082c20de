"""User tokens from a tenant's own identity provider (OpenID Connect: Cognito, Auth0, Clerk...),
verified with the public keys it publishes (JWKS), so a host app's page can hand its sign-in token
straight to the bell.

Keys are fetched once per process and provider and kept `JWKS_LIFESPAN` seconds; a token signed with
an unknown `kid` (a rotated key) refetches them at most once per `REFETCH_COOLDOWN` seconds, so a flood
of made-up kids costs the provider nothing; when the provider cannot be reached the last key set serves
up to `STALE_FOR` seconds, and after that the request is a 401 saying so (never a 500).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import jwt
from jwt import PyJWKClient, PyJWKClientConnectionError

from chalicelib.auth.tokens import EXPIRED, INVALID, TokenRefused, user_id
from chalicelib.domain.principal import Caller
from chalicelib.settings import IdentityProvider

log = logging.getLogger(__name__)

# What a provider's tokens may be signed with; each key's own type must agree (an RSA key never
# verifies an ES256 token, and no HMAC algorithm is ever accepted here).
ALGORITHMS = ("RS256", "ES256")
FETCH_TIMEOUT = 3.0
JWKS_LIFESPAN = 300
REFETCH_COOLDOWN = 30
STALE_FOR = 3600


class _Client(PyJWKClient):
    """PyJWKClient (key set cache, rate-limited refetch on an unknown kid) that keeps serving its last
    good key set for a while when the provider is unreachable."""

    def __init__(self, url: str) -> None:
        super().__init__(url, cache_jwk_set=True, lifespan=JWKS_LIFESPAN, timeout=FETCH_TIMEOUT,
                         cooldown_duration=REFETCH_COOLDOWN)
        self._last_good: Any = None
        self._last_good_at = 0.0

    def fetch_data(self) -> Any:
        try:
            data = super().fetch_data()
        except PyJWKClientConnectionError:
            if self._last_good is not None and time.monotonic() - self._last_good_at < STALE_FOR:
                log.warning("JWKS %s unreachable: using the key set fetched %.0f s ago", self.uri,
                            time.monotonic() - self._last_good_at)
                return self._last_good
            raise
        self._last_good, self._last_good_at = data, time.monotonic()
        return data


_clients: dict[str, _Client] = {}
_clients_lock = threading.Lock()


def _client(url: str) -> _Client:
    with _clients_lock:
        if url not in _clients:
            _clients[url] = _Client(url)
        return _clients[url]


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    return [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []


def verify(token: str, unverified: dict[str, Any], providers: list[IdentityProvider]) -> Caller:
    """A user Caller for the tenant whose provider (one of `providers`, all of the token's issuer)
    names the token's audience; TokenRefused (401) for anything else."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRefused(INVALID, "malformed token") from None
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALGORITHMS:
        raise TokenRefused(INVALID, f"a token from this identity provider must be signed with "
                                    f"{' or '.join(ALGORITHMS)}")
    if not isinstance(kid, str) or not kid:
        raise TokenRefused(INVALID, "a token from an identity provider needs a 'kid' header naming its key")
    audiences = _audiences(unverified)
    provider = next((p for p in providers if p.audience in audiences), None)
    if provider is None:
        raise TokenRefused(INVALID, "the token's audience is not the one configured for its issuer (TENANT_JWKS)")
    try:
        key = _client(provider.jwks_url).get_signing_key(kid)
    except PyJWKClientConnectionError as exc:
        log.warning("JWKS of tenant %s unreachable at %s: %s", provider.tenant, provider.jwks_url, exc)
        raise TokenRefused(INVALID, "the identity provider's signing keys (JWKS) cannot be fetched right now; "
                                    "try again later") from None
    except (jwt.PyJWTError, ValueError):  # an unknown kid, or a key set without usable keys
        raise TokenRefused(INVALID, "the identity provider's JWKS has no usable key with this token's kid") from None
    if key.algorithm_name != alg:
        raise TokenRefused(INVALID, f"the token's key (kid) is for {key.algorithm_name}, not {alg}")
    try:
        claims = jwt.decode(token, key.key, algorithms=[alg], audience=provider.audience, issuer=provider.issuer,
                            options={"require": ["exp", "iss", "aud"]})
    except jwt.ExpiredSignatureError:
        raise TokenRefused(EXPIRED, "token expired") from None
    except jwt.PyJWTError as exc:
        raise TokenRefused(INVALID, f"invalid token: {exc}") from None
    return Caller(tenant=provider.tenant, user=user_id(claims, provider.user_claim))
