"""ci/scripts/smoke.py, the workflows' smoke test, against the real local serving stack
(gateway -> transformer -> Triton, two model tracks), as a subprocess exactly as CI runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.utils.gateway import VIEWER_KEY

SCRIPT = Path(__file__).resolve().parents[2] / "ci" / "scripts" / "smoke.py"


def smoke(*args: str, key: str | None = VIEWER_KEY) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SPAM_API_KEY"}
    if key is not None:
        env["SPAM_API_KEY"] = key
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_smoke_passes_against_the_running_stack(gateway):
    proc = smoke("--url", gateway.url, "--expect-version", "staging=2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok    POST /predict (staging)" in proc.stdout
    assert "ok    POST /predict (production)" in proc.stdout
    assert "ok    POST /predict (staging) model version" in proc.stdout


def test_smoke_fails_when_a_track_serves_another_version(gateway):
    proc = smoke(
        "--url", gateway.url, "--environment", "production", "--expect-version", "production=9"
    )
    assert proc.returncode == 1
    assert "v1 serves production, expected v9" in proc.stdout


def test_smoke_fails_with_a_wrong_key(gateway):
    proc = smoke("--url", gateway.url, key="spk_not_a_key")
    assert proc.returncode == 1
    assert "FAIL  POST /predict (staging): HTTP 401" in proc.stdout


def test_smoke_fails_when_the_transformer_is_down(down_gateway):
    proc = smoke("--url", down_gateway.url, "--environment", "staging")
    assert proc.returncode == 1
    assert "FAIL  GET /ready" in proc.stdout


def test_smoke_fails_when_nothing_listens():
    from tests.utils.services import free_port

    proc = smoke("--url", f"http://127.0.0.1:{free_port()}", "--timeout", "2")
    assert proc.returncode == 1
    assert "unreachable" in proc.stdout


def test_smoke_needs_the_key_from_the_environment():
    proc = smoke("--url", "http://127.0.0.1:9", key=None)
    assert proc.returncode == 2
    assert "SPAM_API_KEY" in proc.stderr
