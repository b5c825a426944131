"""Train -> MLflow (real SQLite store) -> register -> gates -> promote -> score, end to end.

One short real training (2 Ray Tune trials, few rounds) on the ingested shared corpus is
shared by the tests of this module. Its reputation stage writes the Feast repository at the
default place ($SPAM_HOME/feast, SQLite online store), which promote, score and the pyfunc
model then read.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from spam_core.bundle import ModelBundle
from spam_trainer.cli import app
from spam_trainer.reputation import load_reputation

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory, dataset_dir):
    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("SPAM_HOME", str(home))
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db")
    mp.setenv("RAY_AUTH_MODE", "disabled")
    from spam_core.settings import get_settings
    from spam_trainer.settings import get_trainer_settings

    get_settings.cache_clear()
    get_trainer_settings.cache_clear()
    # the default dataset location, so `promote` finds the same test split
    shutil.copytree(dataset_dir, home / "datasets" / "spamassassin")
    yield home
    mp.undo()
    get_settings.cache_clear()
    get_trainer_settings.cache_clear()


@pytest.fixture(scope="module")
def trained(env):
    runner = CliRunner()
    work = env / "work"
    result = runner.invoke(
        app,
        [
            "--quiet",
            "train",
            "--dataset",
            str(env / "datasets" / "spamassassin"),
            "--trials",
            "2",
            "--max-rounds",
            "80",
            "--cpus",
            "2",
            "--out",
            str(work),
        ],
    )
    assert result.exit_code == 0, result.output
    return work, result.output


def _client():
    import mlflow

    from spam_trainer.registry import configure_mlflow
    from spam_trainer.settings import get_trainer_settings

    configure_mlflow(get_trainer_settings())
    return mlflow.MlflowClient()


def test_train_registers_version_1_with_alias_staging(trained):
    work, output = trained
    assert "registered spam-detector v1 -> alias staging" in output
    client = _client()
    version = client.get_model_version_by_alias("spam-detector", "staging")
    assert str(version.version) == "1"
    assert version.tags["gate"] == "passed"
    run = client.get_run(version.run_id)
    m = run.data.metrics
    assert m["test_roc_auc"] > 0.99 and m["test_f1"] > 0.9
    assert m["onnx_parity_max_abs_diff"] <= 1e-5
    for key in (
        "test_precision",
        "test_recall",
        "test_pr_auc",
        "test_tp",
        "test_fp",
        "test_tn",
        "test_fn",
        "test_threshold",
        "cv_f1",
    ):
        assert key in m, key
    assert run.data.params["trials"] == "2"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert artifacts == {
        f"plots/{n}.png"
        for n in ("roc_curve", "pr_curve", "confusion_matrix", "feature_importance")
    }
    for folder, name in (
        ("tune", "tune/trials.csv"),
        ("drift", "drift/drift_baseline.json"),
        ("features", "features/features.json"),
        ("onnx", "onnx/model.onnx"),
    ):
        assert name in {a.path for a in client.list_artifacts(run.info.run_id, folder)}
    assert (work / "model" / "plots" / "roc_curve.png").stat().st_size > 5000


def test_slices_are_printed_logged_and_gated(trained):
    work, output = trained
    assert "test split by sender history" in output and "sender-disjoint" in output
    client = _client()
    version = client.get_model_version_by_alias("spam-detector", "staging")
    run = client.get_run(version.run_id)
    m = run.data.metrics
    for form in ("raw", "fields"):
        for name in ("all", "known_sender", "unknown_sender", "cold", "content_only"):
            assert f"slice_{form}_{name}_ham_fpr" in m, (form, name)
        assert m[f"slice_{form}_cold_ham_fpr"] <= 0.005  # the gate it passed
        assert f"disjoint_{form}_all_recall" in m
    assert m["slice_raw_all_n"] == m["test_n"]
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {"evaluation/slices.json"} <= logged
    doc = json.loads((work / "model" / "slices.json").read_text())
    assert doc["threshold"] == pytest.approx(m["test_threshold"])
    split = doc["sender_disjoint_split"]
    assert split["train"] > split["test"] > 0 and split["test_groups"] > 0


def test_bundle_parity_triton_layout_and_baseline(trained):
    from spam_core.features import N_FEATURES
    from spam_trainer.triton import validate_model_repository

    work, _ = trained
    bundle = ModelBundle.load(work / "bundle")
    assert validate_model_repository(work / "bundle" / "triton", "spam-detector", N_FEATURES) == []
    baseline = json.loads((work / "bundle" / "drift_baseline.json").read_text())
    assert len(baseline["features"]) == N_FEATURES
    assert 0.25 < baseline["spam_rate"] < 0.37
    assert abs(sum(baseline["score"]["frequencies"]) - 1) < 1e-9
    _reputation_reference_is_what_serving_reads(work, baseline)
    import xgboost as xgb

    from spam_core.ingest import read_records

    records, _ = read_records(work.parent / "datasets" / "spamassassin", split="test")
    model = xgb.XGBClassifier()
    model.load_model(work / "bundle" / "xgboost.json")
    x = bundle.extractor.transform_records(records, load_reputation(work))
    assert np.max(np.abs(bundle.predict_matrix(x) - model.predict_proba(x)[:, 1])) <= 1e-5

    # the score reference: the served model on the test e-mails, reputation as serving reads it
    from spam_core.features import REPUTATION_NAMES
    from spam_trainer.reputation import serving_reputation

    columns = [bundle.extractor.feature_names.index(n) for n in REPUTATION_NAMES]
    x[:, columns] = serving_reputation(work, [r.email_id for r in records])
    served = bundle.predict_matrix(x)
    assert baseline["score"]["split"] == "test (served model)"
    quantiles = np.quantile(served, np.linspace(0, 1, len(baseline["score"]["quantiles"])))
    assert np.allclose(baseline["score"]["quantiles"], quantiles, atol=1e-5)


def test_reputation_stage_ran_and_the_model_reads_529_features(trained, env):
    """Stats retrieved point-in-time, the online store materialized, the bundle and its ONNX /
    Triton input 529 wide, the last 4 columns the reputation features."""
    import pandas as pd

    from spam_core.features import N_FEATURES, REPUTATION_NAMES, STAT_COLUMNS
    from spam_core.features.reputation import reputation_keys
    from spam_core.ingest import read_records
    from spam_core.reputation.online import OnlineReputation
    from spam_trainer.onnx_export import INPUT_NAME, session
    from spam_trainer.reputation import STATS_FILE
    from spam_trainer.triton import read_model_config

    work, _ = trained
    stats = pd.read_parquet(work / STATS_FILE)
    serving = [f"serving_{c}" for c in STAT_COLUMNS]  # end-of-history counts (drift baseline)
    assert len(stats) == 4810
    assert list(stats.columns) == ["email_id", "split", *STAT_COLUMNS, *serving]
    assert (stats["sender_messages"] > 0).mean() > 0.2
    assert (work / "reputation" / "history" / "sender_history.parquet").is_file()

    # the online store at $SPAM_HOME/feast holds every train sender's totals
    feast = env / "feast"
    assert (feast / "feature_store.yaml").is_file() and (feast / "online_store.db").is_file()
    records, labels = read_records(env / "datasets" / "spamassassin", split="train")
    totals: dict[str, list[int]] = {}
    for r, label in zip(records, labels, strict=True):
        if r.sender_address:
            t = totals.setdefault(r.sender_address, [0, 0])
            t[0] += 1
            t[1] += label == "spam"
    busy = sorted(totals, key=lambda s: -totals[s][0])[:3]
    probe = [next(r for r in records if r.sender_address == s) for s in busy]
    assert [reputation_keys(r)[0] for r in probe] == busy
    online = OnlineReputation.from_repo(feast).stats(probe)
    assert online[:, :2].tolist() == [totals[s] for s in busy]

    bundle = ModelBundle.load(work / "bundle")
    names = json.loads((work / "bundle" / "features.json").read_text())["feature_names"]
    assert len(names) == N_FEATURES == 529
    assert tuple(names[-4:]) == REPUTATION_NAMES
    assert bundle.meta.n_features == 529 and bundle.meta.feature_set == "email-529-v4"
    (features_input,) = session((work / "bundle" / "model.onnx").read_bytes()).get_inputs()
    assert features_input.name == INPUT_NAME and features_input.shape[1] == 529
    config = read_model_config(work / "bundle" / "triton" / "spam-detector" / "config.pbtxt")
    assert list(config.input[0].dims) == [529]
    # the reputation columns carry weight in the trained model
    import xgboost as xgb

    model = xgb.XGBClassifier()
    model.load_model(work / "bundle" / "xgboost.json")
    gain = model.get_booster().get_score(importance_type="gain")
    assert any(f"f{i}" in gain for i in range(N_FEATURES - 4, N_FEATURES)), sorted(gain)[-10:]

    client = _client()
    version = client.get_model_version_by_alias("spam-detector", "staging")
    run = client.get_run(version.run_id)
    assert run.data.metrics["time_reputation_s"] > 0
    assert run.data.tags["feature_set"] == "email-529-v4"


def test_gate_not_met_leaves_no_alias(trained, env):
    from spam_trainer.registry import Gates
    from spam_trainer.settings import get_trainer_settings
    from spam_trainer.train import register_stage
    from spam_trainer.tune import TuneSettings

    work, _ = trained
    reg = register_stage(
        work,
        dataset_dir=env / "datasets" / "spamassassin",
        settings=get_trainer_settings(),
        tune=TuneSettings(trials=2),
        gates=Gates(f1_min=1.01, roc_auc_min=0.5),
    )
    assert reg.version == "2" and reg.staging is False
    assert "F1" in reg.gate_failures[0]
    client = _client()
    assert str(client.get_model_version_by_alias("spam-detector", "staging").version) == "1"
    assert client.get_model_version("spam-detector", "2").tags["gate"] == "failed"


def test_promote_first_then_refuse_gate_failed_and_regressions(trained, env, tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["promote", "--to", "production"])
    assert r.exit_code == 0, r.output
    assert "first promotion" in r.output
    client = _client()
    assert str(client.get_model_version_by_alias("spam-detector", "production").version) == "1"
    record = json.loads(client.get_model_version("spam-detector", "1").tags["production_promotion"])
    assert record["previous"] is None and record["n_test"] > 600

    r = runner.invoke(app, ["promote", "--to", "production", "--version", "2"])
    assert r.exit_code == 2 and "has not passed the quality gates" in r.output

    # a version that passed its gates but is worse on the same test data is refused
    import mlflow

    from spam_trainer.registry import log_and_register
    from spam_trainer.settings import get_trainer_settings

    work, _ = trained
    worse = tmp_path / "bundle"
    shutil.copytree(work / "bundle", worse)
    meta = json.loads((worse / "bundle.json").read_text())
    meta["threshold"] = 0.99999
    (worse / "bundle.json").write_text(json.dumps(meta))
    with mlflow.start_run(run_name="worse"):
        version, _ = log_and_register(worse, settings=get_trainer_settings(), register=True)
    client.set_model_version_tag("spam-detector", version, "gate", "passed")
    r = runner.invoke(app, ["promote", "--to", "production", "--version", version])
    assert r.exit_code == 1, r.output
    assert "refused" in r.output and "recall" in r.output
    assert str(client.get_model_version_by_alias("spam-detector", "production").version) == "1"
    assert "production_refused" in client.get_model_version("spam-detector", version).tags


def _extract(corpus_dir: Path, archive: str, n: int, dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    with tarfile.open(corpus_dir / archive) as tar:
        for m in tar:
            if m.isfile() and not m.name.endswith("cmds"):
                path = dest / Path(m.name).name
                path.write_bytes(tar.extractfile(m).read())
                out.append(path)
                if len(out) == n:
                    break
    return out


def test_score_a_directory_and_an_archive_through_the_registry(trained, corpus_dir, tmp_path):
    _extract(corpus_dir, "20030228_spam.tar.bz2", 40, tmp_path / "in" / "a")
    _extract(corpus_dir, "20030228_easy_ham.tar.bz2", 40, tmp_path / "in" / "b")
    out = tmp_path / "scores.jsonl"
    r = CliRunner().invoke(
        app,
        [
            "--quiet",
            "score",
            str(tmp_path / "in"),
            "--model",
            "models:/spam-detector@staging",
            "--output",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 80
    assert set(lines[0]) == {
        "source",
        "email_id",
        "spam_probability",
        "prediction",
        "model_version",
    }
    assert {x["model_version"] for x in lines} == {"1"}
    spam = [x for x in lines if x["source"].startswith("a/")]
    ham = [x for x in lines if x["source"].startswith("b/")]
    assert sum(x["prediction"] == "spam" for x in spam) >= 36
    assert sum(x["prediction"] == "ham" for x in ham) >= 38

    explained = tmp_path / "explained.jsonl"
    r = CliRunner().invoke(
        app,
        [
            "--quiet",
            "score",
            str(tmp_path / "in" / "a"),
            "--model",
            str(trained[0] / "bundle"),
            "--output",
            str(explained),
            "--explain",
            "--top",
            "5",
        ],
    )
    assert r.exit_code == 0, r.output
    for line in map(json.loads, explained.read_text().splitlines()):
        e = line["explanation"]
        p = 1 / (1 + np.exp(-e["margin"]))
        assert p == pytest.approx(line["spam_probability"], abs=1e-5)
        assert 1 <= len(e["top"]) <= 5

    out2 = tmp_path / "archive.jsonl"
    r = CliRunner().invoke(
        app,
        [
            "--quiet",
            "score",
            str(corpus_dir / "20030228_hard_ham.tar.bz2"),
            "--model",
            str(trained[0] / "bundle"),
            "--output",
            str(out2),
        ],
    )
    assert r.exit_code == 0, r.output
    rows = out2.read_text().splitlines()
    assert len(rows) == 210  # the cmds file is skipped, not scored
    assert json.loads(rows[0])["source"].startswith("20030228_hard_ham.tar.bz2:hard_ham/")


def test_score_refuses_missing_and_corrupt_models(trained, tmp_path, corpus_dir):
    msg = _extract(corpus_dir, "20030228_spam.tar.bz2", 1, tmp_path / "in")[0]
    runner = CliRunner()
    r = runner.invoke(
        app, ["score", str(msg), "--model", str(tmp_path / "nope"), "-o", str(tmp_path / "o.jsonl")]
    )
    assert r.exit_code == 2 and "no such model directory" in r.output
    r = runner.invoke(
        app,
        [
            "score",
            str(msg),
            "--model",
            "models:/spam-detector@nonexistent",
            "-o",
            str(tmp_path / "o.jsonl"),
        ],
    )
    assert r.exit_code == 2 and "nonexistent" in r.output
    broken = tmp_path / "broken"
    shutil.copytree(trained[0] / "bundle", broken)
    (broken / "model.onnx").write_bytes((broken / "model.onnx").read_bytes()[:100])
    r = runner.invoke(
        app, ["score", str(msg), "--model", str(broken), "-o", str(tmp_path / "o.jsonl")]
    )
    assert r.exit_code == 2 and "SHA-256 differs" in r.output
    assert not (tmp_path / "o.jsonl").exists()


def test_registered_pyfunc_serves_raw_and_field_emails(trained, env, monkeypatch):
    import mlflow.pyfunc
    import pandas as pd

    from spam_core.reputation.online import OnlineReputation

    _client()
    monkeypatch.setenv("SPAM_FEAST_REPO", str(env / "feast"))
    model = mlflow.pyfunc.load_model("models:/spam-detector@staging")
    assert isinstance(model.unwrap_python_model().reputation, OnlineReputation)
    frame = pd.DataFrame(
        [
            {
                "email_id": "scam",
                "subject": "WINNER!!! Claim your lottery prize now",
                "body": "Congratulations! You won $1,000,000. Click here http://203.0.113.9/claim "
                "and send your bank account details to claim your prize.",
                "sender": "Lottery Board <winner8812@yahoo.com>",
                "date": None,
                "raw": None,
            },
            {
                "email_id": "meeting",
                "raw": "From: Alice <alice@example.org>\nSubject: Re: notes "
                "from the design review\n\nThanks Bob, I have updated the spec and the patch is in "
                "CVS. Let's discuss the remaining build issues at Thursday's meeting.\n",
            },
        ]
    )
    out = model.predict(frame)
    assert list(out["email_id"]) == ["scam", "meeting"]
    assert list(out["prediction"]) == ["spam", "ham"]


def _reputation_reference_is_what_serving_reads(work: Path, baseline: dict) -> None:
    """The baseline's reputation columns: validation e-mails at the end-of-history totals,
    i.e. the counts of the train e-mails from the same sender / domain (what the online
    store serves), not their point-in-time counts."""
    import pandas as pd

    from spam_core.features.reputation import reputation_keys
    from spam_core.ingest import read_records
    from spam_trainer.reputation import STATS_FILE

    dataset = work.parent / "datasets" / "spamassassin"
    train, _ = read_records(dataset, split="train")
    per_sender: dict[str, int] = {}
    for record in train:
        sender, _ = reputation_keys(record)
        if sender:
            per_sender[sender] = per_sender.get(sender, 0) + 1
    validation, _ = read_records(dataset, split="validation")
    stats = pd.read_parquet(work / STATS_FILE).set_index("email_id")
    expected = [per_sender.get(reputation_keys(r)[0], 0) for r in validation]
    served = stats.loc[[r.email_id for r in validation], "serving_sender_messages"]
    assert served.tolist() == expected
    pit = stats.loc[[r.email_id for r in validation], "sender_messages"]
    assert (pit <= served).all() and (pit < served).any()
    mean = np.log1p(np.array(expected, dtype=np.float32)).mean()
    assert baseline["features"]["sender_message_count_log"]["mean"] == pytest.approx(mean, 1e-4)
