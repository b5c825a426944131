"""The drift job on inference logs written by the real gateway (gateway -> transformer ->
Triton, nothing mocked), from a local directory and from Azurite (abfs://).

Traffic: production gets a random sample of the corpus's test split (e-mails the models never
saw, from the training distribution: no drift expected); staging gets only spam (a shifted
stream: drift expected).
"""

from __future__ import annotations

import json
import random

import httpx
import pytest

from spam_drift.job import DriftConfig, run_drift
from spam_drift.window import Window
from tests.utils.gateway import OPERATOR, VIEWER

pytestmark = pytest.mark.timeout(600)

NORMAL_ROWS = 600
SPAM_ROWS = 400


def send_traffic(gateway, corpus_by_label) -> None:
    rng = random.Random(11)
    streams = {
        "production": rng.sample(corpus_by_label["unseen"], NORMAL_ROWS),
        "staging": rng.sample(corpus_by_label["spam"], SPAM_ROWS),
    }
    with httpx.Client(base_url=gateway.url, headers=VIEWER, timeout=120) as client:
        for environment, messages in streams.items():
            for i in range(0, len(messages), 100):
                emails = [
                    {"email_id": f"{environment}-{i + k}", "raw": raw}
                    for k, raw in enumerate(messages[i : i + 100])
                ]
                r = client.post(
                    "/predict/batch-sync",
                    json={"emails": emails},
                    headers={"X-Environment": environment},
                )
                assert r.status_code == 200, r.text
        r = client.post("/admin/inference-log/flush", headers=OPERATOR)
        assert r.status_code == 200, r.text


def drift_config(inference_log: str, reports: str, environment: str, baselines, **kw):
    return DriftConfig(
        inference_log=inference_log,
        reports=reports,
        environment=environment,
        window=Window.resolve(since="1h"),
        baselines={v: str(p) for v, p in baselines.items()},
        model_ref_template="",
        thresholds={"min_rows": 300},
        html_sample_rows=500,
        **kw,
    )


def check_verdicts(production, staging) -> None:
    assert production.status == "ok", production.reasons
    assert production.rows == NORMAL_ROWS
    assert [v.model_version for v in production.versions] == ["1"]
    assert production.drift_detected is False, production.reasons

    assert staging.status == "ok" and staging.rows == SPAM_ROWS
    assert [v.model_version for v in staging.versions] == ["2"]
    assert staging.drift_detected is True
    version = staging.versions[0]
    assert version.spam_rate.current > 0.8 and version.spam_rate.drifted
    assert version.score.drifted


def test_drift_on_the_gateways_local_log(
    make_gateway, transformer, bundle_baselines, corpus_by_label, tmp_path
):
    gateway = make_gateway(TRANSFORMER_URL=transformer.url, INFERENCE_LOG_FLUSH_INTERVAL_S=0.5)
    send_traffic(gateway, corpus_by_label)
    log_url = str(gateway.settings.INFERENCE_LOG_URL)
    out = tmp_path / "reports"
    production = run_drift(drift_config(log_url, str(out), "production", bundle_baselines))
    staging = run_drift(drift_config(log_url, str(out), "staging", bundle_baselines))
    for report in (production, staging):
        print(report.environment, report.reasons)  # shown with -s: what the verdicts rest on
    check_verdicts(production, staging)
    saved = json.loads((out / "staging").glob("drift-staging-*.json").__next__().read_text())
    assert saved["drift_detected"] is True
    assert list((out / "staging").glob("drift-staging-*-v2.html"))


def test_drift_on_the_gateways_log_in_azurite(
    azurite, make_gateway, transformer, bundle_baselines, corpus_by_label
):
    azurite.container("logs").create_container()
    azurite.container("reports").create_container()
    gateway = make_gateway(
        TRANSFORMER_URL=transformer.url,
        INFERENCE_LOG_URL="abfs://logs/inference-logs",
        INFERENCE_LOG_CONNECTION_STRING=azurite.connection_string,
        INFERENCE_LOG_FLUSH_INTERVAL_S=0.5,
    )
    send_traffic(gateway, corpus_by_label)
    common = {"connection_string": azurite.connection_string}
    production = run_drift(
        drift_config(
            "abfs://logs/inference-logs",
            "abfs://reports/drift",
            "production",
            bundle_baselines,
            **common,
        )
    )
    staging = run_drift(
        drift_config(
            "abfs://logs/inference-logs",
            "abfs://reports/drift",
            "staging",
            bundle_baselines,
            **common,
        )
    )
    check_verdicts(production, staging)
    assert staging.report_url.startswith("abfs://reports/drift/staging/drift-staging-")
    names = [b.name for b in azurite.container("reports").list_blobs()]
    assert f"drift/staging/{staging.report_url.rsplit('/', 1)[1]}" in names
    assert any(n.endswith("-v2.html") for n in names)
    blob = azurite.container("reports").download_blob(
        staging.report_url.removeprefix("abfs://reports/")
    )
    assert json.loads(blob.readall())["drift_detected"] is True
