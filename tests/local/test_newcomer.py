"""The README's first command as a newcomer takes it, and a failed `up` that cleans up after itself.

The newcomer test is a fresh `git clone` of this repository (committed HEAD) with the corpus
beside it as in CI, no `SPAM_*` variable at all (only `SPAM_UP_TRIALS`, the documented setting
for a short training), the working directory at the clone's root and the default ports: the
relative default `SPAM_HOME` (`.spam-platform`) is what broke there once (Ray refused the relative
run directory). Output is checked as a terminal shows it (Rich's live display forced on).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.utils.paths import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DEFAULT_PORTS = (8080, 8081, 8000, 8001, 8002, 5000)  # gateway, transformer, Triton x3, MLflow
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
NOISE = ("Failed to infer model signature", "pip version", "WARNING mlflow", "Traceback")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _clean_env() -> dict[str, str]:
    """The environment of a newcomer's shell: no SPAM_*, no MLflow or CI variables."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SPAM_", "MLFLOW_")) and k not in ("CI", "PYTEST_CURRENT_TEST")
    }


def _processes_mentioning(text: str) -> list[str]:
    """Processes whose command line, environment or working directory mention ``text``."""
    needle = text.encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
            cwd = os.readlink(proc / "cwd").encode()
        except OSError:
            continue
        if needle in cmdline or needle in environ or cwd.startswith(needle):
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{proc.name}: {command}")
    return found


def _cli(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600):
    return subprocess.run(
        [sys.executable, "-m", "spam_trainer", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, in the order a terminal shows it
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_newcomer_runs_up_predict_down_from_a_fresh_clone(tmp_path, corpus_dir):
    busy = [p for p in DEFAULT_PORTS if _port_open(p)]
    if busy:
        pytest.skip(f"default ports {busy} are in use (is a local platform running?)")
    clone = tmp_path / "main"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "shared" / "data" / "spamassassin").symlink_to(corpus_dir)
    env = _clean_env()
    env.update({"SPAM_UP_TRIALS": "2", "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"})
    try:
        up = _cli(["up"], cwd=clone, env=env)
        out = ANSI.sub("", up.stdout)
        assert up.returncode == 0, out[-4000:]
        home = clone / ".spam-platform"
        assert (home / "run" / "api-key").is_file(), "SPAM_HOME did not default to .spam-platform"
        key = (home / "run" / "api-key").read_text().strip()
        # what the user reads: no library noise, the banner last, no progress bar after it
        assert not [n for n in NOISE if n in out], out[-4000:]
        banner = out.rindex("spam-platform is up at http://127.0.0.1:8080")
        after = out[banner:]
        assert "━" not in after and "stop with: make down" in after.rstrip().splitlines()[-1]
        assert f"X-API-Key: {key}" in after
        assert "━" in out[:banner], "no progress was shown while up worked"
        assert httpx.get("http://127.0.0.1:8080/ready", timeout=10).status_code == 200
        answer = httpx.post(
            "http://127.0.0.1:8080/predict",
            headers={"X-API-Key": key},
            json={
                "email_id": "n1",
                "subject": "Lunch on Friday?",
                "body": "Shall we meet at noon?",
                "sender": "a@example.org",
            },
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["prediction"] in ("spam", "ham")
    finally:
        down = _cli(["down"], cwd=clone, env=env, timeout=180)
    assert down.returncode == 0, down.stdout
    deadline = time.monotonic() + 15
    while (left := _processes_mentioning(str(clone))) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"left running after down: {left}"
    assert not [p for p in DEFAULT_PORTS if _port_open(p)]


def test_a_failed_up_stops_mlflow_and_names_the_step_and_log(tmp_path):
    """An empty corpus fails the ingest after `up` has started MLflow: MLflow is stopped again,
    one line says which step failed and where the log is, `down` then finds nothing running."""
    from spam_local.tritonserver import free_ports

    empty = tmp_path / "empty-corpus"
    empty.mkdir()
    home = tmp_path / "home"
    ports = free_ports(6)
    env = _clean_env()
    env.update(
        {
            "SPAM_HOME": str(home),
            "SPAM_CORPUS": str(empty),
            "SPAM_GATEWAY_PORT": str(ports[0]),
            "SPAM_TRANSFORMER_PORT": str(ports[1]),
            "SPAM_TRITON_HTTP_PORT": str(ports[2]),
            "SPAM_TRITON_GRPC_PORT": str(ports[3]),
            "SPAM_TRITON_METRICS_PORT": str(ports[4]),
            "SPAM_MLFLOW_PORT": str(ports[5]),
        }
    )
    up = _cli(["--quiet", "up"], cwd=tmp_path, env=env, timeout=300)
    assert up.returncode == 1, up.stdout
    errors = [line for line in up.stdout.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, up.stdout
    line = errors[0]
    assert "up failed while preparing the models" in line
    assert "no e-mail messages found" in line and "stopped MLflow" in line
    log = home / "run" / "logs" / "up.log"
    assert f"(log: {log})" in line
    assert "SourceError" in log.read_text()
    assert not _port_open(ports[5]), "MLflow still answers after the failed up"
    assert not (home / "run" / "mlflow.pid").exists()
    assert not _processes_mentioning(str(home))
    down = _cli(["down"], cwd=tmp_path, env=env)
    assert down.returncode == 0 and "nothing was running" in down.stdout
