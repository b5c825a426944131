"""The README's main command, for real: `spam-platform up` on free ports, the printed API,
Triton killed and restarted by the supervisor, the scheduled drift runs, `up` again, `down`,
and `up` with the drift schedule off."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.utils.drift_fixtures import drift_processes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

KEY = "sk-local-test-operator-key"
SCAM = {
    "email_id": "scam",
    "subject": "WINNER!!! Claim your lottery prize now",
    "body": "Congratulations! You won $1,000,000. Click here http://203.0.113.9/claim and "
    "send your bank account details to claim your prize. Act now!",
    "sender": "Lottery Board <winner8812@yahoo.com>",
}
MEETING = {
    "email_id": "meeting",
    "subject": "Re: notes from Thursday's design review",
    "body": "Hi Bob, thanks for the notes. I updated the spec and checked the patch into "
    "CVS; the build issue is still open. Let's go through it at the meeting.",
    "sender": "Alice Jones <alice@example.org>",
}


def _cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spam_trainer", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _tritonserver_pids(repo: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if (
                cmd
                and cmd[0].endswith(b"tritonserver")
                and any(str(repo).encode() in c for c in cmd)
            ):
                pids.append(int(proc.name))
    return pids


@pytest.fixture(scope="module")
def platform(tmp_path_factory, dataset_dir, corpus_dir):
    from spam_local.tritonserver import free_ports

    home = tmp_path_factory.mktemp("platform")
    shutil.copytree(dataset_dir, home / "datasets" / "spamassassin")
    ports = free_ports(6)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "SPAM_"))}
    env.update(
        {
            "SPAM_HOME": str(home),
            "SPAM_CORPUS": str(corpus_dir),
            "SPAM_UP_TRIALS": "2",
            "SPAM_API_KEY": KEY,
            "SPAM_CPUS": "2",
            "RAY_AUTH_MODE": "disabled",
            "SPAM_GATEWAY_PORT": str(ports[0]),
            "SPAM_TRANSFORMER_PORT": str(ports[1]),
            "SPAM_TRITON_HTTP_PORT": str(ports[2]),
            "SPAM_TRITON_GRPC_PORT": str(ports[3]),
            "SPAM_TRITON_METRICS_PORT": str(ports[4]),
            "SPAM_MLFLOW_PORT": str(ports[5]),
            "SPAM_LIVENESS_TIMEOUT": "5",
            # the drift schedule on the clock every 20 s over the last hour (default: 1h, 1h)
            "SPAM_LOCAL_DRIFT_INTERVAL": "20s",
            "SPAM_LOCAL_DRIFT_WINDOW": "1h",
        }
    )
    result = _cli(env, "--quiet", "up")
    url = f"http://127.0.0.1:{ports[0]}"
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield {
            "env": env,
            "url": url,
            "transformer_url": f"http://127.0.0.1:{ports[1]}",
            "transformer_port": ports[1],
            "gateway_port": ports[0],
            "home": home,
            "mlflow_url": f"http://127.0.0.1:{ports[5]}",
            "up_output": result.stdout,
        }
    finally:
        _cli(env, "down", timeout=120)


def _predict(url: str, email: dict, env: str = "staging") -> httpx.Response:
    return httpx.post(
        f"{url}/predict", json=email, timeout=30, headers={"X-API-Key": KEY, "X-Environment": env}
    )


def test_up_prints_a_working_curl_and_serves_both_tracks(platform):
    out = platform["up_output"]
    assert f"spam-platform is up at {platform['url']}" in out
    assert f"X-API-Key: {KEY}" in out and "curl -s" in out
    for env in ("staging", "production"):
        scam = _predict(platform["url"], SCAM, env)
        assert scam.status_code == 200, scam.text
        assert scam.json()["prediction"] == "spam" and scam.json()["environment"] == env
        assert scam.json()["model_version"] == "1"
        assert _predict(platform["url"], MEETING, env).json()["prediction"] == "ham"
    assert httpx.post(f"{platform['url']}/predict", json=SCAM).status_code == 401
    status = _cli(platform["env"], "status").stdout
    assert "running" in status and "200" in status


def test_the_postman_collection_passes_against_up(platform, tmp_path):
    """ci/postman/ with both environment files against the platform `up` started, with the
    printed (operator) key: every request answers and every test in the collection passes."""
    from tests.utils.postman import assert_passed, newman_or_skip, run_collection

    newman_or_skip()
    for environment in ("staging", "production"):
        assert_passed(run_collection(platform["url"], KEY, environment, tmp_path))


def test_the_feast_repo_under_spam_home_serves_the_reputation(platform):
    """Training applied and materialized the sender history into $SPAM_HOME/feast (SQLite);
    the transformer reads it and says so, the gateway reports the feature store ok."""
    from spam_core.features.spec import FEATURE_SET_VERSION
    from spam_core.reputation.online import OnlineReputation
    from spam_core.reputation.repo import FEATURE_STORE_YAML

    repo = platform["home"] / "feast"
    assert (repo / FEATURE_STORE_YAML).is_file()
    assert "type: sqlite" in (repo / FEATURE_STORE_YAML).read_text()
    assert (repo / "online_store.db").is_file()
    health = httpx.get(f"{platform['transformer_url']}/health", timeout=10)
    assert health.status_code == 200, health.text
    assert health.json()["reputation"] == {"status": "healthy", "error": None, "since": None}
    gateway = httpx.get(
        f"{platform['url']}/health", headers={"X-API-Key": KEY}, timeout=10
    ).json()  # the details (services) are for the operator key
    services = {s["name"]: s["status"] for s in gateway["services"]}
    assert services["feature_store"] == "ok" and gateway["status"] == "healthy", gateway
    # the store holds the history: the corpus's senders are known to it
    from spam_core.ingest import read_records

    records, _ = read_records(platform["home"] / "datasets" / "spamassassin", split="train")
    stats = OnlineReputation.from_repo(repo).stats(records[:200])
    assert (stats[:, 0] > 0).sum() > 50
    # the served models were trained for this feature set
    import mlflow

    client = mlflow.MlflowClient(f"http://127.0.0.1:{platform['env']['SPAM_MLFLOW_PORT']}")
    for alias in ("staging", "production"):
        version = client.get_model_version_by_alias("spam-detector", alias)
        assert client.get_run(version.run_id).data.tags["feature_set"] == FEATURE_SET_VERSION


def test_triton_killed_gives_503_then_the_supervisor_brings_it_back(platform):
    repo = platform["home"] / "run" / "triton"
    pids = _tritonserver_pids(repo)
    assert pids, "tritonserver not found"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    codes = set()
    while time.monotonic() < deadline and 503 not in codes:
        codes.add(_predict(platform["url"], SCAM).status_code)
        time.sleep(0.2)
    assert 503 in codes
    down = _predict(platform["url"], SCAM)
    if down.status_code == 503:
        assert "Retry-After" in down.headers and down.json()["error"]["code"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if _predict(platform["url"], SCAM).status_code == 200:
            break
        time.sleep(1)
    assert _predict(platform["url"], SCAM).json()["prediction"] == "spam"


def _service_pid(script: str, port_variable: str, port: int) -> int:
    """The pid of the ``spam-<script>`` process serving on ``port`` (from /proc)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(c.endswith(script.encode()) for c in cmd[:2]) and (
            f"{port_variable}={port}".encode() in environ
        ):
            return int(proc.name)
    raise AssertionError(f"no {script} on port {port}")


def test_row12_children_get_no_plain_api_key_and_logs_rotate(platform):
    for script, variable, port in (
        ("spam-transformer", "SPAM_TRANSFORMER_PORT", platform["transformer_port"]),
        ("spam-gateway", "SPAM_GATEWAY_PORT", platform["gateway_port"]),
    ):
        environ = Path(f"/proc/{_service_pid(script, variable, port)}/environ").read_bytes()
        assert b"SPAM_API_KEY=" not in environ and KEY.encode() not in environ
    from spam_local.processes import LOG_MAX_BYTES

    logs = platform["home"] / "run" / "logs"
    assert (logs / "gateway.log").stat().st_size <= LOG_MAX_BYTES


def test_a_frozen_transformer_is_restarted_by_the_supervisor(platform):
    """SIGSTOP under load: the process does not exit, it stops answering; the supervisor
    notices within SPAM_LIVENESS_TIMEOUT (5 s here), kills it and starts a new one."""
    import threading

    port = platform["transformer_port"]
    frozen = _service_pid("spam-transformer", "SPAM_TRANSFORMER_PORT", port)
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                _predict(platform["url"], MEETING)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        os.kill(frozen, signal.SIGSTOP)
        deadline = time.monotonic() + 120
        answered = False
        while time.monotonic() < deadline and not answered:
            time.sleep(1)
            with contextlib.suppress(httpx.HTTPError):
                answered = (
                    httpx.get(f"{platform['transformer_url']}/health", timeout=1).status_code == 200
                )
        assert answered, "the frozen transformer was not replaced"
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert _predict(platform["url"], MEETING).status_code == 200
    assert _service_pid("spam-transformer", "SPAM_TRANSFORMER_PORT", port) != frozen
    assert not Path(f"/proc/{frozen}").exists() or "Z" in Path(f"/proc/{frozen}/stat").read_text()


def _drift_state(home: Path) -> dict:
    import json

    try:
        return json.loads((home / "run" / "drift-schedule.json").read_text())
    except (OSError, ValueError):
        return {}


def test_make_demo_shows_drift_on_the_shifted_stream_and_none_on_normal_traffic(platform):
    """`spam-platform demo` as `make demo` runs it: the walk (an async batch job over a corpus
    archive included), then the two drift verdicts side by side."""
    demo = _cli(platform["env"], "demo")
    out = demo.stdout
    print(out)  # shown with -s: the verdicts side by side
    assert demo.returncode == 0, out + demo.stderr
    assert "GET /predict/batch/" in out and "-> succeeded" in out
    assert "drift job [production]" in out and "drift job [staging]" in out
    lines = [line for line in out.splitlines() if line.startswith("│ verdict")]
    assert lines and "no drift (ok)" in lines[0] and "DRIFT DETECTED (ok)" in lines[0], out
    reports = platform["home"] / "drift-reports"
    assert list((reports / "production").glob("drift-production-*.json"))
    assert list((reports / "staging").glob("drift-staging-*-v1.html"))
    # the feedback loop: a ham e-mail of the test split scored spam for its sender's history,
    # "not spam" reports, then the same e-mail from that sender scored ham (issue 15, item 9);
    # then the lifecycle dry runs, each printing its own output
    assert 'x "not spam" for' in out and "{'applied':" in out, out
    (again,) = [line for line in out.splitlines() if " again: " in line]
    after, before = (float(x) for x in re.findall(r"p=([0-9.]+), was ([0-9.]+)", again)[0])
    assert after < before, again
    assert "spam -> ham" in out, out
    for command in ("retrain --dry-run", "promote --to production --dry-run", "rollback --dry-run"):
        assert f"$ spam-platform {command}" in out
    assert "within tolerance" in out


def test_scheduled_drift_runs_land_under_spam_home_and_on_the_api(platform):
    """The supervisor runs `spam-drift` for both tracks every SPAM_LOCAL_DRIFT_INTERVAL (20 s
    here): reports under $SPAM_HOME/drift-reports, listed by the gateway's /monitoring/drift,
    framed in run/logs/drift.log, named by `status`. (The verdicts depend on what the other
    tests sent: a few e-mails are `not_enough_data`, the frozen-transformer load a verdict.)"""
    home = platform["home"]
    deadline = time.monotonic() + 240
    runs: dict = {}
    while time.monotonic() < deadline:
        runs = _drift_state(home).get("runs", {})
        if all(runs.get(e, {}).get("exit_code") is not None for e in ("staging", "production")):
            break
        time.sleep(1)
    headers = {"X-API-Key": KEY}
    for environment in ("staging", "production"):
        run = runs.get(environment)
        assert run and run["exit_code"] == 0, runs
        assert run["status"] in ("ok", "not_enough_data"), run
        report = Path(run["report"])
        assert report.parent == home / "drift-reports" / environment and report.is_file()
        history = httpx.get(
            f"{platform['url']}/monitoring/drift/history",
            params={"environment": environment},
            headers=headers,
            timeout=30,
        ).json()
        assert run["report"] in [r["report_url"] for r in history["reports"]], history
    latest = httpx.get(f"{platform['url']}/monitoring/drift", headers=headers, timeout=30).json()
    assert all(e["latest"] for e in latest["environments"]), latest
    log = (home / "run" / "logs" / "drift.log").read_text()
    assert "--- drift run staging" in log and "finished: exit 0" in log
    status = _cli(platform["env"], "status").stdout
    assert "every 20s over the last 1h" in status and "drift production" in status


def _served_version(url: str, track: str) -> str:
    response = _predict(url, MEETING, track)
    assert response.status_code == 200, response.text
    return response.json()["model_version"]


def test_promote_then_rollback_and_up_serves_the_rolled_back_version(platform):
    """A second version (v1's model registered again, gates passed) is published, promoted,
    served after `up`; `rollback` moves production back to v1 and `up` serves v1 again."""
    from mlflow import MlflowClient

    env = {**platform["env"], "MLFLOW_TRACKING_URI": platform["mlflow_url"]}
    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    v1 = client.get_model_version("spam-detector", "1")
    # MLflow 3: the source is the logged model (models:/m-...), named again by its id
    model_id = v1.source.removeprefix("models:/")
    v2 = client.create_model_version(
        "spam-detector", v1.source, run_id=v1.run_id, model_id=model_id
    ).version
    assert v2 == "2"
    client.set_model_version_tag("spam-detector", v2, "gate", "passed")
    refused = _cli(env, "--quiet", "promote", "--to", "production", "--version", v2)
    assert refused.returncode == 2 and "v2 is not published" in refused.stderr
    published = _cli(env, "--quiet", "publish", "--version", v2)
    assert published.returncode == 0, published.stderr
    assert (platform["home"] / "published" / "spam-detector" / "v2" / "manifest.json").is_file()
    promoted = _cli(env, "--quiet", "promote", "--to", "production", "--version", v2)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert _cli(env, "--quiet", "up").returncode == 0
    assert _served_version(platform["url"], "production") == "2"
    assert _served_version(platform["url"], "staging") == "1"

    rolled = _cli(env, "--quiet", "rollback", "--reason", "test: v2 misbehaves")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert "moved back from v2 to v1" in rolled.stdout
    assert _cli(env, "--quiet", "up").returncode == 0
    assert _served_version(platform["url"], "production") == "1"
    assert _served_version(platform["url"], "staging") == "1"
    tags = client.get_model_version("spam-detector", "1").tags
    assert "test: v2 misbehaves" in tags["production_rollback"]


def test_up_again_reuses_the_running_platform_and_down_stops_it(platform):
    started = time.monotonic()
    again = _cli(platform["env"], "--quiet", "up")
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - started < 60
    down = _cli(platform["env"], "down", timeout=120)
    assert "supervisor" in down.stdout and "mlflow" in down.stdout
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{platform['url']}/health", timeout=2)
    assert not _tritonserver_pids(platform["home"] / "run" / "triton")
    # the drift schedule stopped with the supervisor: no run left, none scheduled
    assert not drift_processes(platform["home"])
    assert _drift_state(platform["home"])["next_run"] is None


def test_up_with_the_drift_schedule_off(platform):
    """SPAM_LOCAL_DRIFT_INTERVAL=0: the platform serves, no drift run starts."""
    env = {**platform["env"], "SPAM_LOCAL_DRIFT_INTERVAL": "0"}
    home = platform["home"]
    before = _drift_state(home).get("runs")
    result = _cli(env, "--quiet", "up")
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert _predict(platform["url"], SCAM).status_code == 200
        time.sleep(30)  # 1.5 intervals of the schedule that is off
        assert "off (SPAM_LOCAL_DRIFT_INTERVAL)" in _cli(env, "status").stdout
        supervisor_log = (home / "run" / "logs" / "supervisor.log").read_text()
        assert "scheduled drift runs are off" in supervisor_log
        assert _drift_state(home).get("runs") == before
        assert not drift_processes(home)
    finally:
        _cli(env, "down", timeout=120)
