"""Drift on one machine (``spam_local.drift``, ``spam_local.demo``) with inference logs written
by the real gateway (gateway -> transformer -> Triton, nothing mocked) under a local
``$SPAM_HOME`` laid out as ``spam-platform up`` lays it out (``run/versions.json``, the served
bundles with their baselines in ``run/models/<track>``).

* the demo's comparison: the corpus's unseen test split (normal traffic) to production, only
  spam (a shifted stream) to staging, each drift job at its default thresholds;
* the scheduled runs: ``spam-drift`` child processes on the clock, reports where the gateway's
  ``GET /monitoring/drift`` reads, each run in ``run/logs/drift.log``; a failing or hanging run
  is recorded and the schedule goes on; the off switch.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest

from spam_local.config import LocalSettings
from spam_local.drift import DriftScheduler, next_due, schedule_status
from tests.utils.drift_fixtures import drift_processes
from tests.utils.gateway import OPERATOR, free_port, wait_until

pytestmark = pytest.mark.timeout(900)


def local_settings(home: Path, **overrides: object) -> LocalSettings:
    """Settings of a platform at ``home``; MLflow on a port where nothing listens (no registry:
    the served bundles' baselines must be enough)."""
    return LocalSettings(home=home, mlflow_port=free_port(), **overrides)


@pytest.fixture(scope="module")
def home(tmp_path_factory, model_bundles, bundle_baselines) -> Path:
    """``$SPAM_HOME`` of a local platform serving the test bundles (v2 staging, v1 production)."""
    from spam_core.bundle import BASELINE_FILE, ModelBundle

    home = tmp_path_factory.mktemp("spam-home")
    versions = {}
    for track, bundle_dir in model_bundles.items():
        dest = home / "run" / "models" / track
        shutil.copytree(bundle_dir, dest)
        version = ModelBundle.load(dest).version
        shutil.copy(bundle_baselines[version], dest / BASELINE_FILE)
        versions[track] = version
    (home / "run" / "versions.json").write_text(json.dumps(versions))
    return home


@pytest.fixture(scope="module")
def local_gateway(make_gateway, transformer, home):
    """The gateway as the local platform configures it: log and reports under ``home``."""
    settings = local_settings(home)
    return make_gateway(
        TRANSFORMER_URL=transformer.url,
        INFERENCE_LOG_URL=str(settings.inference_log_dir),
        DRIFT_REPORTS_URL=str(settings.drift_reports_dir),
        INFERENCE_LOG_FLUSH_INTERVAL_S=0.5,
    )


@pytest.fixture(scope="module")
def demo_runs(local_gateway, home, corpus_dir, tmp_path_factory):
    from spam_local.demo import drift_demo, drift_streams

    streams = drift_streams(str(corpus_dir), tmp_path_factory.mktemp("cache"))
    lines: list[str] = []
    with httpx.Client(base_url=local_gateway.url, headers=OPERATOR, timeout=120) as client:
        runs = drift_demo(local_settings(home), client, streams, lines.append)
    print("\n".join(lines))
    return streams, runs, lines


def test_the_demo_detects_the_shifted_stream_and_not_normal_traffic(demo_runs, home, local_gateway):
    from spam_local.demo import top_drifting

    streams, (normal, shifted), lines = demo_runs
    for run in (normal, shifted):  # shown with -s: what the verdicts rest on
        print(run.stream, run.report.status, run.report.reasons, top_drifting(run.report))
    assert len(streams.normal) >= 500 and 0.2 < streams.normal_spam / len(streams.normal) < 0.5
    assert len(streams.shifted) == 600

    # every e-mail sent is in its environment's window, and nothing else is
    assert (normal.environment, normal.report.rows) == ("production", len(streams.normal))
    assert (shifted.environment, shifted.report.rows) == ("staging", 600)
    assert normal.report.window == shifted.report.window

    # normal traffic: a verdict (enough rows at the default minimum), and no drift
    assert normal.report.thresholds.min_rows == 500
    assert normal.report.status == "ok", normal.report.reasons
    assert normal.report.drift_detected is False, normal.report.reasons
    (version,) = normal.report.versions
    assert version.model_version == "1" and not version.spam_rate.drifted
    assert not version.score.drifted
    # the reputation reference is what serving reads (end-of-history totals), so known
    # senders are not drift (a point-in-time reference flagged all four reputation features)
    from spam_core.features.spec import REPUTATION_NAMES

    assert not set(version.drifted_features) & set(REPUTATION_NAMES), version.drifted_features
    assert abs(version.spam_rate.current - streams.normal_spam / len(streams.normal)) < 0.1

    # only spam: drift, on the score, the spam rate and the content features
    assert shifted.report.status == "ok" and shifted.report.drift_detected is True
    (version,) = shifted.report.versions
    assert version.model_version == "2"
    assert version.spam_rate.current > 0.8 and version.spam_rate.drifted
    assert version.score.drifted
    assert len(version.drifted_features) / len(version.features) >= 0.2
    assert top_drifting(shifted.report)

    # the reports are under $SPAM_HOME, JSON and HTML, and the API shows them
    for run in (normal, shifted):
        report = Path(run.report.report_url)
        assert report.is_relative_to(home / "drift-reports" / run.environment)
        assert json.loads(report.read_text())["drift_detected"] is run.report.drift_detected
        assert all(Path(p).is_file() for p in run.report.html_reports.values())
    latest = {e["environment"]: e["latest"] for e in _api_drift(local_gateway.url)}
    assert latest["production"]["drift_detected"] is False
    assert latest["staging"]["drift_detected"] is True
    assert any(line.startswith("GET /monitoring/drift -> ") for line in lines)


def _api_drift(url: str) -> list[dict]:
    r = httpx.get(f"{url}/monitoring/drift", headers=OPERATOR, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["environments"]


def _wait_for_runs(state_file: Path, environments, count: int, timeout: float) -> dict:
    def done() -> bool:
        try:
            runs = json.loads(state_file.read_text())["runs"]
        except (OSError, ValueError, KeyError):
            return False
        return all(runs.get(e, {}).get("number", 0) >= count for e in environments)

    wait_until(done, timeout, interval=0.5, message=f"no {count} drift runs in {timeout} s")
    return json.loads(state_file.read_text())


def test_scheduled_runs_write_reports_the_api_and_the_log_show(demo_runs, home, local_gateway):
    """On the clock (every 5 s here, over the last 10 minutes: the demo's traffic), both
    environments, as child processes; then stopped as ``make down`` stops it."""
    settings = local_settings(home, local_drift_interval="5s", local_drift_window="10m")
    scheduler = DriftScheduler(settings).start()
    try:
        state = _wait_for_runs(
            settings.run_dir / "drift-schedule.json", ("staging", "production"), 1, 180
        )
        rows = schedule_status(settings, running=True)
    finally:
        scheduler.stop()
    assert not scheduler.alive

    runs = state["runs"]
    for environment, drifted in (("production", False), ("staging", True)):
        run = runs[environment]
        assert run["exit_code"] == 0 and run["status"] == "ok", run
        assert run["drift_detected"] is drifted, run
        start, end = (
            time.strptime(run["window"][k], "%Y-%m-%dT%H:%M:%SZ") for k in ("start", "end")
        )
        assert time.mktime(end) - time.mktime(start) == 600
        report = Path(run["report"])
        assert report.parent == settings.drift_reports_dir / environment and report.is_file()
        assert "DRIFT DETECTED" in rows[f"drift {environment}"] or not drifted
        # the gateway's history lists the scheduled window's report
        r = httpx.get(
            f"{local_gateway.url}/monitoring/drift/history",
            params={"environment": environment},
            headers=OPERATOR,
            timeout=30,
        )
        assert run["report"] in [h["report_url"] for h in r.json()["reports"]]

    log = (settings.logs_dir / "drift.log").read_text()
    assert "--- drift run production" in log and "--- drift run staging finished: exit 0" in log
    # the job's own structured line (JSON logs) and its table are in the log too
    assert any(
        line.startswith("{") and json.loads(line).get("event") == "drift.run"
        for line in log.splitlines()
    )
    assert "verdict:" in log
    # stopped: no next run, and no spam-drift left behind
    assert json.loads((settings.run_dir / "drift-schedule.json").read_text())["next_run"] is None
    assert not drift_processes(home)


def test_failing_and_hanging_runs_are_recorded_and_the_schedule_goes_on(tmp_path):
    """A corrupt Parquet file in the window: the job exits 2 and names it; the next run still
    comes. A run over its deadline is killed. Neither stops the scheduler."""
    from datetime import UTC, datetime, timedelta

    hour = datetime.now(UTC) - timedelta(hours=1)
    partition = tmp_path / "inference-logs" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
    partition = partition / "environment=staging"
    partition.mkdir(parents=True)
    (partition / "part-0.parquet").write_bytes(b"PAR1 not parquet at all")
    settings = local_settings(
        tmp_path,
        local_drift_interval="2s",
        local_drift_window="1d",
        local_drift_environments="staging",
    )
    scheduler = DriftScheduler(settings).start()
    try:
        state = _wait_for_runs(settings.run_dir / "drift-schedule.json", ["staging"], 2, 120)
        assert scheduler.alive
    finally:
        scheduler.stop()
    run = state["runs"]["staging"]
    assert run["exit_code"] == 2 and "exit code 2" in run["error"], run
    log = (settings.logs_dir / "drift.log").read_text()
    assert "part-0.parquet" in log  # the job's one-line reason, in the log
    assert "Traceback" not in log

    # a new scheduler (a restarted platform) goes on from the recorded runs
    slow = DriftScheduler(settings, deadline_s=0.5).start()  # spam-drift needs seconds to start
    try:
        state = _wait_for_runs(
            settings.run_dir / "drift-schedule.json", ["staging"], run["number"] + 1, 60
        )
    finally:
        slow.stop()
    run = state["runs"]["staging"]
    assert "deadline" in run["error"] and run["exit_code"] != 0, run
    assert not drift_processes(tmp_path)


def test_the_off_switch_and_the_settings(tmp_path):
    from spam_local.platform import gateway_env

    off = local_settings(tmp_path, local_drift_interval="0")
    assert off.drift_interval is None
    assert schedule_status(off, running=True) == {
        "drift schedule": "off (SPAM_LOCAL_DRIFT_INTERVAL)"
    }
    with pytest.raises(ValueError, match="off"):
        DriftScheduler(off)
    assert local_settings(tmp_path, local_drift_interval="OFF").drift_interval is None

    default = local_settings(tmp_path)
    assert default.drift_interval.total_seconds() == 3600 == default.drift_window.total_seconds()
    assert default.drift_environments == ("staging", "production")
    # the gateway reads the reports where the scheduled runs write them
    env = gateway_env(default, {"staging": "2", "production": "1"})
    assert env["SPAM_GATEWAY_DRIFT_REPORTS_URL"] == str(tmp_path / "drift-reports")
    assert env["SPAM_GATEWAY_INFERENCE_LOG_URL"] == str(tmp_path / "inference-logs")
    # shadow scoring is off unless SPAM_SHADOW_SAMPLE_RATE says; its log is where promote reads
    assert env["SPAM_GATEWAY_SHADOW_ENABLED"] == "false"
    shadowed = gateway_env(
        local_settings(tmp_path, shadow_sample_rate=0.5), {"staging": "2", "production": "1"}
    )
    from spam_gateway.app.core.config import Settings

    loaded = Settings(
        _env_file=None,
        API_KEYS="[]",
        **{k.removeprefix("SPAM_GATEWAY_"): v for k, v in shadowed.items() if "_SHADOW_" in k},
    )
    assert (loaded.SHADOW_ENABLED, loaded.SHADOW_SAMPLE_RATE) == (True, 0.5)
    assert loaded.SHADOW_LOG_URL == str(tmp_path / "shadow-logs") == default.shadow_log_location()
    with pytest.raises(ValueError, match="less than or equal to 1"):
        local_settings(tmp_path, shadow_sample_rate=2)

    for bad in ({"local_drift_interval": "soon"}, {"local_drift_window": "-1h"}):
        with pytest.raises(ValueError, match="invalid duration"):
            local_settings(tmp_path, **bad)
    with pytest.raises(ValueError, match="at most 31 days"):
        local_settings(tmp_path, local_drift_window="5w")
    with pytest.raises(ValueError, match="unknown: prod"):
        local_settings(tmp_path, local_drift_environments="staging,prod")


def test_runs_are_on_the_clock():
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 12, 5, 12, 40, 7, tzinfo=UTC)
    assert next_due(now, timedelta(hours=1)) == datetime(2026, 12, 5, 13, tzinfo=UTC)
    assert next_due(now, timedelta(minutes=15)) == datetime(2026, 12, 5, 12, 45, tzinfo=UTC)
    on_the_hour = datetime(2026, 12, 5, 13, tzinfo=UTC)
    assert next_due(on_the_hour, timedelta(hours=1)) == datetime(2026, 12, 5, 14, tzinfo=UTC)
