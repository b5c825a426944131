"""ci/scripts/build-images.sh pushes exactly the images the chart pulls (dry run: no Docker)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "ci" / "scripts" / "build-images.sh"


def dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DRY_RUN": "1"},
        timeout=60,
        check=False,
    )


def test_every_dockerfile_is_built_and_pushed_under_the_chart_repositories():
    proc = dry_run("crspamprod.azurecr.io", "3f2c1ab")
    assert proc.returncode == 0, proc.stderr
    pushed = set(re.findall(r"^docker push (\S+)$", proc.stdout, re.M))
    built = {p.parent.name for p in (REPO / "images").glob("*/Dockerfile")}
    assert pushed == {f"crspamprod.azurecr.io/spam-platform/{n}:3f2c1ab" for n in built}
    for component in ("gateway", "transformer", "batch"):
        values = yaml.safe_load(
            (REPO / f"charts/spam-platform/charts/{component}/values.yaml").read_text()
        )
        repository = values["image"]["repository"]
        assert f"crspamprod.azurecr.io/{repository}:3f2c1ab" in pushed, repository


def test_bad_registry_or_tag_is_refused():
    assert dry_run("", "x").returncode == 2
    bad = dry_run("crspamprod.azurecr.io", "$(whoami)")
    assert bad.returncode == 2 and "invalid image tag" in bad.stderr
