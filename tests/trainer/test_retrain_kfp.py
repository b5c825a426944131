"""``spam-platform retrain --mode kfp``: the real ``kfp.Client`` submits the compiled pipeline
to a KFP API stand-in (``tests/utils/kfp_server.py``) — the spec sent is the committed YAML's,
the arguments are typed as the spec declares, the decision is recorded with the run's id, and
the cooldown then holds the next decision back. The registry is a real (empty) MLflow store:
no production model, so the model-age trigger fires."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from spam_trainer.cli import app
from spam_trainer.retrain import pipeline_package
from tests.utils.kfp_server import KfpServer
from tests.utils.paths import REPO

COMPILED = REPO / "pipelines" / "compiled"
ARGUMENTS = {"trials": 8, "cpus": "2", "corpus": "https://example.org/corpus/"}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("SPAM_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("SPAM_RETRAIN_MODE", "kfp")
    monkeypatch.setenv("SPAM_RETRAIN_PIPELINE_PACKAGE", str(COMPILED))
    monkeypatch.setenv("SPAM_RETRAIN_PIPELINE_ARGUMENTS", json.dumps(ARGUMENTS))
    monkeypatch.setenv("SPAM_GATE_F1_MIN", "0.9")
    monkeypatch.setenv("CI", "1")
    from spam_core.settings import get_settings
    from spam_trainer.settings import get_trainer_settings

    get_settings.cache_clear()
    get_trainer_settings.cache_clear()
    yield home
    get_settings.cache_clear()
    get_trainer_settings.cache_clear()


def invoke(*args: str):
    result = CliRunner().invoke(app, ["retrain", *args])
    assert "Traceback" not in result.output, result.output
    return result


def decisions(home: Path) -> list[dict]:
    folder = home / "retrain-decisions"
    found = [json.loads(p.read_text()) for p in folder.glob("retrain-*.json")]
    return sorted(found, key=lambda d: d["decided_at"])


def test_the_newest_compiled_pipeline_is_chosen():
    newest = max(int(p.stem.rsplit("-v", 1)[1]) for p in COMPILED.glob("spam-training-v*.yaml"))
    assert pipeline_package(str(COMPILED)).name == f"spam-training-v{newest}.yaml"


def test_a_retrain_submits_the_compiled_pipeline_with_typed_arguments(env: Path):
    with KfpServer() as kfp:
        result = invoke("--kfp-host", kfp.url)
        assert result.exit_code == 0, result.output
        calls = [(r["method"], r["path"]) for r in kfp.requests]
        assert calls == [
            ("GET", "/apis/v2beta1/healthz"),
            ("GET", "/apis/v2beta1/experiments"),
            ("POST", "/apis/v2beta1/experiments"),
            ("POST", "/apis/v2beta1/runs"),
        ]
        (run,) = kfp.runs.values()
        (experiment,) = kfp.experiments.values()
    package = pipeline_package(str(COMPILED))
    # the committed YAML, as kfp.Client sends it: its pipeline spec, and with a platform spec
    # (kfp-kubernetes mounts) both under their names
    pipeline_spec, *platform = yaml.safe_load_all(package.read_text())
    sent = run["pipeline_spec"]
    if platform:
        assert sent == {"pipeline_spec": pipeline_spec, "platform_spec": platform[0]}
    else:
        assert sent == pipeline_spec
    assert experiment["display_name"] == "spam-detector"
    assert run["experiment_id"] == experiment["experiment_id"]
    assert run["display_name"].startswith("retrain-")
    parameters = run["runtime_config"]["parameters"]
    # the trainer's settings (gates, model, experiment), then SPAM_RETRAIN_PIPELINE_ARGUMENTS;
    # a local SQLite tracking URI is not the cluster's: the pipeline keeps its default
    assert parameters == {
        "model_name": "spam-detector",
        "mlflow_experiment": "spam-detector",
        "gate_f1_min": 0.9,
        "gate_roc_auc_min": 0.99,
        "gate_cold_fpr_max": 0.005,
        **ARGUMENTS,
    }
    (decision,) = decisions(env)
    assert decision["retrain"] is True and decision["action"] == "submitted"
    assert decision["outcome"]["kfp_run_id"] == run["run_id"]
    assert decision["outcome"]["pipeline_package"] == package.name
    assert decision["reasons"] == ["model age: no production model"]
    assert f"submitted Kubeflow run {run['run_id']}" in result.output


def test_the_feedback_log_the_decision_counted_is_the_runs_training_data(
    env: Path, tmp_path: Path, monkeypatch
):
    log = tmp_path / "feedback-logs"
    log.mkdir()
    monkeypatch.setenv("SPAM_RETRAIN_FEEDBACK_LOG_URL", str(log))
    monkeypatch.setenv("SPAM_TRAIN_FEEDBACK_RECENT_DAYS", "3")
    with KfpServer() as kfp:
        assert invoke("--kfp-host", kfp.url).exit_code == 0
        (run,) = kfp.runs.values()
    parameters = run["runtime_config"]["parameters"]
    assert parameters["feedback_log"] == str(log) and parameters["feedback_recent_days"] == 3.0
    # switched off: the pipeline's default (no feedback)
    monkeypatch.setenv("SPAM_TRAIN_FEEDBACK", "false")
    monkeypatch.setenv("SPAM_RETRAIN_COOLDOWN", "0s")
    from spam_trainer.settings import get_trainer_settings

    get_trainer_settings.cache_clear()
    with KfpServer() as kfp:
        assert invoke("--kfp-host", kfp.url).exit_code == 0
        (run,) = kfp.runs.values()
    assert "feedback_log" not in run["runtime_config"]["parameters"]


def test_an_azure_feedback_log_reaches_the_pipeline_with_its_account(env: Path, monkeypatch):
    """The retrain CronJob has AZURE_STORAGE_ACCOUNT_NAME (the chart sets it), the pipeline's
    pods do not: the URL they get names the account."""
    from spam_trainer.retrain import RetrainPolicy, pipeline_arguments
    from spam_trainer.settings import get_trainer_settings

    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "stspamprod")
    package = pipeline_package(COMPILED)
    trainer = get_trainer_settings()
    for given, sent in (
        ("abfs://logs/feedback-logs", "abfs://logs@stspamprod.dfs.core.windows.net/feedback-logs"),
        ("abfs://logs@other.dfs.core.windows.net/f", "abfs://logs@other.dfs.core.windows.net/f"),
        ("/srv/feedback-logs", "/srv/feedback-logs"),
    ):
        policy = RetrainPolicy(feedback_log_url=given)
        assert pipeline_arguments(policy, trainer, package, None)["feedback_log"] == sent
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME")
    policy = RetrainPolicy(feedback_log_url="abfs://logs/feedback-logs")
    assert pipeline_arguments(policy, trainer, package, None)["feedback_log"] == (
        "abfs://logs/feedback-logs"
    )


def test_the_cooldown_holds_the_next_decision_back(env: Path):
    with KfpServer() as kfp:
        assert invoke("--kfp-host", kfp.url).exit_code == 0
        again = invoke("--kfp-host", kfp.url)
        assert again.exit_code == 0, again.output
        assert len(kfp.runs) == 1
    first, second = decisions(env)
    assert first["action"] == "submitted"
    assert second["retrain"] is False and second["action"] == "none"
    cooldown = next(r for r in second["rules"] if r["name"] == "cooldown")
    assert cooldown["fired"] is True and "submitted.json" in cooldown["observed"]
    assert any(r.startswith("blocked by cooldown") for r in second["reasons"])


def test_a_bearer_token_from_a_projected_token_file(env: Path, tmp_path: Path, monkeypatch):
    token = tmp_path / "token"
    token.write_text("kfp-test-token")
    monkeypatch.setenv("SPAM_RETRAIN_KFP_TOKEN_PATH", str(token))
    with KfpServer(token="kfp-test-token") as kfp:
        assert invoke("--kfp-host", kfp.url).exit_code == 0
        assert len(kfp.runs) == 1


def test_a_refused_submission_exits_1_and_is_recorded(env: Path):
    with KfpServer(token="another-token") as kfp:
        result = invoke("--kfp-host", kfp.url)
        assert not kfp.runs
    assert result.exit_code == 1, result.output
    assert "KFP submission failed" in result.output
    (decision,) = decisions(env)
    assert decision["action"] == "failed" and decision["exit_code"] == 1


# ---------------------------------------------------------------- --wait
def run_reads(kfp: KfpServer) -> int:
    return sum(
        1
        for r in kfp.requests
        if r["method"] == "GET" and r["path"].startswith("/apis/v2beta1/runs/")
    )


def test_wait_follows_the_run_to_success_and_records_its_final_state(env, monkeypatch):
    monkeypatch.setenv("SPAM_RETRAIN_WAIT_POLL", "0.05s")
    with KfpServer(run_states=["PENDING", "RUNNING", "RUNNING", "SUCCEEDED"]) as kfp:
        result = invoke("--kfp-host", kfp.url, "--wait")
        (run,) = kfp.runs.values()
        assert run_reads(kfp) == 4  # every read by the real client's get_run, until final
    assert result.exit_code == 0, result.output
    for state in ("PENDING", "RUNNING", "SUCCEEDED"):
        assert f"run state: {state}" in result.output
    assert f"Kubeflow run {run['run_id']}: SUCCEEDED" in result.output
    (decision,) = decisions(env)  # the submission's record, rewritten with the outcome
    assert decision["action"] == "submitted" and decision["exit_code"] == 0
    assert decision["outcome"]["kfp_state"] == "SUCCEEDED"
    assert decision["outcome"]["kfp_finished"] is True
    assert decision["outcome"]["kfp_finished_at"]


@pytest.mark.parametrize("final", ["FAILED", "CANCELED", "SKIPPED"])
def test_wait_exits_1_when_the_run_does_not_succeed(env, monkeypatch, final):
    monkeypatch.setenv("SPAM_RETRAIN_WAIT_POLL", "0.05s")
    with KfpServer(run_states=["RUNNING", final], run_error="task tune: OOMKilled") as kfp:
        result = invoke("--kfp-host", kfp.url, "--wait")
        assert len(kfp.runs) == 1
    assert result.exit_code == 1, result.output
    assert f"ended {final}" in result.output
    (decision,) = decisions(env)
    # it was started: the cooldown still counts it, the record says how it ended
    assert decision["action"] == "submitted" and decision["exit_code"] == 1
    assert decision["outcome"]["kfp_state"] == final
    if final == "FAILED":
        assert "task tune: OOMKilled" in result.output
        assert decision["outcome"]["kfp_error"] == "task tune: OOMKilled"


def test_wait_gives_up_at_the_timeout_with_exit_4(env, monkeypatch):
    monkeypatch.setenv("SPAM_RETRAIN_WAIT", "true")  # the setting, not the flag
    monkeypatch.setenv("SPAM_RETRAIN_WAIT_POLL", "0.1s")
    with KfpServer(run_states=["RUNNING"]) as kfp:
        result = invoke("--kfp-host", kfp.url, "--wait-timeout", "1s")
        reads = run_reads(kfp)
    assert result.exit_code == 4, result.output
    assert "is still RUNNING" in result.output and "timeout 1s" in result.output
    assert 2 <= reads <= 15  # polled every 0.1 s for about a second, then stopped
    (decision,) = decisions(env)
    assert decision["action"] == "submitted" and decision["exit_code"] == 4
    assert decision["outcome"]["kfp_state"] == "RUNNING"
    assert decision["outcome"]["kfp_finished"] is False


def test_no_wait_by_default_and_with_no_wait(env, monkeypatch):
    monkeypatch.setenv("SPAM_RETRAIN_WAIT", "true")
    with KfpServer(run_states=["RUNNING"]) as kfp:
        result = invoke("--kfp-host", kfp.url, "--no-wait")
        assert run_reads(kfp) == 0
    assert result.exit_code == 0, result.output
    (decision,) = decisions(env)
    assert "kfp_state" not in decision["outcome"]


def test_a_bad_wait_timeout_exits_2_before_anything_is_sent(env):
    with KfpServer() as kfp:
        result = invoke("--kfp-host", kfp.url, "--wait", "--wait-timeout", "soon")
        assert not kfp.requests
    assert result.exit_code == 2 and "--wait-timeout" in result.output


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("SPAM_RETRAIN_PIPELINE_ARGUMENTS", '{"trails": 3}', "trails not parameters"),
        ("SPAM_RETRAIN_PIPELINE_PACKAGE", "/nonexistent/pipelines", "no compiled pipeline"),
        ("SPAM_RETRAIN_COOLDOWN", "soon", "SPAM_RETRAIN_COOLDOWN"),
        ("SPAM_RETRAIN_DRIFT_ENVIRONMENTS", '["qa"]', "SPAM_RETRAIN_DRIFT_ENVIRONMENTS"),
    ],
)
def test_bad_configuration_exits_2_before_anything_is_sent(
    env, monkeypatch, setting, value, message
):
    monkeypatch.setenv(setting, value)
    with KfpServer() as kfp:
        result = invoke("--kfp-host", kfp.url)
        assert not kfp.requests
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert decisions(env) == []


def test_kfp_mode_without_an_endpoint_exits_2(env: Path):
    result = invoke()
    assert result.exit_code == 2 and "SPAM_RETRAIN_KFP_HOST" in result.output


def test_dry_run_sends_and_records_nothing(env: Path):
    with KfpServer() as kfp:
        result = invoke("--kfp-host", kfp.url, "--dry-run")
        assert not kfp.requests
    assert result.exit_code == 0 and "would retrain (kfp)" in result.output
    assert "model age" in result.output and "cooldown" in result.output
    assert decisions(env) == []


def test_kfp_clients_root_logging_is_held_back_during_a_submission(caplog):
    """kfp's client logs each failed health check with a traceback on the root logger (five
    tries); during a submission those records are dropped (the failure is reported once, as
    the submission's error), other records still pass, and nothing stays filtered after."""
    import logging
    import os

    from spam_trainer.retrain import _without_kfp_root_logging

    def record(path: str) -> logging.LogRecord:
        return logging.LogRecord("root", logging.ERROR, path, 1, "healthz", None, None)

    kfp_file = os.path.join(os.sep, "site-packages", "kfp", "client", "client.py")
    ours = os.path.join(os.sep, "src", "spam_trainer", "retrain.py")
    root = logging.getLogger()
    with _without_kfp_root_logging():
        assert not root.filter(record(kfp_file))
        assert root.filter(record(ours))
    assert root.filter(record(kfp_file))
