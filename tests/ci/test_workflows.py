"""The GitHub Actions workflows: the job ids users' branch protections rely on, actions pinned
by commit SHA, least-privilege permissions, one concurrency group per environment, no
expression interpolated into a shell script, and only scripts and CLI commands that exist.

`make lint` also validates them against the workflow JSON schema (check-jsonschema) and runs
zizmor; actionlint runs in the lint-workflows workflow (it cannot be installed offline).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
# `on:` is YAML 1.1's boolean true for PyYAML
ON = True

JOB_IDS = {
    "model-serving.yaml": {"build", "deploy-staging", "integration-tests", "deploy-production"},
    "model-deploy.yaml": {
        "verify-staging-model",
        "export-model",
        "deploy-staging",
        "smoke-tests",
        "promote-to-production",
        "deploy-production",
    },
    "rollback.yaml": {"rollback", "smoke-tests"},
}
# spam-platform subcommands a workflow may call before the CLI has them (none now).
KNOWN_GAPS: set[str] = set()
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


ALL = sorted(p.name for p in WORKFLOWS.glob("*.yaml"))


def steps(workflow: dict):
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


def test_the_workflows_live_where_github_runs_them():
    assert set(JOB_IDS) | {"charts.yaml", "terraform.yaml"} <= set(ALL)
    assert not (REPO / "ci" / "workflows").exists()


@pytest.mark.parametrize("name", sorted(JOB_IDS))
def test_job_ids_are_the_original_ones(name):
    assert JOB_IDS[name] <= set(load(name)["jobs"])


@pytest.mark.parametrize("name", ALL)
def test_actions_are_pinned_by_commit_sha_with_their_version(name):
    text = (WORKFLOWS / name).read_text()
    for job_id, step in steps(load(name)):
        uses = step.get("uses")
        if uses:
            assert PINNED.match(uses), f"{name}:{job_id}: {uses} is not pinned to a commit SHA"
            line = next(x for x in text.splitlines() if uses in x)
            assert re.search(r"# v\d", line), f"{name}: {uses} has no version comment"


@pytest.mark.parametrize("name", ALL)
def test_permissions_are_least_privilege(name):
    workflow = load(name)
    assert workflow.get("permissions") == {"contents": "read"}, "top level: contents: read only"
    for job_id, job in workflow["jobs"].items():
        granted = job.get("permissions", {})
        assert set(granted) <= {"contents", "id-token"}, f"{name}:{job_id}: {granted}"
        assert granted.get("contents", "read") == "read"
        uses_azure = any("azure/login@" in (s.get("uses") or "") for s in job.get("steps", []))
        assert (granted.get("id-token") == "write") == uses_azure, (
            f"{name}:{job_id}: id-token: write exactly where azure/login (OIDC) runs"
        )


@pytest.mark.parametrize("name", sorted(JOB_IDS))
def test_jobs_that_change_an_environment_queue_per_environment(name):
    for job_id, job in load(name)["jobs"].items():
        changes = any(
            "deploy.py" in (s.get("run") or "") or "helm rollback" in (s.get("run") or "")
            for s in job.get("steps", [])
        )
        if not changes:
            continue
        env = job.get("environment")
        assert env, f"{name}:{job_id} deploys without an environment (no approval gate)"
        group = job.get("concurrency", {}).get("group", "")
        assert group in (f"spam-platform-{env}", "spam-platform-${{ inputs.environment }}"), group
        assert job["concurrency"].get("cancel-in-progress") is False


def test_production_waits_for_the_production_environment():
    for name in ("model-serving.yaml", "model-deploy.yaml"):
        assert load(name)["jobs"]["deploy-production"]["environment"] == "production"
    assert load("model-deploy.yaml")["jobs"]["promote-to-production"]["environment"] == "production"


@pytest.mark.parametrize("name", ALL)
def test_no_expression_is_interpolated_into_a_shell_script(name):
    for job_id, step in steps(load(name)):
        run = step.get("run") or ""
        assert "${{" not in run, f"{name}:{job_id}:{step.get('name')}: pass it through env"


@pytest.mark.parametrize("name", ALL)
def test_checkouts_do_not_keep_credentials(name):
    for job_id, step in steps(load(name)):
        if (step.get("uses") or "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, f"{name}:{job_id}"


@pytest.mark.parametrize("name", ALL)
def test_scripts_and_cli_commands_exist(name):
    from typer.main import get_command

    from spam_trainer.cli import app

    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    for job_id, step in steps(load(name)):
        run = step.get("run") or ""
        for script in re.findall(r"ci/scripts/[\w.-]+", run):
            assert (REPO / script).is_file(), f"{name}:{job_id}: {script} does not exist"
        for sub in re.findall(r"spam-platform (\w[\w-]*)", run):
            assert sub in commands or sub in KNOWN_GAPS, f"{name}:{job_id}: no command {sub}"
    assert not (KNOWN_GAPS & commands), "a known gap has landed: drop it from KNOWN_GAPS"


def test_workflow_inputs():
    serving = load("model-serving.yaml")[ON]["workflow_dispatch"]["inputs"]
    assert set(serving) == {"deploy_environment", "image_tag"}
    deploy = load("model-deploy.yaml")[ON]["workflow_dispatch"]["inputs"]
    assert set(deploy) == {"model_name", "deploy_to_production", "image_tag"}
    rollback = load("rollback.yaml")[ON]["workflow_dispatch"]["inputs"]
    assert {"environment", "version"} <= set(rollback)
