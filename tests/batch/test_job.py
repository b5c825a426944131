"""Batch scoring jobs on a real local Ray instance, with a real model bundle and the sender
reputation from the session's Feast repository (SQLite online store, the transformer's)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spam_batch.job import iter_predictions, run_job
from spam_core.bundle import ModelBundle
from spam_core.features.spec import NAMED_FEATURES, REPUTATION_NAMES
from spam_core.jobs import JobStatus, StatusStore, new_job_id, valid_job_id
from spam_core.message import parse_fields
from tests.utils.bundles import fixed_bundle
from tests.utils.emails import simple
from tests.utils.serving import DEFAULT_REPUTATION, UNKNOWN_SENDER

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle_dir(dataset_dir, train_reputation, tmp_path_factory):
    return fixed_bundle(
        dataset_dir, tmp_path_factory.mktemp("bundle"), train_reputation, n_estimators=60
    )


@pytest.fixture(scope="module")
def ray_local():
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=tempfile.mkdtemp(prefix="ray-", dir="/tmp"),
    )
    yield
    ray.shutdown()


def _job(tmp_path, input_uri, model, feast_repo, *, inference_log_url=None):
    store = StatusStore(str(tmp_path / "status"))
    status = JobStatus(
        job_id=new_job_id(),
        state="pending",
        environment="production",
        model_ref=str(model),
        input_path=str(input_uri),
        output_path=str(tmp_path / "out"),
    )
    store.write(status)
    return run_job(status, store, feast_repo=feast_repo, inference_log_url=inference_log_url), store


def _fields_table(emails: list[dict]) -> pa.Table:
    columns = ("email_id", "subject", "body", "sender", "date")
    return pa.table({c: [e.get(c) for e in emails] for c in columns})


def test_archive_job_scores_every_message(ray_local, bundle_dir, feast_repo, corpus_dir, tmp_path):
    result, store = _job(tmp_path, corpus_dir / "20030228_spam.tar.bz2", bundle_dir, feast_repo)
    assert result.state == "succeeded", result.errors
    assert result.counts.input == 384 and result.counts.errors == 0
    assert result.counts.spam > 350
    rows = list(iter_predictions(result.output_path))
    assert len(rows) == 384
    assert rows[0]["source"].startswith("20030228_spam.tar.bz2:spam/")
    assert store.read(result.job_id).state == "succeeded"


def test_parquet_of_raw_and_field_emails_matches_in_process_scores(
    ray_local, bundle_dir, feast_repo, known_sender, tmp_path
):
    from spam_core.reputation.online import OnlineReputation

    fields = {
        "subject": "WINNER!!! Claim your prize",
        "body": "Click http://203.0.113.9/ now",
        "sender": "x@yahoo.com",
        "date": None,
    }
    known = known_sender.email("known-1")
    table = pa.table(
        {
            "email_id": ["raw-1", "fields-1", "broken", "known-1"],
            "raw": [simple(subject="Lunch", body="see you at noon").decode(), None, None, None],
            "subject": [None, fields["subject"], None, known["subject"]],
            "body": [None, fields["body"], None, known["body"]],
            "sender": [None, fields["sender"], None, known["sender"]],
            "date": [None, None, None, known["date"]],
        }
    )
    # "broken" has neither raw nor any field: an empty message, scored as such (no crash)
    pq.write_table(table, tmp_path / "emails.parquet")
    result, _ = _job(tmp_path, tmp_path / "emails.parquet", bundle_dir, feast_repo)
    assert result.state == "succeeded", result.errors
    rows = {r["email_id"]: r for r in iter_predictions(result.output_path)}
    assert set(rows) == {"raw-1", "fields-1", "broken", "known-1"}
    bundle = ModelBundle.load(bundle_dir)
    records = [
        parse_fields(email_id="fields-1", **fields),
        parse_fields(**{k: known[k] for k in ("email_id", "subject", "body", "sender", "date")}),
    ]
    # the reference reads the same online store as the job
    expected = bundle.predict_records(records, OnlineReputation.from_repo(feast_repo))
    assert rows["fields-1"]["spam_probability"] == pytest.approx(float(expected[0]), abs=1e-6)
    assert rows["known-1"]["spam_probability"] == pytest.approx(float(expected[1]), abs=1e-6)
    assert rows["raw-1"]["prediction"] in ("spam", "ham")


def test_ingested_dataset_parquet_is_accepted(
    ray_local, bundle_dir, feast_repo, dataset_dir, tmp_path
):
    test_split = pq.read_table(dataset_dir / "emails.parquet").slice(0, 50)
    pq.write_table(
        test_split.rename_columns(
            ["email_id" if c == "id" else c for c in test_split.column_names]
        ),
        tmp_path / "dataset.parquet",
    )
    result, _ = _job(tmp_path, tmp_path / "dataset.parquet", bundle_dir, feast_repo)
    assert result.state == "succeeded", result.errors
    assert result.counts.scored == 50


def test_missing_input_model_and_feast_repo_fail_with_a_reason(
    ray_local, bundle_dir, feast_repo, tmp_path
):
    result, store = _job(tmp_path, tmp_path / "nope.parquet", bundle_dir, feast_repo)
    assert result.state == "failed" and "input not found" in result.errors[-1]
    assert store.read(result.job_id).finished_at is not None
    result, _ = _job(tmp_path, tmp_path / "nope.parquet", tmp_path / "no-model", feast_repo)
    assert result.state == "failed" and "no such model directory" in result.errors[-1]
    result, _ = _job(tmp_path, tmp_path / "nope.parquet", bundle_dir, tmp_path / "no-repo")
    assert result.state == "failed" and "feature_store.yaml" in result.errors[-1]


def test_reputation_columns_equal_the_transformers(
    ray_local, bundle_dir, feast_repo, transformer, known_sender, tmp_path
):
    """The job reads the same online store the same way: a known sender's reputation columns
    (in the job's inference log) equal those the transformer returns for the same e-mail."""
    import httpx
    import pyarrow.dataset as ds

    emails = [known_sender.email("known-1"), UNKNOWN_SENDER]
    pq.write_table(_fields_table(emails), tmp_path / "emails.parquet")
    log_dir = tmp_path / "inference-log"
    result, _ = _job(
        tmp_path, tmp_path / "emails.parquet", bundle_dir, feast_repo, inference_log_url=log_dir
    )
    assert result.state == "succeeded", result.errors
    logged = {
        r["email_id"]: r
        for r in ds.dataset(log_dir, format="parquet", partitioning="hive").to_table().to_pylist()
    }
    response = httpx.post(
        f"{transformer.url}/v1/predict",
        json={"environment": "production", "emails": emails},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    served = {p["email_id"]: p["features"] for p in response.json()["predictions"]}
    for email_id in ("known-1", UNKNOWN_SENDER["email_id"]):
        assert {n: logged[email_id][n] for n in NAMED_FEATURES} == served[email_id]
    known = {n: logged["known-1"][n] for n in REPUTATION_NAMES}
    assert known == pytest.approx(known_sender.expected, rel=1e-6)
    unknown = {n: logged[UNKNOWN_SENDER["email_id"]][n] for n in REPUTATION_NAMES}
    assert unknown == DEFAULT_REPUTATION


def test_the_cli_needs_a_feast_repo(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SPAM_FEAST_REPO"}
    exe = Path(sys.executable).parent / "spam-batch"
    args = [
        str(exe),
        "run",
        "--input",
        str(tmp_path / "in.parquet"),
        "--output",
        str(tmp_path / "out"),
        "--model",
        str(tmp_path / "model"),
        "--status-dir",
        str(tmp_path / "status"),
    ]
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--feast-repo" in result.stderr and "SPAM_FEAST_REPO" in result.stderr
    assert not (tmp_path / "status").exists()  # refused before any job was recorded


def test_job_ids_are_validated(tmp_path):
    assert valid_job_id(new_job_id())
    for bad in ("../etc/passwd", "A", "x" * 80, "job id"):
        assert not valid_job_id(bad)
    with pytest.raises(ValueError, match="invalid job id"):
        StatusStore(str(tmp_path)).read("../x")


def test_a_job_fails_with_the_reason_when_the_reputation_store_is_down(
    ray_local, bundle_dir, dataset_dir, corpus_dir, redis_server, tmp_path
):
    """Batch scoring never quietly uses default reputation for a whole batch: with the
    store's Redis stopped the job fails and says why; with it back the same job succeeds."""
    from tests.utils.serving import redis_feast_repo

    repo = redis_feast_repo(dataset_dir, tmp_path / "feast", redis_server.connection_string)
    archive = corpus_dir / "20030228_spam.tar.bz2"
    redis_server.stop()
    failed, _ = _job(tmp_path / "down", archive, bundle_dir, repo)
    assert failed.state == "failed"
    assert any("reputation store" in e for e in failed.errors), failed.errors
    redis_server.start()
    ok, _ = _job(tmp_path / "up", archive, bundle_dir, repo)
    assert ok.state == "succeeded", ok.errors
