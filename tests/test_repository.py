"""Repository invariants: layout, pinned image requirements, the README's promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKER_IMAGES = [p.parent.name for p in sorted((REPO / "images").glob("*/Dockerfile"))]


def test_top_level_layout():
    for name in (
        "charts",
        "images",
        "pipelines",
        "terraform",
        "ci",
        "tests",
        "values",
        "README.md",
        "Makefile",
        "pyproject.toml",
        "uv.lock",
        ".ci/run",
    ):
        assert (REPO / name).exists(), name


@pytest.mark.parametrize("image", DOCKER_IMAGES)
def test_image_requirements_are_exported_from_the_lock(image, tmp_path):
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv not on PATH")
    out = tmp_path / "requirements.txt"
    subprocess.run(
        [
            uv,
            "export",
            "--frozen",
            "--package",
            f"spam-{image}",
            "--no-dev",
            "--no-emit-workspace",
            "--no-header",
            "-q",
            "-o",
            str(out),
        ],
        cwd=REPO,
        check=True,
    )
    committed = (REPO / "images" / image / "requirements.txt").read_text()
    assert committed == out.read_text(), f"run `make requirements` (images/{image})"


@pytest.mark.parametrize("image", DOCKER_IMAGES)
def test_dockerfile_installs_only_its_own_packages(image):
    text = (REPO / "images" / image / "Dockerfile").read_text()
    assert f"images/{image}/requirements.txt" in text
    assert "--require-hashes" in text
    assert "USER 10001" in text
    others = {p.name for p in (REPO / "images").iterdir() if p.is_dir()} - {image, "core"}
    for other in others:
        assert f"images/{other}" not in text


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make up" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_xgboost_cpu_not_cuda_xgboost():
    lock = (REPO / "uv.lock").read_text()
    assert 'name = "xgboost"\n' not in lock
    assert "nvidia-nccl" not in lock
