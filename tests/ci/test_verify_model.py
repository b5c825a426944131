"""ci/scripts/verify_model.py against a real MLflow model registry (SQLite backend)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "ci" / "scripts" / "verify_model.py"
MODEL = "spam-detector"


@pytest.fixture
def registry(tmp_path: Path) -> str:
    """A registry with v1 (gates passed, alias production) and v2 (gates failed, alias staging)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(MODEL)
    for gate in ("passed", "failed"):
        source = tmp_path / f"model-{gate}"
        source.mkdir()
        version = client.create_model_version(MODEL, source=str(source)).version
        client.set_model_version_tag(MODEL, version, "gate", gate)
    client.set_model_version_tag(MODEL, "2", "gate_failures", "F1 0.81 < 0.90")
    client.set_registered_model_alias(MODEL, "production", "1")
    client.set_registered_model_alias(MODEL, "staging", "2")
    return uri


def run(uri: str | None, *args: str, output: Path | None = None):
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "GITHUB_OUTPUT")}
    if uri:
        env["MLFLOW_TRACKING_URI"] = uri
    if output:
        env["GITHUB_OUTPUT"] = str(output)
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--model", MODEL, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_version_that_passed_its_gates_is_verified(registry, tmp_path):
    out = tmp_path / "github-output"
    proc = run(registry, "--alias", "production", output=out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "version=1"
    assert out.read_text() == "version=1\n"


def test_a_version_that_failed_its_gates_is_refused(registry):
    proc = run(registry)
    assert proc.returncode == 1
    assert "v2 (staging) did not pass its gates: F1 0.81 < 0.90" in proc.stderr


def test_a_missing_alias_is_refused(registry):
    proc = run(registry, "--alias", "canary")
    assert proc.returncode == 1
    assert "does not resolve" in proc.stderr


def test_bad_input_is_refused(registry):
    assert run(None).returncode == 2
    bad = run(registry, "--alias", "x; rm -rf /")
    assert bad.returncode == 2 and "invalid alias" in bad.stderr
