"""Champion / challenger: ``spam-platform promote --dry-run`` on a real MLflow registry (SQLite)
holding real (toy-model) bundles, a real Feast repository and a feedback log in the gateway's
layout. The comparison's numbers are checked against an independent computation (sklearn on
the bundles' own scores), and a dry run moves no alias and records nothing."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score
from typer.testing import CliRunner

from spam_trainer.cli import app
from tests.utils.registry import MODEL, make_registry

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def registry(tmp_path, monkeypatch, fitted, dataset_dir):
    """v1 published and promoted to production, v2 published and holding staging."""
    from spam_core.settings import get_settings
    from spam_trainer.publish import publish_version
    from spam_trainer.settings import get_trainer_settings

    monkeypatch.setenv("SPAM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SPAM_PUBLISH_URL", str(tmp_path / "published"))
    monkeypatch.delenv("SPAM_RETRAIN_FEEDBACK_LOG_URL", raising=False)
    monkeypatch.setenv("GITHUB_ACTOR", "release-bot")
    uri = make_registry(tmp_path, fitted, versions=2)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    get_settings.cache_clear()
    get_trainer_settings.cache_clear()
    for v in ("1", "2"):
        publish_version(MODEL, v, str(tmp_path / "published"))
    import mlflow

    from spam_core.features import NoHistory
    from spam_trainer.promote import promote

    assert promote(
        get_trainer_settings(), dataset_dir=dataset_dir, version="1", reputation=NoHistory()
    ).promoted
    mlflow.MlflowClient().set_registered_model_alias(MODEL, "staging", "2")
    yield tmp_path / "home"
    get_settings.cache_clear()
    get_trainer_settings.cache_clear()


def _aliases() -> dict[str, str]:
    import mlflow

    return {k: str(v) for k, v in mlflow.MlflowClient().get_registered_model(MODEL).aliases.items()}


def _write_feedback(root, rows) -> None:
    """Rows as the gateway's feedback log holds them (its schema, its partitions)."""
    from spam_core import feedback

    for partition, group in feedback.group_by_partition(rows).items():
        (root / partition).mkdir(parents=True, exist_ok=True)
        (root / partition / feedback.new_file_name()).write_bytes(feedback.to_parquet(group))


def _report(record, label, status, ts, reporter="mailbox"):
    from email.utils import format_datetime

    from spam_core.feedback import email_key

    return {
        "timestamp": ts,
        "reporter": reporter,
        "email_key": email_key(record),
        "email_id": record.email_id,
        "label": label,
        "status": status,
        "sender": record.sender_address,
        "sender_domain": record.sender_domain,
        "reference": "content",
        "subject": record.subject,
        "body": record.body,
        "from_header": record.sender,
        "date_header": format_datetime(record.date) if record.date else None,
    }


def test_dry_run_compares_on_the_same_slices_and_moves_nothing(registry, dataset_dir, feast_repo):
    from spam_core.bundle import ModelBundle, resolve_model_ref
    from spam_core.features import NoHistory
    from spam_core.ingest import read_records
    from spam_core.message import parse_fields

    records, labels = read_records(dataset_dir, split="test")
    now = datetime.now(UTC).timestamp()  # after the production model's training
    recent = records[:30]
    rows = [_report(r, lab, "applied", now) for r, lab in zip(recent, labels[:30], strict=True)]
    # the same e-mail relabeled later by its reporter: the latest label counts
    rows.append(_report(recent[0], "ham" if labels[0] == "spam" else "spam", "replaced", now + 1))
    # not labelling (recorded only), and reported before the production model's training
    rows.append(_report(records[30], "ham", "duplicate", now + 1))
    old = (datetime.now(UTC) - timedelta(days=30)).timestamp()
    rows.append(_report(records[31], "ham", "applied", old))
    _write_feedback(registry / "feedback-logs", rows)

    before = _aliases()
    assert before == {"production": "1", "staging": "2"}
    result = CliRunner().invoke(
        app,
        ["promote", "--dry-run", "--dataset", str(dataset_dir), "--feast-repo", str(feast_repo)],
        env={"COLUMNS": "200"},
    )
    assert "Traceback" not in result.output, result.output
    assert _aliases() == before
    import mlflow

    tags = mlflow.MlflowClient().get_model_version(MODEL, "2").tags
    assert not {"production_promotion", "production_refused", "production_since"} & set(tags)
    for name in ("test", "feedback", "cold"):
        assert name in result.output
    assert "within tolerance" in result.output

    # the same comparison through the function, checked independently on two slices
    from spam_core.reputation.online import OnlineReputation
    from spam_trainer.promote import promote
    from spam_trainer.settings import get_trainer_settings

    outcome = promote(
        get_trainer_settings(),
        dataset_dir=dataset_dir,
        dry_run=True,
        reputation=OnlineReputation.from_repo(feast_repo),
    )
    assert _aliases() == before
    assert (outcome.candidate, outcome.previous) == ("2", "1")
    y = np.array([lab == "spam" for lab in labels])
    fb_labels = [lab == "spam" for lab in labels[:30]]
    fb_labels[0] = not fb_labels[0]
    fb_records = [
        parse_fields(
            email_id=r["email_id"],
            subject=r["subject"],
            body=r["body"],
            sender=r["from_header"],
            date=r["date_header"],
        )
        for r in rows[:30]
    ]
    for version, side in (("2", "candidate"), ("1", "previous")):
        bundle = ModelBundle.load(resolve_model_ref(f"models:/{MODEL}/{version}")[0])
        cold = bundle.predict_records(records, NoHistory())
        got = outcome.slices["cold"][side]
        assert got["n"] == len(records)
        assert got["roc_auc"] == pytest.approx(roc_auc_score(y, cold))
        pred = cold >= bundle.threshold
        assert got["ham_fpr"] == pytest.approx((pred & ~y).sum() / (~y).sum())
        fb = bundle.predict_records(fb_records, OnlineReputation.from_repo(feast_repo))
        got = outcome.slices["feedback"][side]
        assert got["n"] == 30  # one row per e-mail; the duplicate and the old report left out
        assert got["accuracy"] == pytest.approx(accuracy_score(fb_labels, fb >= bundle.threshold))
    # the printed table carries those numbers, with the delta and the verdict of the one rule
    by = {(r.slice, r.metric): r for r in outcome.rows}
    row = by[("cold", "roc_auc")]
    assert row.delta == pytest.approx(row.candidate - row.previous)
    assert f"{row.candidate:.4f}" in result.output and f"{row.delta:+.4f}" in result.output
    assert row.gated and row.within == (row.previous - row.candidate <= outcome.tolerance)
    assert not by[("cold", "f1")].gated  # shown, not a gate of the cold slice
    decision = "would move" if outcome.promoted else "would refuse"
    assert decision in result.output
    assert result.exit_code == (0 if outcome.promoted else 1)
    assert math.isfinite(by[("test", "f1")].candidate)


def test_a_regression_on_one_slice_refuses_and_is_recorded(registry, dataset_dir):
    """Without --dry-run the same comparison decides: a zero tolerance with two different
    models refuses on whichever gated metric is worse, and the refusal is a tag."""
    import json

    import mlflow

    from spam_core.features import NoHistory
    from spam_trainer.promote import promote
    from spam_trainer.settings import get_trainer_settings

    outcome = promote(
        get_trainer_settings(), dataset_dir=dataset_dir, tolerance=0.0, reputation=NoHistory()
    )
    worse = [r for r in outcome.rows if r.within is False]
    assert outcome.promoted is (not worse)
    tags = mlflow.MlflowClient().get_model_version(MODEL, "2").tags
    if worse:
        assert _aliases()["production"] == "1"
        record = json.loads(tags["production_refused"])
        assert set(record["slices"]) == {"test", "cold"}  # no feedback log: no feedback slice
        assert any(f"{w.slice} {w.metric}" in r for w in worse for r in record["reasons"])
    else:
        assert _aliases()["production"] == "2"
        assert "production_promotion" in tags


def test_the_demos_lifecycle_dry_runs_move_nothing(registry, dataset_dir):
    """``spam_local.demo.lifecycle``: retrain, promote and rollback as dry runs, in child
    processes, on this registry (``MLFLOW_TRACKING_URI``) and home."""
    from spam_local.config import LocalSettings
    from spam_local.demo import lifecycle

    (registry / "datasets").mkdir(parents=True)
    (registry / "datasets" / "spamassassin").symlink_to(dataset_dir)
    lines: list[str] = []
    codes = lifecycle(LocalSettings(), lines.append)
    text = "\n".join(lines)
    assert _aliases() == {"production": "1", "staging": "2"}
    assert codes["retrain"] == 0, text
    assert "$ spam-platform promote --to production --dry-run" in text
    assert codes["promote"] in (0, 1) and "within tolerance" in text
    assert ("would move" if codes["promote"] == 0 else "would refuse") in text
    # v1 is the only production version so far: nothing earlier to roll back to
    assert codes["rollback"] == 2 and "no earlier 'production' version" in text


def test_the_candidate_is_not_scored_on_feedback_it_trained_on(registry, dataset_dir):
    """The feedback slice starts after the production model's training *and* after the newest
    feedback the candidate trained on (its run's ``feedback_trained_until``)."""
    import mlflow

    from spam_core.features import NoHistory
    from spam_core.ingest import read_records
    from spam_trainer.feedback_data import TRAINED_UNTIL_PARAM
    from spam_trainer.promote import promote
    from spam_trainer.settings import get_trainer_settings

    records, labels = read_records(dataset_dir, split="test")
    now = datetime.now(UTC).timestamp()  # after the production model's training
    rows = [
        _report(r, lab, "applied", now + (10 if i < 5 else 100))
        for i, (r, lab) in enumerate(zip(records[:11], labels[:11], strict=True))
    ]
    _write_feedback(registry / "feedback-logs", rows)
    settings = get_trainer_settings()

    def feedback_n() -> int:
        outcome = promote(settings, dataset_dir=dataset_dir, dry_run=True, reputation=NoHistory())
        return int(outcome.slices["feedback"]["candidate"]["n"])

    assert feedback_n() == 11
    client = mlflow.MlflowClient()
    run_id = client.get_model_version(MODEL, "2").run_id
    trained_until = datetime.fromtimestamp(now + 50, UTC).isoformat()
    client.log_param(run_id, TRAINED_UNTIL_PARAM, trained_until)
    assert feedback_n() == 6


def _write_shadow(root, rows) -> None:
    """Rows as the gateway's shadow scoring writes them (its schema, its partitions)."""
    from spam_core import shadow_log

    for partition, group in shadow_log.group_by_partition(rows).items():
        (root / partition).mkdir(parents=True, exist_ok=True)
        (root / partition / shadow_log.new_file_name()).write_bytes(shadow_log.to_parquet(group))


def test_shadow_rows_report_agreement_and_gate_on_the_labelled_ones(registry, dataset_dir):
    """The candidate (v2) scored live production e-mails in the shadow of v1: promote reports
    how many, how often both agreed, and each one's metrics on the rows users labelled (joined
    on email_key), checked against sklearn on the same scores; rows of other versions or from
    before the production model's training are left out."""
    from spam_core.bundle import ModelBundle, resolve_model_ref
    from spam_core.features import NoHistory
    from spam_core.feedback import email_key
    from spam_core.ingest import read_records
    from spam_trainer.promote import promote
    from spam_trainer.settings import get_trainer_settings

    records, labels = read_records(dataset_dir, split="test")
    records, labels = records[:60], labels[:60]
    scores, thresholds = {}, {}
    for version in ("1", "2"):
        bundle = ModelBundle.load(resolve_model_ref(f"models:/{MODEL}/{version}")[0])
        scores[version] = bundle.predict_records(records, NoHistory())
        thresholds[version] = bundle.threshold
    now = datetime.now(UTC).timestamp()

    def row(i: int, ts: float, shadow_version: str = "2") -> dict:
        p, s = float(scores["1"][i]), float(scores["2"][i])
        return {
            "timestamp": ts,
            "correlation_id": f"c{i}",
            "route": "predict",
            "email_id": records[i].email_id,
            "email_key": email_key(records[i]),
            "model_name": MODEL,
            "production_model_version": "1",
            "production_spam_probability": p,
            "production_prediction": "spam" if p >= thresholds["1"] else "ham",
            "production_threshold": thresholds["1"],
            "shadow_model_version": shadow_version,
            "shadow_spam_probability": s,
            "shadow_prediction": "spam" if s >= thresholds["2"] else "ham",
            "shadow_threshold": thresholds["2"],
            "shadow_latency_ms": 3.0,
        }

    old = (datetime.now(UTC) - timedelta(days=30)).timestamp()
    rows = [row(i, now + i) for i in range(50)]
    rows += [row(i, now, shadow_version="7") for i in range(50, 55)]  # another staging version
    rows += [row(i, old) for i in range(55, 60)]  # before the production model's training
    _write_shadow(registry / "shadow-logs", rows)
    # users labelled 30 of the 50 live e-mails (their true labels), one twice (latest counts)
    reports = [_report(records[i], labels[i], "applied", now + 100) for i in range(30)]
    flipped = "ham" if labels[0] == "spam" else "spam"
    reports.append(_report(records[0], flipped, "replaced", now + 200))
    _write_feedback(registry / "feedback-logs", reports)

    outcome = promote(get_trainer_settings(), dataset_dir=dataset_dir, dry_run=True,
                      reputation=NoHistory())  # fmt: skip
    shadow = outcome.shadow
    assert (shadow.rows, shadow.other_rows, shadow.labelled) == (50, 5, 30)
    production = scores["1"][:50] >= thresholds["1"]
    candidate = scores["2"][:50] >= thresholds["2"]
    assert shadow.agreement == pytest.approx(float(np.mean(production == candidate)))
    truth = np.array([lab == "spam" for lab in labels[:30]])
    truth[0] = flipped == "spam"
    for side, version in (("candidate", "2"), ("previous", "1")):
        predicted = scores[version][:30] >= thresholds[version]
        got = outcome.slices["shadow"][side]
        assert got["n"] == 30
        assert got["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
        ham = ~truth
        assert got["ham_fpr"] == pytest.approx((predicted & ham).sum() / ham.sum())
    by = {(r.slice, r.metric): r for r in outcome.rows}
    assert by[("shadow", "accuracy")].gated and by[("shadow", "ham_fpr")].gated  # 30 >= 20
    assert not by[("shadow", "roc_auc")].gated
    assert "agreement" in outcome.notes["shadow"]

    result = CliRunner().invoke(
        app, ["promote", "--dry-run", "--dataset", str(dataset_dir)], env={"COLUMNS": "220"}
    )
    assert "Traceback" not in result.output, result.output
    assert "shadow scoring on live production traffic" in result.output
    assert f"{shadow.agreement:.2%}" in result.output
    assert _aliases() == {"production": "1", "staging": "2"}
