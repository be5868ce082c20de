"""Synthesize the CDK app once per session (no AWS account, no CDK CLI)."""
from __future__ import annotations

import os

import pytest

ON_CI = os.environ.get("CI", "").lower() == "true"


def _need_cdk():
    try:
        import aws_cdk  # noqa: F401
        import chalice.cdk  # noqa: F401
    except ImportError as exc:
        if ON_CI:
            pytest.fail(f"the infra extra is required on CI: {exc}", pytrace=False)
        pytest.skip(f"infra tests skipped: {exc} (pip install -e '.[infra]')")


# What the stages are synthesized with: prod allows one exact origin, dev two (one a pattern) and trusts an
# identity provider.
STAGE_OPTIONS = {
    "prod": {"cors_origins": "https://app.example.com"},
    "dev": {"cors_origins": "https://app.example.com,http://localhost:*",
            "tenant_jwks": '{"acme": {"jwksUrl": "https://idp.example.com/.well-known/jwks.json", '
                           '"issuer": "https://idp.example.com/", "audience": "bell"}}'},
}


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory):
    _need_cdk()
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    import aws_cdk as cdk

    from infra.stack import NotificationsStack

    outdir = tmp_path_factory.mktemp("cdk.out")
    saved = dict(os.environ)
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("chalice-work"))  # chalice.cdk writes chalice.out/ into the cwd
    try:
        app = cdk.App(outdir=str(outdir))
        stacks = {stage: NotificationsStack(app, stage, env=cdk.Environment(region="us-east-1"), **STAGE_OPTIONS[stage])
                  for stage in ("dev", "prod")}
        app.synth()
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)  # packaging leaves the stage environment behind
    return stacks, outdir


@pytest.fixture(scope="session")
def templates(synthesized):
    from aws_cdk.assertions import Template

    stacks, _ = synthesized
    return {stage: Template.from_stack(stack) for stage, stack in stacks.items()}
