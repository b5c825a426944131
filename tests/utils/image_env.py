"""A virtual environment with exactly what an image installs: its exported, hashed
requirements (``images/<image>/requirements.txt``, ``--no-deps``) and the workspace packages its
Dockerfile copies in, non-editable — the image's Python environment without Docker. Built with
uv from its cache (about a second when warm)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def uv_binary() -> str:
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path.home() / ".local" / "bin"))
    if uv is None:
        pytest.skip("uv not on PATH")
    return uv


def build_image_env(image: str, packages: tuple[str, ...], dest: Path) -> Path:
    """``dest`` as a venv of ``images/<image>/requirements.txt`` plus ``images/<p>`` for each of
    ``packages``, as the Dockerfile installs them; returns its ``bin`` directory."""
    uv = uv_binary()
    # --no-config: the workspace's own uv settings (constraints) are not the image's
    common = ["--no-config", "--quiet", "--python", str(dest / "bin" / "python")]
    subprocess.run(
        [uv, "venv", "--no-config", "--quiet", "--python", sys.executable, str(dest)], check=True
    )
    subprocess.run(
        [uv, "pip", "install", *common, "--no-deps", "--require-hashes", "-r",
         str(REPO / "images" / image / "requirements.txt")],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [uv, "pip", "install", *common, "--no-deps",
         *(str(REPO / "images" / p) for p in packages)],
        check=True,
    )  # fmt: skip
    return dest / "bin"
