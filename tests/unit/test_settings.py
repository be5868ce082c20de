"""Settings are read from the environment on every call and refused, naming the variable, when
a value cannot be used."""
from __future__ import annotations

import json

import pytest

from chalicelib.settings import SettingsError, get_settings


@pytest.mark.parametrize("name, value, message", [
    ("FANOUT_CHUNK_SIZE", "abc", "FANOUT_CHUNK_SIZE must be a whole number, not 'abc'"),
    ("FANOUT_CHUNK_SIZE", "0", "FANOUT_CHUNK_SIZE must be at least 1, not 0"),
    ("FANOUT_CHUNK_SIZE", "2.5", "FANOUT_CHUNK_SIZE must be a whole number, not '2.5'"),
    ("INLINE_READ_ALL_LIMIT", "-1", "INLINE_READ_ALL_LIMIT must be at least 0, not -1"),
    ("RETENTION_DAYS", "x", "RETENTION_DAYS must be a whole number, not 'x'"),
    ("RETENTION_DAYS", "0", "RETENTION_DAYS must be at least 1, not 0"),
    ("DYNAMODB_TRANSACTION_LIMIT", "x", "DYNAMODB_TRANSACTION_LIMIT must be a whole number, not 'x'"),
    ("DYNAMODB_TRANSACTION_LIMIT", "101", "DYNAMODB_TRANSACTION_LIMIT must be between 2 and 100, not 101"),
    ("FANOUT_PARALLELISM", "x", "FANOUT_PARALLELISM must be a whole number, not 'x'"),
    ("FANOUT_PARALLELISM", "0", "FANOUT_PARALLELISM must be between 1 and 32, not 0"),
    ("TENANT_KEYS", "not json", "TENANT_KEYS is not valid JSON"),
    ("TENANT_KEYS", "[]", "TENANT_KEYS must be a JSON object of tenant -> signing key, not an array"),
    ("TENANT_KEYS", '"dev"', "TENANT_KEYS must be a JSON object of tenant -> signing key, not a string"),
    ("TENANT_KEYS", "{}", "TENANT_KEYS is an empty object"),
    ("TENANT_KEYS", '{"dev": 5}', "TENANT_KEYS gives tenant 'dev' a number as its key"),
    ("TENANT_KEYS", '{"dev": ""}', "TENANT_KEYS gives tenant 'dev' an empty signing key"),
    ("TENANT_KEYS", '{"": "key"}', "TENANT_KEYS names tenant ''"),
    ("TENANT_KEYS", '{"a b": "key"}', "TENANT_KEYS names tenant 'a b'"),
    ("DYNAMODB_ENDPOINT", "localhost:8000", "DYNAMODB_ENDPOINT must be an http:// or https:// URL"),
    ("DYNAMODB_ENDPOINT", "http://127.0.0.1:port", "DYNAMODB_ENDPOINT has an invalid port"),
    ("TABLE_PREFIX", "my tables", "TABLE_PREFIX may hold only letters, digits"),
    ("POLL_INTERVAL_SECONDS", "0", "POLL_INTERVAL_SECONDS must be between 1 and 3600, not 0"),
    ("CORS_ALLOWED_ORIGINS", "https://app.example.com/", "CORS_ALLOWED_ORIGINS holds 'https://app.example.com/', "
                                                         "which is not an origin"),
    ("CORS_ALLOWED_ORIGINS", "app.example.com", "CORS_ALLOWED_ORIGINS holds 'app.example.com'"),
    ("CORS_ALLOWED_ORIGINS", "http://localhost:99999", "CORS_ALLOWED_ORIGINS holds 'http://localhost:99999'"),
    ("CORS_ALLOWED_ORIGINS", "https://a.*.example.com", "CORS_ALLOWED_ORIGINS holds 'https://a.*.example.com'"),
    ("TENANT_JWKS", "{", "TENANT_JWKS is not valid JSON"),
    ("TENANT_JWKS", "[]", "TENANT_JWKS must be a JSON object"),
    ("TENANT_JWKS", '{"a b": {}}', "TENANT_JWKS names tenant 'a b'"),
    ("TENANT_JWKS", '{"acme": "https://idp/jwks"}', "TENANT_JWKS gives tenant 'acme' a string: expected an object"),
    ("TENANT_JWKS", '{"acme": {"jwksUrl": "https://idp/jwks", "issuer": "i"}}',
     "TENANT_JWKS gives tenant 'acme' no audience"),
    ("TENANT_JWKS", '{"acme": {"jwksUrl": "https://idp/jwks", "issuer": "i", "audience": "a", "userClaim": ""}}',
     "TENANT_JWKS gives tenant 'acme' no userClaim"),
    ("TENANT_JWKS", '{"acme": {"jwksUrl": "https://idp/jwks", "issuer": "i", "audience": "a", "alg": "HS256"}}',
     "TENANT_JWKS gives tenant 'acme' the unknown field 'alg'"),
    ("TENANT_JWKS", '{"acme": {"jwksUrl": "file:///etc/passwd", "issuer": "i", "audience": "a"}}',
     "TENANT_JWKS gives tenant 'acme' the jwksUrl 'file:///etc/passwd': it must be an http:// or https:// URL"),
    ("TENANT_JWKS", '{"acme": {"jwksUrl": "https://idp/jwks", "issuer": "inbox-notifications", "audience": "a"}}',
     "TENANT_JWKS gives tenant 'acme' the issuer 'inbox-notifications', which is this service's own"),
    ("TENANT_JWKS", '{"a": {"jwksUrl": "https://idp/j", "issuer": "i", "audience": "x"}, '
                    '"b": {"jwksUrl": "https://idp/j", "issuer": "i", "audience": "x"}}',
     "TENANT_JWKS gives tenants 'a' and 'b' the same issuer and audience"),
])
def test_an_unusable_value_names_its_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        get_settings()
    assert str(raised.value).startswith(message)
    assert raised.value.variable == name
    assert isinstance(raised.value, ValueError)
    assert "\n" not in str(raised.value)


def test_signing_keys_never_appear_in_messages(monkeypatch):
    monkeypatch.setenv("TENANT_KEYS", json.dumps({"acme": "secret-key-0123456789", "bad tenant": "other-secret"}))
    with pytest.raises(SettingsError) as raised:
        get_settings()
    assert "secret" not in str(raised.value)


def test_valid_values_and_defaults(monkeypatch):
    for name in ("FANOUT_CHUNK_SIZE", "INLINE_READ_ALL_LIMIT", "RETENTION_DAYS", "FANOUT_PARALLELISM",
                 "DYNAMODB_TRANSACTION_LIMIT", "DYNAMODB_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    s = get_settings()
    assert (s.fanout_chunk_size, s.inline_read_all_limit, s.retention_days, s.fanout_parallelism,
            s.transaction_max_actions, s.dynamodb_endpoint) == (500, 200, 365, 8, 100, None)
    monkeypatch.setenv("FANOUT_CHUNK_SIZE", " 7 ")
    monkeypatch.setenv("INLINE_READ_ALL_LIMIT", "0")
    monkeypatch.setenv("RETENTION_DAYS", "")  # empty: the default
    monkeypatch.setenv("DYNAMODB_TRANSACTION_LIMIT", "10")
    monkeypatch.setenv("DYNAMODB_ENDPOINT", "http://127.0.0.1:8001")
    s = get_settings()
    assert (s.fanout_chunk_size, s.inline_read_all_limit, s.retention_days, s.transaction_max_actions,
            s.dynamodb_endpoint) == (7, 0, 365, 10, "http://127.0.0.1:8001")


def test_changes_are_picked_up_on_the_next_read(monkeypatch):
    monkeypatch.setenv("FANOUT_CHUNK_SIZE", "3")
    assert get_settings().fanout_chunk_size == 3
    monkeypatch.setenv("FANOUT_CHUNK_SIZE", "4")
    assert get_settings().fanout_chunk_size == 4


def test_tenant_id_rule_matches_the_tokens():
    from chalicelib.auth import tokens
    from chalicelib import settings

    assert settings.TENANT_ID.pattern == tokens.TENANT_ID.pattern


def test_cors_origins_and_identity_providers_are_read(monkeypatch):
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", " http://localhost:*, HTTPS://App.Example.com:443 ,,https://*.x.io")
    monkeypatch.setenv("TENANT_JWKS", json.dumps({"acme": {"jwksUrl": "https://idp.example/jwks", "issuer": "https://idp",
                                                          "audience": "bell"}}))
    s = get_settings()
    assert s.cors_allowed_origins == ("http://localhost:*", "https://app.example.com", "https://*.x.io")
    assert s.tenant_jwks["acme"].user_claim == "sub" and s.tenant_jwks["acme"].issuer == "https://idp"
    assert s.poll_interval_seconds == 30
