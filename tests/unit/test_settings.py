"""Settings are built from the environment once per process (until reset) and refused, naming the
variable, when a value cannot be used."""
from __future__ import annotations

import json

import pytest

from chalicelib.settings import Settings, SettingsError, get_settings, reset_settings


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
    ("TABLE_INBOX", "x", "TABLE_INBOX must be a DynamoDB table name"),
    ("TABLE_COUNTERS", "my counters", "TABLE_COUNTERS must be a DynamoDB table name"),
    ("ALLOW_DEV_KEYS", "yes please", "ALLOW_DEV_KEYS must be true or false, not 'yes please'"),
    ("LOG_LEVEL", "chatty", "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not 'chatty'"),
    ("METRICS", "statsd", "METRICS must be emf or off, not 'statsd'"),
    ("METRICS_NAMESPACE", "AWS/Lambda", "METRICS_NAMESPACE must be a CloudWatch namespace"),
    ("METRICS_NAMESPACE", "has space", "METRICS_NAMESPACE must be a CloudWatch namespace"),
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
    reset_settings()
    s = get_settings()
    assert (s.fanout_chunk_size, s.inline_read_all_limit, s.retention_days, s.transaction_max_actions,
            s.dynamodb_endpoint) == (7, 0, 365, 10, "http://127.0.0.1:8001")


def test_built_once_until_reset(monkeypatch):
    monkeypatch.setenv("FANOUT_CHUNK_SIZE", "3")
    first = get_settings()
    assert first.fanout_chunk_size == 3 and get_settings() is first
    monkeypatch.setenv("FANOUT_CHUNK_SIZE", "4")
    assert get_settings() is first  # the environment is read once per process ...
    reset_settings()
    assert get_settings().fanout_chunk_size == 4  # ... and again after a reset


def test_an_error_is_raised_on_every_call_until_fixed(monkeypatch):
    monkeypatch.setenv("RETENTION_DAYS", "x")
    for _ in range(2):
        with pytest.raises(SettingsError):
            get_settings()
    monkeypatch.setenv("RETENTION_DAYS", "30")
    reset_settings()
    assert get_settings().retention_days == 30


def test_table_names_come_from_the_stack_before_the_prefix(monkeypatch):
    monkeypatch.setenv("TABLE_PREFIX", "notifications-prod")
    monkeypatch.setenv("TABLE_INBOX", "notifications-prod-inbox-a1b2")
    monkeypatch.setenv("TABLE_COUNTERS", "")  # empty: not passed
    s = get_settings()
    assert s.table_name("inbox") == "notifications-prod-inbox-a1b2"
    assert s.table_name("counters") == "notifications-prod-counters"
    assert s.table_name("directory") == "notifications-prod-directory"
    assert s.work_queue_name == "notifications-prod-work"


def test_the_pynamodb_models_use_the_stack_table_names(monkeypatch):
    from chalicelib.store.tables import all_models

    names = {model.Meta.table_kind: f"stack-{model.Meta.table_kind}-0123" for model in all_models()}
    for kind, name in names.items():
        monkeypatch.setenv(f"TABLE_{kind.upper()}", name)
    reset_settings()
    assert {model.Meta.table_kind: model.Meta.table_name for model in all_models()} == names


def test_dev_keys_follow_allow_dev_keys(monkeypatch):
    monkeypatch.delenv("TENANT_KEYS", raising=False)
    assert get_settings().tenant_keys == {"dev": "dev-signing-key-change-me-0123456789abcdef"}
    monkeypatch.setenv("ALLOW_DEV_KEYS", "False")
    reset_settings()
    assert get_settings().tenant_keys == {}


def test_operator_settings_defaults_and_values(monkeypatch):
    for name in ("LOG_LEVEL", "METRICS", "METRICS_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    s = get_settings()
    assert (s.log_level, s.metrics, s.metrics_namespace) == ("INFO", "emf", "InboxNotifications")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("METRICS", "OFF")
    monkeypatch.setenv("METRICS_NAMESPACE", "Acme/Inbox")
    reset_settings()
    s = get_settings()
    assert (s.log_level, s.metrics, s.metrics_namespace) == ("DEBUG", "off", "Acme/Inbox")


def test_signing_keys_stay_out_of_the_settings_repr():
    assert "acme-key" not in repr(get_settings()) and "acme-key" not in str(get_settings())


def test_built_in_code_by_field_name():
    s = Settings(fanout_chunk_size=3, tenant_keys={"t": "k"})
    assert s.fanout_chunk_size == 3 and s.tenant_keys == {"t": "k"} and s.retention_days == 365


def test_no_deployed_module_but_settings_reads_the_environment():
    """Every variable is read through chalicelib.settings: no other module Chalice deploys touches
    os.environ, os.getenv or os.putenv (or imports them by name)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in sorted([root / "app.py", *(root / "chalicelib").rglob("*.py")]):
        if path == root / "chalicelib" / "settings.py":
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "environb", "getenv", "putenv",
                                                                  "unsetenv"):
                offenders.append(f"{path.relative_to(root)}:{node.lineno} .{node.attr}")
            elif isinstance(node, ast.ImportFrom) and node.module == "os" and \
                    {a.name for a in node.names} & {"environ", "environb", "getenv", "putenv", "unsetenv"}:
                offenders.append(f"{path.relative_to(root)}:{node.lineno} from os import ...")
    assert not offenders, offenders


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
