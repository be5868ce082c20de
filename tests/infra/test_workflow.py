"""The deploy pipeline: `.github/workflows/deploy.yml` is a valid GitHub Actions workflow (checked against
GitHub's workflow schema by check-jsonschema, pinned in the infra extra) that runs tests -> synth + cfn-lint ->
cdk diff -> cdk deploy (dev on main, prod on a v* tag) with credentials from an OIDC role, no stored keys;
and the Makefile's `diff`/`deploy` use the pinned CDK CLI under .cache/."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.load(WORKFLOW.read_text(), Loader=yaml.BaseLoader)  # strings only: `on` stays a key


def _linter() -> str:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if exe is None:
        from tests.infra.conftest import ON_CI

        if ON_CI:
            pytest.fail("check-jsonschema is required on CI (the infra extra)", pytrace=False)
        pytest.skip("check-jsonschema is not installed (pip install -e '.[infra]')")
    return exe


def test_the_workflow_passes_the_workflow_schema():
    result = subprocess.run([_linter(), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linter_catches_a_broken_workflow(tmp_path):
    """The check can fail: a job without `runs-on` and a misspelt key are refused."""
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    step:\n      - run: make test\n")
    result = subprocess.run([_linter(), "--builtin-schema", "vendor.github-workflows", str(broken)],
                            capture_output=True, text=True)
    assert result.returncode != 0


def _runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_tests_then_synth_then_diff_then_deploy(workflow):
    jobs = workflow["jobs"]
    assert set(jobs) == {"test", "synth", "diff-dev", "deploy-dev", "diff-prod", "deploy-prod"}
    assert any("make test" in run for run in _runs(jobs["test"]))
    assert jobs["synth"]["needs"] == "test" and any(run.startswith("make synth") for run in _runs(jobs["synth"]))
    for stage in ("dev", "prod"):
        diff, deploy = jobs[f"diff-{stage}"], jobs[f"deploy-{stage}"]
        assert diff["needs"] == "synth" and deploy["needs"] == f"diff-{stage}"
        assert _runs(diff) == [f"make diff STAGE={stage}"]
        assert _runs(deploy) == [f"make deploy STAGE={stage} CDK_DEPLOY_FLAGS=--require-approval=never"]
        assert deploy["environment"] == stage  # the environment's protection rules gate the deploy
    assert jobs["deploy-dev"]["if"] == jobs["diff-dev"]["if"] == "github.ref == 'refs/heads/main'"
    assert jobs["deploy-prod"]["if"] == jobs["diff-prod"]["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert workflow["on"]["push"]["branches"] == ["main"] and workflow["on"]["push"]["tags"] == ["v*"]


def test_aws_credentials_come_from_an_oidc_role_and_no_stored_key(workflow):
    text = WORKFLOW.read_text()
    assert not re.search(r"aws-access-key-id|aws-secret-access-key|AWS_SECRET|AWS_ACCESS_KEY|secrets\.", text)
    assert workflow["permissions"] == {"contents": "read"}  # least privilege by default
    for name, job in workflow["jobs"].items():
        configure = [s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
        if name.startswith(("diff-", "deploy-")):
            [step] = configure
            assert step["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
            assert set(step["with"]) <= {"role-to-assume", "aws-region", "role-session-name"}
            assert job["permissions"] == {"contents": "read", "id-token": "write"}, name
        else:
            assert not configure and "permissions" not in job, name  # tests and synth get no AWS access


def test_every_action_is_pinned_to_a_version(workflow):
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


def test_make_deploy_uses_the_pinned_cdk_cli_and_diffs_first():
    makefile = (ROOT / "Makefile").read_text()
    version = re.search(r"^CDK_CLI_VERSION := (\S+)$", makefile, re.M)
    assert version and re.fullmatch(r"\d+\.\d+\.\d+", version.group(1))  # exact: no range, no `latest`
    assert re.search(r"^CDK := \$\(CDK_CLI_DIR\)/node_modules/\.bin/cdk$", makefile, re.M)
    assert "npm install -g" not in makefile and "npx" not in makefile
    deploy = re.search(r"^deploy:.*?(?=^\S)", makefile, re.M | re.S).group(0)
    commands = [line.strip() for line in deploy.splitlines()[1:] if line.strip()]
    assert deploy.splitlines()[0].split(":")[1].split() == ["check-stage", "install-infra", "cdk-cli"]
    assert "$(CDK) diff" in commands[0] and "$(CDK) deploy" in commands[1]


@pytest.mark.parametrize("stage, ok", [("dev", True), ("prod", True), ("staging", False), ("", False)])
def test_make_refuses_an_unknown_stage_before_anything_runs(stage, ok):
    result = subprocess.run(["make", "-s", "check-stage", f"STAGE={stage}"], cwd=ROOT, capture_output=True, text=True)
    assert (result.returncode == 0) is ok, result.stderr
    if not ok:
        assert result.stderr.splitlines()[0] == f"STAGE must be dev or prod, not '{stage}'"


def test_the_readme_deploy_section_shows_both():
    readme = (ROOT / "README.md").read_text()
    deploy = readme.split("## Deploy", 1)[1]
    assert "make deploy STAGE=dev" in deploy and "make deploy STAGE=prod" in deploy and "make diff" in deploy
    assert ".github/workflows/deploy.yml" in deploy and "AWS_DEPLOY_ROLE_ARN" in deploy
