"""Tokens from a tenant's identity provider (TENANT_JWKS): RS256/ES256 signed by a key of its JWKS,
served here over HTTP by tests/idp.py."""
from __future__ import annotations

import json
import logging
import time

import jwt
import pytest

from chalicelib.settings import reset_settings

from tests.conftest import auth
from tests.idp import AUDIENCE, ISSUER, Provider, ec_key, rsa_key

UNREAD = "/v1/users/me/notifications/unread-count"


@pytest.fixture
def idp(monkeypatch):
    from chalicelib.auth import jwks

    provider = Provider([rsa_key(), ec_key()]).start()
    monkeypatch.setenv("TENANT_JWKS", json.dumps(provider.config("acme")))
    reset_settings()
    jwks._clients.clear()
    yield provider
    provider.stop()
    jwks._clients.clear()


@pytest.fixture(scope="module")
def bare_client():
    """The app without any database: enough for requests refused before any read."""
    from chalice.test import Client

    from app import app

    with Client(app) as test_client:
        yield test_client


def get(client, path: str, token: str, **headers: str):
    r = client.http.get(path, headers={"Authorization": f"Bearer {token}", **headers})
    r.data = json.loads(r.body) if r.body else None
    return r


@pytest.mark.parametrize("key_index", [0, 1], ids=["RS256", "ES256"])
def test_a_provider_token_is_a_user_token_of_its_tenant(client, idp, key_index):
    client.http.post("/v1/notifications", headers=auth("acme"),
                     body=json.dumps({"recipients": ["alice"], "type": "T", "message": "hi"}))
    r = get(client, UNREAD, idp.token("alice", idp.keys[key_index]))
    assert r.status_code == 200 and r.data == {"unreadCount": 1}, r.body
    r = get(client, "/v1/users/me/notifications", idp.token("alice", idp.keys[key_index]))
    assert [n["recipient"] for n in r.data["notifications"]] == ["alice"]
    # a user token: server-only routes are refused
    assert get(client, "/v1/organizations/o1/members", idp.token("alice")).status_code == 403


def test_the_user_comes_from_the_configured_claim(client, idp, monkeypatch):
    monkeypatch.setenv("TENANT_JWKS", json.dumps(idp.config("acme", userClaim="uid")))
    reset_settings()
    client.http.post("/v1/notifications", headers=auth("acme"),
                     body=json.dumps({"recipients": ["u-42"], "type": "T", "message": "hi"}))
    assert get(client, UNREAD, idp.token("ignored-sub", uid="u-42")).data == {"unreadCount": 1}
    r = get(client, UNREAD, idp.token("alice"))  # no uid claim
    assert r.status_code == 401 and "'uid'" in r.data["message"], r.body


def _hs256_with_public_key(idp: Provider) -> str:
    """The classic confusion: HS256 with the provider's public key (PEM) as the HMAC secret."""
    from cryptography.hazmat.primitives import serialization

    pem = idp.keys[0].private.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": now + 60}
    header = {"alg": "HS256", "typ": "JWT", "kid": idp.keys[0].kid}
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"


REFUSED = {
    "wrong audience": (lambda p: p.token(aud="someone-else"), "audience"),
    "no audience": (lambda p: p.token(aud=None), "audience"),
    "expired": (lambda p: p.token(ttl=-120), "expired"),
    "no exp": (lambda p: p.token(exp=None), "exp"),
    "unknown kid": (lambda p: p.token(key=rsa_key("not-published")), "kid"),
    "no kid": (lambda p: jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": int(time.time()) + 60},
                                    p.keys[0].private, algorithm="RS256"), "kid"),
    "signed by another key under a published kid": (
        lambda p: jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": int(time.time()) + 60},
                             rsa_key().private, algorithm="RS256", headers={"kid": p.keys[0].kid}), "Signature"),
    "ES256 header on the RSA key's kid": (
        lambda p: jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": int(time.time()) + 60},
                             p.keys[1].private, algorithm="ES256", headers={"kid": p.keys[0].kid}), "RS256"),
    "alg none": (lambda p: jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice",
                                       "exp": int(time.time()) + 60}, None, algorithm="none"), "RS256 or ES256"),
    "HS256 with the tenant's shared key": (
        lambda p: jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "tid": "acme",
                              "exp": int(time.time()) + 60}, "acme-key-0123456789abcdef0123456789",
                             algorithm="HS256", headers={"kid": p.keys[0].kid}), "RS256 or ES256"),
    "HS256 with the provider's public key": (_hs256_with_public_key, "RS256 or ES256"),
    "user id with a control character": (lambda p: p.token("al\x01ice"), "sub"),
    "numeric user claim": (lambda p: p.token(12), "Subject must be a string"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_tokens_are_401_in_the_surface_shape(bare_client, idp, case):
    client = bare_client
    make, words = REFUSED[case]
    token = make(idp)
    r = get(client, UNREAD, token)
    assert r.status_code == 401, (case, r.status_code, r.body)
    assert r.data["error"] == "unauthorized" and words in r.data["message"], r.body
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    spark = get(client, "/spark/v1/notifications", token)
    assert spark.status_code == 401 and spark.data["D"]["Success"] is False, spark.body


def test_a_token_of_another_issuer_or_ours_with_rs256_is_refused(client, idp):
    from chalicelib.settings import get_settings

    other = get(client, UNREAD, idp.token(iss="https://elsewhere.example/"))
    assert other.status_code == 401, other.body
    # our own issuer (the HS256 path) never accepts an asymmetric token, even with a `tid`
    ours = get(client, UNREAD, idp.token(iss=get_settings().issuer, aud=get_settings().audience, tid="acme"))
    assert ours.status_code == 401, ours.body
    # and our HS256 tokens keep working beside the provider
    assert client.http.get(UNREAD, headers=auth("acme", "alice")).status_code == 200


def test_an_unknown_kid_refetches_at_most_once_per_cooldown(client, idp, monkeypatch):
    from chalicelib.auth import jwks
    from tests.idp import SigningKey

    stranger = rsa_key("stranger").private
    made_up = [idp.token(key=SigningKey(f"made-up-{i}", "RS256", stranger)) for i in range(5)]
    assert get(client, UNREAD, idp.token()).status_code == 200
    assert idp.fetches == 1
    for token in made_up:  # a flood of made-up kids within the cooldown that began with the first fetch
        assert get(client, UNREAD, token).status_code == 401
    assert idp.fetches == 1
    monkeypatch.setattr(jwks, "REFETCH_COOLDOWN", 1.0)
    jwks._clients.clear()
    assert get(client, UNREAD, idp.token()).status_code == 200 and idp.fetches == 2
    time.sleep(1.05)
    rotated = rsa_key("rotated")
    idp.keys.append(rotated)  # the provider rotates: a token with the new kid refetches once
    assert get(client, UNREAD, idp.token(key=rotated)).status_code == 200
    assert idp.fetches == 3
    for token in made_up:
        assert get(client, UNREAD, token).status_code == 401
    assert idp.fetches == 3


def test_an_unreachable_provider_is_a_401_saying_so_never_a_500(bare_client, idp, caplog):
    client = bare_client
    idp.stop()  # connection refused
    token = idp.token()
    with caplog.at_level(logging.DEBUG):
        r = get(client, UNREAD, token)
        spark = get(client, "/spark/v1/notifications/unread", token)
    assert r.status_code == 401 and "cannot be fetched" in r.data["message"], r.body
    assert spark.status_code == 401 and "cannot be fetched" in spark.data["D"]["Message"], spark.body
    assert "JWKS of tenant acme unreachable" in caplog.text
    assert token not in caplog.text and token.split(".")[2] not in caplog.text


def test_the_last_key_set_serves_through_an_outage(client, idp, monkeypatch):
    from chalicelib.auth import jwks

    monkeypatch.setattr(jwks, "JWKS_LIFESPAN", 0.1)
    jwks._clients.clear()
    assert get(client, UNREAD, idp.token()).status_code == 200
    idp.stop()
    time.sleep(0.15)  # the cached set has expired; the refetch fails; the last good set still serves
    assert get(client, UNREAD, idp.token()).status_code == 200
    monkeypatch.setattr(jwks, "STALE_FOR", 0)
    jwks._clients[idp.jwks_url]._last_good_at -= 1
    time.sleep(0.15)
    assert get(client, UNREAD, idp.token()).status_code == 401


def test_a_tenant_is_chosen_by_issuer_and_audience(client, idp, monkeypatch):
    both = {**idp.config("acme"), "other": {"jwksUrl": idp.jwks_url, "issuer": ISSUER, "audience": "other-app"}}
    monkeypatch.setenv("TENANT_JWKS", json.dumps(both))
    reset_settings()
    client.http.post("/v1/notifications", headers=auth("other"),
                     body=json.dumps({"recipients": ["alice"], "type": "T", "message": "hi"}))
    assert get(client, UNREAD, idp.token(aud="other-app")).data == {"unreadCount": 1}
    assert get(client, UNREAD, idp.token()).data == {"unreadCount": 0}  # acme's alice
    assert get(client, UNREAD, idp.token(aud=["x", "other-app"])).data == {"unreadCount": 1}
