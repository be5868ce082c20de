#!/usr/bin/env python3
"""The CDK app: one stack per stage (`dev`, `prod`). `cdk synth`/`cdk deploy` run it, and so does
`python infra/app.py` directly (no CDK CLI, no AWS account: `make synth`; CDK_OUTDIR picks the
output folder).

Context (`-c key=value`): `stage=dev|prod|all` (default all), `tenantKeysSecret=<name>` (the Secrets
Manager secret whose JSON string is TENANT_KEYS; default notifications/<stage>/tenant-keys),
`alarmEmail=<address>` (subscribe an address to the alarms topic), `corsOrigins=<origin,...>` (CORS_ALLOWED_ORIGINS:
the browser origins that may call the API, e.g. https://app.example.com,https://*.example.com), `tenantJwks=<json>`
(TENANT_JWKS: tenants whose users' tokens come from an OpenID Connect identity provider), `logRetentionDays=<days>`
(how long the functions' log groups keep their logs; default 30).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")  # Debian ships Node 20

import aws_cdk as cdk  # noqa: E402

from infra.stack import STAGES, NotificationsStack  # noqa: E402


def build(app: cdk.App) -> list[NotificationsStack]:
    wanted = app.node.try_get_context("stage") or os.environ.get("STAGE") or "all"
    stages = list(STAGES) if wanted == "all" else [wanted]
    env = cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
                          region=os.environ.get("CDK_DEFAULT_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    return [NotificationsStack(app, stage, env=env,
                               tenant_keys_secret=app.node.try_get_context("tenantKeysSecret"),
                               alarm_email=app.node.try_get_context("alarmEmail"),
                               cors_origins=app.node.try_get_context("corsOrigins"),
                               tenant_jwks=app.node.try_get_context("tenantJwks"),
                               log_retention=app.node.try_get_context("logRetentionDays"))
            for stage in stages]


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # `chalice package` needs one
    app = cdk.App()
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
