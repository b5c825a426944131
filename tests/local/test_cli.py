"""The local platform's commands join the trainer's ``spam-platform`` CLI through the
``spam_platform.commands`` entry point (that the trainer imports nothing of spam_local is
tests/test_repository.py's layering test)."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from spam_local.cli import app as local_app


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
