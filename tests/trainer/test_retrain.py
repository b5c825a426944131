"""``spam-platform retrain`` on real inputs: drift reports written by the drift job
(``spam_drift.job.run_drift`` over inference logs in the gateway's layout), a feedback log
written by the gateway's own writer (``InferenceLogger`` with the feedback schema), and a real
MLflow registry (SQLite) holding a small model trained by ``spam-platform train`` and promoted
to production. Then a retrain through the train path: one that misses its gates leaves both
aliases where they were; one that passes moves only ``staging``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from spam_trainer.cli import app
from tests.pipelines.test_local_run import small_corpus
from tests.utils.inference_logs import log_table, make_baseline, write_baseline, write_log

pytestmark = pytest.mark.slow

MODEL = "spam-detector"
LOW_GATES = {
    "SPAM_GATE_F1_MIN": "0.2",
    "SPAM_GATE_ROC_AUC_MIN": "0.5",
    "SPAM_GATE_COLD_FPR_MAX": "1",
}
TRAIN_ARGS = ["--trials", "2", "--max-rounds", "80", "--cpus", "1"]


def _clear_settings() -> None:
    from spam_core.settings import get_settings
    from spam_trainer.settings import get_trainer_settings

    get_settings.cache_clear()
    get_trainer_settings.cache_clear()


def _invoke(*args: str):
    result = CliRunner().invoke(app, ["--quiet", *args])
    assert "Traceback" not in result.output, result.output
    return result


def _client():
    import mlflow

    from spam_trainer.registry import configure_mlflow
    from spam_trainer.settings import get_trainer_settings

    configure_mlflow(get_trainer_settings())
    return mlflow.MlflowClient()


def _aliases() -> dict[str, str]:
    return {k: str(v) for k, v in _client().get_registered_model(MODEL).aliases.items()}


@pytest.fixture(scope="module")
def platform(corpus_dir, tmp_path_factory):
    """A home with a small ingested corpus, v1 trained (alias staging) and promoted to
    production, inference logs (production shifted in the last hour) and their drift reports,
    and a feedback log around v1's training time."""
    from spam_core.ingest import ingest

    tmp = tmp_path_factory.mktemp("retrain")
    home = tmp / "home"
    mp = pytest.MonkeyPatch()
    for key, value in {
        "SPAM_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
        "RAY_AUTH_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
        "CI": "1",
        **LOW_GATES,
    }.items():
        mp.setenv(key, value)
    _clear_settings()
    dataset = home / "datasets" / "spamassassin"
    ingest(small_corpus(corpus_dir, tmp / "corpus"), dataset)
    before_training = time.time()
    trained = _invoke("train", "--dataset", str(dataset), *TRAIN_ARGS, "--out", str(tmp / "v1"))
    assert trained.exit_code == 0, trained.output
    promoted = _invoke("promote", "--to", "production", "--dataset", str(dataset))
    assert promoted.exit_code == 0, promoted.output
    assert _aliases() == {"staging": "1", "production": "1"}

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    _drift_reports(home, now)
    run = _client().get_run(_client().get_model_version(MODEL, "1").run_id)
    trained_at = run.info.start_time / 1000
    assert before_training <= trained_at <= time.time()
    _feedback_log(home / "feedback-logs", tmp / "spool", trained_at)
    yield {"home": home, "dataset": dataset, "tmp": tmp, "now": now, "trained_at": trained_at}
    mp.undo()
    _clear_settings()


def _drift_reports(home: Path, now: datetime) -> None:
    """The drift job over the last two hours: staging normal, production shifted."""
    from spam_drift.job import DriftConfig, run_drift
    from spam_drift.window import Window

    baseline = write_baseline(home / "baseline.json", make_baseline())
    logs, hour = home / "inference-logs", timedelta(hours=1)
    rng = np.random.default_rng(5)
    write_log(logs, log_table(1500, now - 2 * hour, 2 * hour, rng), "staging")
    write_log(logs, log_table(1500, now - hour, hour, rng, shift=0.5), "production")
    for environment in ("staging", "production"):
        report = run_drift(
            DriftConfig(
                inference_log=str(logs),
                reports=str(home / "drift-reports"),
                environment=environment,
                window=Window(now - hour, now),
                baselines={"1": str(baseline)},
                model_ref_template="",
                html=False,
            )
        )
        assert report.drift_detected is (environment == "production")


FEEDBACK_BEFORE = 10
FEEDBACK_AFTER = {"applied": 5, "replaced": 2, "duplicate": 3, "capped": 1, "no_sender": 1}


def _feedback_log(root: Path, spool: Path, trained_at: float) -> None:
    """Reports as the gateway logs them (its writer and store), before and after training."""
    from spam_core import feedback as schema
    from spam_gateway.app.inference_log import InferenceLogger, LogStore

    rows = [("applied", trained_at - 3600 - i) for i in range(FEEDBACK_BEFORE)]
    rows += [(status, trained_at + 1 + i) for status, n in FEEDBACK_AFTER.items() for i in range(n)]
    writer = InferenceLogger(LogStore(str(root)), spool, flush_interval_s=0.1, schema=schema)
    writer.start()
    writer.log_many(
        {
            "timestamp": ts,
            "reporter": "mailbox",
            "email_key": f"{k:064x}",
            "email_id": f"m{k}",
            "label": "ham",
            "status": status,
            "sender": "ann@corp.example",
            "sender_domain": "corp.example",
            "messages_delta": int(status == "applied"),
        }
        for k, (status, ts) in enumerate(rows)
    )
    assert writer.flush(30)
    writer.close()
    assert len(list(root.rglob("*.parquet"))) >= 2  # an hour partition before, one after


def _policy(**values):
    from spam_trainer.retrain import RetrainPolicy

    return RetrainPolicy(**values)


def _observe(platform, policy, now=None):
    from spam_trainer.retrain import observe

    _client()
    return observe(policy, home=platform["home"], model_name=MODEL, now=now or platform["now"])


def _rules(decision) -> dict[str, bool]:
    return {r.name: r.fired for r in decision.rules}


def test_observations_come_from_the_reports_the_log_and_the_registry(platform):
    obs = _observe(platform, _policy())
    by_env = {v.environment: v for v in obs.drift}
    assert by_env["production"].drift_detected and by_env["production"].status == "ok"
    assert not by_env["staging"].drift_detected
    assert by_env["production"].window_end == platform["now"]
    assert obs.production.version == "1"
    assert obs.production.trained_at.timestamp() == pytest.approx(platform["trained_at"])
    # only reports after v1's training run started, and only those that set a label
    assert obs.feedback_rows == FEEDBACK_AFTER["applied"] + FEEDBACK_AFTER["replaced"]
    assert obs.feedback_rows_all_statuses == sum(FEEDBACK_AFTER.values())
    assert obs.last_retrain_what == f"{MODEL} v1 registered"


def test_production_drift_triggers_a_retrain(platform):
    from spam_trainer.retrain import decide

    policy = _policy(cooldown="0s", min_feedback_rows=0)
    decision = decide(policy, _observe(platform, policy))
    assert decision.retrain
    assert _rules(decision) == {
        "drift (staging)": False,
        "drift (production)": True,
        "new feedback": False,
        "model age": False,
        "cooldown": False,
        "drift required": False,
    }
    assert decision.reasons[0].startswith("drift (production): drift_detected=true (ok")


def test_a_stale_verdict_does_not_count(platform):
    from spam_trainer.retrain import decide

    policy = _policy(cooldown="0s", drift_max_age="6h")
    later = platform["now"] + timedelta(hours=7)
    decision = decide(policy, _observe(platform, policy, later))
    assert not _rules(decision)["drift (production)"]
    assert not decision.retrain and decision.reasons == ["no trigger fired"]


def test_the_feedback_volume_threshold(platform):
    from spam_trainer.retrain import decide

    new = FEEDBACK_AFTER["applied"] + FEEDBACK_AFTER["replaced"]
    for threshold, fired in ((new, True), (new + 1, False)):
        policy = _policy(cooldown="0s", min_feedback_rows=threshold, drift_environments=[])
        decision = decide(policy, _observe(platform, policy))
        assert _rules(decision)["new feedback"] is fired
        assert decision.retrain is fired


def test_model_age_triggers_after_max_age(platform):
    from spam_trainer.retrain import decide

    policy = _policy(cooldown="0s", max_model_age="30d", drift_environments=["production"])
    trained = datetime.fromtimestamp(platform["trained_at"], UTC)
    decision = decide(policy, _observe(platform, policy, trained + timedelta(days=31)))
    assert _rules(decision)["model age"] and not _rules(decision)["drift (production)"]
    assert decision.retrain
    young = decide(policy, _observe(platform, policy, trained + timedelta(days=29)))
    assert not young.retrain


def test_guards_cooldown_and_drift_required(platform):
    from spam_trainer.retrain import decide

    cooling = _policy(cooldown="1d")  # v1 was registered minutes ago
    decision = decide(cooling, _observe(platform, cooling))
    assert _rules(decision)["drift (production)"] and _rules(decision)["cooldown"]
    assert not decision.retrain
    assert any(r.startswith("blocked by cooldown") for r in decision.reasons)
    only_staging = _policy(
        cooldown="0s", require_drift=True, min_feedback_rows=1, drift_environments=["staging"]
    )
    decision = decide(only_staging, _observe(platform, only_staging))
    assert _rules(decision)["new feedback"] and _rules(decision)["drift required"]
    assert not decision.retrain


def test_dry_run_prints_the_policy_table_and_changes_nothing(platform, monkeypatch):
    monkeypatch.setenv("SPAM_RETRAIN_COOLDOWN", "0s")
    result = _invoke("retrain", "--dry-run")
    assert result.exit_code == 0, result.output
    for text in ("drift (production)", "new feedback", "model age", "cooldown", "yes"):
        assert text in result.output
    assert "would retrain (local)" in result.output
    assert not (platform["home"] / "retrain-decisions").exists()
    assert _aliases() == {"staging": "1", "production": "1"}


def _decisions(home: Path) -> list[dict]:
    found = [json.loads(p.read_text()) for p in (home / "retrain-decisions").glob("*.json")]
    return sorted(found, key=lambda d: d["decided_at"])


def test_a_retrain_that_fails_its_gates_changes_nothing_that_serves(platform, monkeypatch):
    for key, value in {
        "SPAM_GATE_F1_MIN": "1",
        "SPAM_GATE_ROC_AUC_MIN": "1",
        "SPAM_GATE_COLD_FPR_MAX": "0",
        "SPAM_RETRAIN_COOLDOWN": "0s",
    }.items():
        monkeypatch.setenv(key, value)
    _clear_settings()
    result = _invoke(
        "retrain", "--dataset", str(platform["dataset"]), *TRAIN_ARGS,
        "--out", str(platform["tmp"] / "v2"),
    )  # fmt: skip
    _clear_settings()
    assert result.exit_code == 3, result.output
    assert "quality gates not met, no alias" in result.output
    assert _aliases() == {"staging": "1", "production": "1"}
    client = _client()
    v2 = client.get_model_version(MODEL, "2")
    assert v2.tags["gate"] == "failed" and not v2.aliases
    assert v2.tags["retrain_reasons"].startswith("drift (production)")
    decision = client.download_artifacts(v2.run_id, "retrain/decision.json", str(platform["tmp"]))
    recorded = json.loads(Path(decision).read_text())
    assert recorded["action"] == "gates_failed" and recorded["exit_code"] == 3
    assert recorded["outcome"]["model_version"] == "2" and recorded["outcome"]["staging"] is False
    assert client.get_run(v2.run_id).data.tags["retrain"] == "true"
    (on_disk,) = _decisions(platform["home"])
    assert on_disk == recorded


def test_a_passing_retrain_moves_only_staging(platform, monkeypatch):
    monkeypatch.setenv("SPAM_RETRAIN_COOLDOWN", "0s")
    _clear_settings()
    result = _invoke(
        "retrain", "--dataset", str(platform["dataset"]), *TRAIN_ARGS,
        "--out", str(platform["tmp"] / "v3"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _aliases() == {"staging": "3", "production": "1"}
    last = _decisions(platform["home"])[-1]
    assert last["action"] == "trained" and last["outcome"]["model_version"] == "3"
    # the next decision: the cooldown counts from v3
    monkeypatch.setenv("SPAM_RETRAIN_COOLDOWN", "1h")
    again = _invoke("retrain")
    assert again.exit_code == 0, again.output
    assert _decisions(platform["home"])[-1]["action"] == "none"
    assert _aliases() == {"staging": "3", "production": "1"}
