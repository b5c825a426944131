"""Batch scoring jobs on a real local Ray instance, with a real model bundle."""

from __future__ import annotations

import os
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spam_batch.job import iter_predictions, run_job
from spam_core.bundle import ModelBundle
from spam_core.jobs import JobStatus, StatusStore, new_job_id, valid_job_id
from spam_core.message import parse_fields
from tests.utils.bundles import fixed_bundle
from tests.utils.emails import simple

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle_dir(dataset_dir, tmp_path_factory):
    return fixed_bundle(dataset_dir, tmp_path_factory.mktemp("bundle"), n_estimators=60)


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


def _job(tmp_path, input_uri, model):
    store = StatusStore(str(tmp_path / "status"))
    status = JobStatus(
        job_id=new_job_id(),
        state="queued",
        environment="production",
        model_ref=str(model),
        input_uri=str(input_uri),
        output_uri=str(tmp_path / "out"),
    )
    store.write(status)
    return run_job(status, store), store


def test_archive_job_scores_every_message(ray_local, bundle_dir, corpus_dir, tmp_path):
    result, store = _job(tmp_path, corpus_dir / "20030228_spam.tar.bz2", bundle_dir)
    assert result.state == "succeeded", result.errors
    assert result.counts.input == 384 and result.counts.errors == 0
    assert result.counts.spam > 350
    rows = list(iter_predictions(result.output_uri))
    assert len(rows) == 384
    assert rows[0]["source"].startswith("20030228_spam.tar.bz2:spam/")
    assert store.read(result.job_id).state == "succeeded"


def test_parquet_of_raw_and_field_emails_matches_in_process_scores(ray_local, bundle_dir, tmp_path):
    fields = {
        "subject": "WINNER!!! Claim your prize",
        "body": "Click http://203.0.113.9/ now",
        "sender": "x@yahoo.com",
        "date": None,
    }
    table = pa.table(
        {
            "email_id": ["raw-1", "fields-1", "broken"],
            "raw": [simple(subject="Lunch", body="see you at noon").decode(), None, None],
            "subject": [None, fields["subject"], None],
            "body": [None, fields["body"], None],
            "sender": [None, fields["sender"], None],
            "date": [None, None, None],
        }
    )
    # "broken" has neither raw nor any field: an empty message, scored as such (no crash)
    pq.write_table(table, tmp_path / "emails.parquet")
    result, _ = _job(tmp_path, tmp_path / "emails.parquet", bundle_dir)
    assert result.state == "succeeded", result.errors
    rows = {r["email_id"]: r for r in iter_predictions(result.output_uri)}
    assert set(rows) == {"raw-1", "fields-1", "broken"}
    bundle = ModelBundle.load(bundle_dir)
    expected = bundle.predict_records([parse_fields(email_id="fields-1", **fields)])[0]
    assert rows["fields-1"]["spam_probability"] == pytest.approx(float(expected), abs=1e-6)
    assert rows["raw-1"]["prediction"] in ("spam", "ham")


def test_ingested_dataset_parquet_is_accepted(ray_local, bundle_dir, dataset_dir, tmp_path):
    test_split = pq.read_table(dataset_dir / "emails.parquet").slice(0, 50)
    pq.write_table(
        test_split.rename_columns(
            ["email_id" if c == "id" else c for c in test_split.column_names]
        ),
        tmp_path / "dataset.parquet",
    )
    result, _ = _job(tmp_path, tmp_path / "dataset.parquet", bundle_dir)
    assert result.state == "succeeded", result.errors
    assert result.counts.scored == 50


def test_missing_input_and_model_fail_with_a_reason(ray_local, bundle_dir, tmp_path):
    result, store = _job(tmp_path, tmp_path / "nope.parquet", bundle_dir)
    assert result.state == "failed" and "input not found" in result.errors[-1]
    assert store.read(result.job_id).finished_at is not None
    result, _ = _job(tmp_path, tmp_path / "nope.parquet", tmp_path / "no-model")
    assert result.state == "failed" and "no such model directory" in result.errors[-1]


def test_job_ids_are_validated(tmp_path):
    assert valid_job_id(new_job_id())
    for bad in ("../etc/passwd", "A", "x" * 80, "job id"):
        assert not valid_job_id(bad)
    with pytest.raises(ValueError, match="invalid job id"):
        StatusStore(str(tmp_path)).read("../x")
