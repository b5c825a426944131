"""Async batch jobs through the gateway: a real `spam-batch` job on Ray, status, auth, errors;
the RayJob backend's manifest from the chart's own template."""

from __future__ import annotations

import time

import httpx
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml

from spam_core.features.spec import REPUTATION_NAMES
from spam_core.jobs import JobStatus
from tests.utils.gateway import OPERATOR, VIEWER

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def batch_gateway(
    make_gateway, transformer, model_bundles, feast_repo, corpus_dir, tmp_path_factory
):
    tmp = tmp_path_factory.mktemp("batch")
    # the local backend's `spam-batch` subprocesses inherit the gateway's environment: the
    # Feast repository reaches them as SPAM_FEAST_REPO (as on the local platform)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SPAM_FEAST_REPO", str(feast_repo))
        yield _batch_gateway(make_gateway, transformer, model_bundles, tmp, corpus_dir)


def _batch_gateway(make_gateway, transformer, model_bundles, tmp, corpus_dir):
    return make_gateway(
        BATCH_INPUT_ROOTS=[str(corpus_dir), str(tmp / "in")],
        TRANSFORMER_URL=transformer.url,
        MODEL_VERSION_STAGING="2",
        MODEL_VERSION_PRODUCTION="1",
        BATCH_BACKEND="local",
        BATCH_STATUS_URL=str(tmp / "status"),
        BATCH_OUTPUT_URL=str(tmp / "out"),
        BATCH_LOG_DIR=str(tmp / "logs"),
        BATCH_CPUS=2,
        BATCH_MODEL_REF_STAGING=str(model_bundles["staging"]),
        BATCH_MODEL_REF_PRODUCTION=str(model_bundles["production"]),
        INFERENCE_LOG_FLUSH_INTERVAL_S=0.5,
    )


def _url(gw, path: str) -> str:
    return f"http://127.0.0.1:{gw.port}{path}"


def test_a_batch_job_runs_to_completion_and_reaches_the_inference_log(batch_gateway, corpus_dir):
    archive = corpus_dir / "20030228_hard_ham.tar.bz2"
    r = httpx.post(
        _url(batch_gateway, "/predict/batch"),
        json={"input_path": str(archive)},
        headers={**OPERATOR, "X-Environment": "production"},
        timeout=30,
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "pending" and job["environment"] == "production"
    deadline = time.monotonic() + 240
    while job["status"] in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(1)
        job = httpx.get(
            _url(batch_gateway, f"/predict/batch/{job['job_id']}"), headers=OPERATOR, timeout=10
        ).json()
    assert job["status"] == "succeeded", job
    assert job["counts"]["input"] == 210 and job["counts"]["errors"] == 0
    assert job["counts"]["ham"] >= 150  # hard ham: newsletters, some look like spam
    table = pq.read_table(job["output_path"])
    assert table.num_rows == 210
    assert set(table.column("model_version").to_pylist()) == {"1"}
    log = ds.dataset(
        batch_gateway.settings.INFERENCE_LOG_URL, format="parquet", partitioning="hive"
    ).to_table()
    batch_rows = [r for r in log.to_pylist() if r["correlation_id"] == job["job_id"]]
    assert len(batch_rows) == 210
    assert {r["route"] for r in batch_rows} == {"/predict/batch"}
    assert all(r["environment"] == "production" for r in batch_rows)
    # the reputation block reached the log: known senders have history, the rest defaults
    assert all(r[name] is not None for r in batch_rows for name in REPUTATION_NAMES)
    counts = [r["sender_message_count_log"] for r in batch_rows]
    assert any(c > 0 for c in counts) and any(c == 0 for c in counts)


def test_batch_routes_need_the_operator_role_and_known_jobs(batch_gateway):
    r = httpx.post(
        _url(batch_gateway, "/predict/batch"), json={"input_path": "x.parquet"}, headers=VIEWER
    )
    assert r.status_code == 403
    r = httpx.get(_url(batch_gateway, "/predict/batch/batch-nope"), headers=OPERATOR)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = httpx.get(_url(batch_gateway, "/predict/batch/../../etc"), headers=OPERATOR)
    assert r.status_code == 404


def test_unsafe_paths_are_refused_and_a_bad_input_fails_the_job_not_the_gateway(batch_gateway):
    r = httpx.post(
        _url(batch_gateway, "/predict/batch"),
        json={"input_path": "a b'; rm -rf /"},
        headers=OPERATOR,
    )
    assert r.status_code == 422 and "input_path" in r.text
    r = httpx.post(
        _url(batch_gateway, "/predict/batch"),
        json={"input_path": batch_gateway.settings.BATCH_INPUT_ROOTS[-1] + "/missing.parquet"},
        headers=OPERATOR,
    )
    assert r.status_code == 202
    job_id = r.json()["job_id"]
    deadline = time.monotonic() + 180
    job = r.json()
    while job["status"] in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(1)
        job = httpx.get(_url(batch_gateway, f"/predict/batch/{job_id}"), headers=OPERATOR).json()
    assert job["status"] == "failed" and "input not found" in job["errors"][-1]


def test_disabled_backend_answers_503(make_gateway, transformer):
    gw = make_gateway(TRANSFORMER_URL=transformer.url)  # BATCH_BACKEND defaults to none
    r = httpx.post(_url(gw, "/predict/batch"), json={"input_path": "x.parquet"}, headers=OPERATOR)
    assert r.status_code == 503 and r.json()["error"]["code"] == "batch_unavailable"


def test_rayjob_manifest_comes_from_the_chart_template(tmp_path):
    from spam_gateway.app.batch_jobs import BatchJobs
    from tests.charts import chartlib
    from tests.utils.gateway import gateway_settings

    docs = chartlib.render_docs(chartlib.minimal_values())
    configmap = next(
        d.body
        for d in docs
        if d.body["kind"] == "ConfigMap"
        and any(k.endswith(".yaml") and "RayJob" in v for k, v in d.body.get("data", {}).items())
    )
    text = next(v for k, v in configmap["data"].items() if "RayJob" in v)
    template = tmp_path / "rayjob.yaml"
    template.write_text(text)
    settings = gateway_settings(
        tmp_path,
        BATCH_BACKEND="rayjob",
        BATCH_RAYJOB_TEMPLATE=template,
        BATCH_STATUS_URL="abfs://datasets/batch/status",
        MODEL_VERSION_PRODUCTION="7",
    )
    status = JobStatus(
        job_id="batch-20261126-000000-abcdef12",
        state="pending",
        environment="production",
        model_ref="models:/spam-detector/7",
        input_path="abfs://datasets/in/mail.parquet",
        output_path="abfs://datasets/out/p.parquet",
    )
    manifest = BatchJobs(settings).render_rayjob(status)
    assert (manifest["apiVersion"], manifest["kind"]) == ("ray.io/v1", "RayJob")
    assert manifest["metadata"]["name"] == status.job_id
    entry = manifest["spec"]["entrypoint"]
    assert "--input abfs://datasets/in/mail.parquet" in entry
    assert "--model models:/spam-detector/7" in entry
    assert "--status-dir abfs://datasets/batch/status" in entry
    assert "{" not in yaml.safe_dump(manifest)  # every placeholder filled
