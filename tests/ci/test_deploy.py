"""ci/scripts/deploy.py: the helm command every workflow runs, and what it would install.

No helm binary or cluster here: the command's values files and --set-string pairs are applied
to the chart with the real Helm engine (tests/charts/chartlib.render), so a command that would
not render a valid release fails here.
"""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.charts import chartlib

SCRIPT = Path(__file__).resolve().parents[2] / "ci" / "scripts" / "deploy.py"
_spec = importlib.util.spec_from_file_location("ci_deploy", SCRIPT)
assert _spec and _spec.loader
deploy = importlib.util.module_from_spec(_spec)
sys.modules["ci_deploy"] = deploy  # dataclasses and exceptions resolve their module
_spec.loader.exec_module(deploy)


def render_command(cmd: list[str]) -> list[chartlib.Doc]:
    """Render the chart with the values a `helm upgrade` command would pass (no reuse)."""
    values: dict = {}
    for flag, arg in itertools.pairwise(cmd):
        if flag == "-f":
            values = chartlib.deep_merge(values, yaml.safe_load(Path(arg).read_text()) or {})
        elif flag == "--set-string":
            path, _, value = arg.partition("=")
            node: dict = {}
            leaf = node
            *parents, last = path.split(".")
            for part in parents:
                leaf = leaf.setdefault(part, {})
            leaf[last] = value
            values = chartlib.deep_merge(values, node)
    return chartlib.render_docs(values, name=cmd[3], namespace=cmd[cmd.index("--namespace") + 1])


@pytest.mark.parametrize("env", deploy.ENVIRONMENTS)
def test_a_full_install_renders_both_tracks(env):
    cmd = deploy.helm_command(
        environment=env,
        release="spam-platform",
        namespace="spam-platform",
        image_tag="0.2.1",
        tracks={"staging": "8", "production": "7"},
        values_files=[],
        reuse_values=False,
        timeout="15m",
    )
    assert cmd[:3] == ["helm", "upgrade", "--install"]
    assert {"--atomic", "--wait"} <= set(cmd) and "--reuse-values" not in cmd
    assert cmd[cmd.index("-f") + 1].endswith(f"values/{env}.yaml")
    docs = render_command(cmd)
    isvcs = {d.name: d for d in docs if d.kind == "InferenceService"}
    assert "/v8/" in isvcs["spam-platform-staging"].body["spec"]["predictor"]["model"]["storageUri"]
    assert (
        "/v7/" in isvcs["spam-platform-production"].body["spec"]["predictor"]["model"]["storageUri"]
    )
    gateway = chartlib.only(docs, "Deployment", "spam-platform-gateway")
    image = gateway.body["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith("/gateway:0.2.1"), image


def test_a_model_deploy_moves_only_its_track():
    cmd = deploy.helm_command(
        environment="staging",
        release="spam-platform",
        namespace="spam-platform",
        image_tag=None,
        tracks={"staging": "9"},
        values_files=[],
        reuse_values=True,
        timeout="15m",
    )
    assert "--reuse-values" in cmd
    sets = [cmd[i + 1] for i, flag in enumerate(cmd) if flag == "--set-string"]
    assert sets == ["global.model.tracks.staging.version=9"]


def test_extra_values_files_come_after_the_environment_file(tmp_path):
    extra = tmp_path / "platform-values.yaml"
    extra.write_text(yaml.safe_dump({"global": {"storage": {"accountName": "stspamother"}}}))
    cmd = deploy.helm_command(
        environment="production",
        release="spam-platform",
        namespace="spam-platform",
        image_tag=None,
        tracks={"staging": "2", "production": "1"},
        values_files=[extra],
        reuse_values=False,
        timeout="15m",
    )
    files = [cmd[i + 1] for i, flag in enumerate(cmd) if flag == "-f"]
    assert files[0].endswith("values/production.yaml") and files[1] == str(extra)
    isvc = chartlib.only(render_command(cmd), "InferenceService", "spam-platform-production")
    assert (
        "stspamother.blob.core.windows.net" in isvc.body["spec"]["predictor"]["model"]["storageUri"]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tracks": {"staging": "8"}}, "a full install needs both track versions"),
        ({"environment": "dev"}, "environment must be one of"),
        ({"image_tag": "bad tag;rm"}, "is not a valid tag"),
        ({"release": "Spam_Platform"}, "is not a DNS label"),
        ({"values_files": [Path("/nonexistent.yaml")]}, "does not exist"),
    ],
)
def test_bad_input_is_refused(kwargs, message):
    args = {
        "environment": "staging",
        "release": "spam-platform",
        "namespace": "spam-platform",
        "image_tag": None,
        "tracks": {"staging": "1", "production": "1"},
        "values_files": [],
        "reuse_values": False,
        "timeout": "15m",
    } | kwargs
    with pytest.raises(deploy.DeployError, match=message):
        deploy.helm_command(**args)


@pytest.mark.parametrize("pair", ["staging", "staging=0", "canary=3", "staging=v8"])
def test_bad_track_is_refused(pair):
    with pytest.raises(deploy.DeployError):
        deploy.parse_tracks([pair])


def test_cli_dry_run_prints_the_command():
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--environment",
            "production",
            "--reuse-values",
            "--track",
            "production=8",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--set-string global.model.tracks.production.version=8" in proc.stdout
    bad = subprocess.run(
        [sys.executable, str(SCRIPT), "--environment", "production", "--track", "production=8"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert bad.returncode == 2 and "both track versions" in bad.stderr
