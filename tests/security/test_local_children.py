"""Row 12 of issue 11 (the fast half; the whole platform's children are checked in
tests/local/test_platform.py): service logs rotate by size, children get no plain key."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from spam_local.processes import child_environ, spawn_rotating


def test_row12_a_service_log_rotates_by_size(tmp_path: Path) -> None:
    log = tmp_path / "gateway.log"
    line = "x" * 99
    process = spawn_rotating(
        "noisy",
        [sys.executable, "-c", f"for i in range(5000): print({line!r})"],
        env=child_environ(),
        log_file=log,
        max_bytes=50_000,
        backups=2,
    )
    assert process.wait(60) == 0
    for _ in range(100):  # the pump thread drains the pipe after the exit
        if log.is_file() and (tmp_path / "gateway.log.2").is_file():
            break
        time.sleep(0.05)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["gateway.log", "gateway.log.1", "gateway.log.2"]
    assert all(p.stat().st_size <= 50_000 for p in tmp_path.iterdir())


def test_row12_children_get_no_plain_api_key() -> None:
    env = child_environ({"SPAM_API_KEY": "sk-plain", "SPAM_HOME": "/h", "PATH": "/bin"})
    assert env == {"SPAM_HOME": "/h", "PATH": "/bin"}
