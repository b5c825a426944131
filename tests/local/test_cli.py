"""The local platform's commands join the trainer's ``spam-platform`` CLI through the
``spam_platform.cli`` entry point; the trainer itself knows nothing of them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from spam_local.cli import app as local_app

TRAINER = Path(__file__).resolve().parents[2] / "images" / "trainer" / "src" / "spam_trainer"


def test_local_commands_are_top_level_commands_of_spam_platform():
    out = subprocess.run(
        [sys.executable, "-m", "spam_trainer", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("ingest", "train", "up", "down", "status", "demo"):
        assert f" {command} " in out, command
    assert "local-supervise" not in out  # hidden: the supervisor's own entry


def test_down_with_nothing_running(tmp_path, monkeypatch):
    from spam_local.config import get_local_settings

    monkeypatch.setenv("SPAM_HOME", str(tmp_path))
    get_local_settings.cache_clear()
    try:
        r = CliRunner().invoke(local_app, ["down"])
    finally:
        get_local_settings.cache_clear()
    assert r.exit_code == 0, r.output
    assert "nothing was running" in r.output


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_trainer_does_not_import_the_local_platform():
    offenders = {
        str(p.relative_to(TRAINER)): sorted(m for m in _imported_modules(p) if "spam_local" in m)
        for p in TRAINER.rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}
