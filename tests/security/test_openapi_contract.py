"""Row 8 of issue 11: the OpenAPI document is honest. schemathesis runs every check against
the real ``spam-gateway`` process (in front of the real transformer and Triton) and reports no
failure: the documented success bodies, every error status in the gateway's envelope, the
either/or e-mail rule. ``SPAM_SCHEMATHESIS_EXAMPLES`` (default 25 per operation) runs more."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.gateway import API_KEYS_JSON, OPERATOR, GatewayProcess

pytestmark = pytest.mark.timeout(900)

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def real_gateway(transformer, feast_repo, tmp_path_factory) -> Iterator[GatewayProcess]:
    from tests.utils.serving import sqlite_feast_copy

    tmp: Path = tmp_path_factory.mktemp("openapi")
    gateway = GatewayProcess(
        {
            "SPAM_GATEWAY_TRANSFORMER_URL": transformer.url,
            "SPAM_GATEWAY_API_KEYS": API_KEYS_JSON,
            "SPAM_GATEWAY_INFERENCE_LOG_URL": str(tmp / "logs"),
            "SPAM_GATEWAY_INFERENCE_LOG_SPOOL_DIR": str(tmp / "spool"),
            "SPAM_GATEWAY_MODEL_VERSION_STAGING": "2",
            "SPAM_GATEWAY_MODEL_VERSION_PRODUCTION": "1",
            "SPAM_GATEWAY_BATCH_BACKEND": "local",
            "SPAM_GATEWAY_BATCH_STATUS_URL": str(tmp / "status"),
            "SPAM_GATEWAY_BATCH_OUTPUT_URL": str(tmp / "out"),
            "SPAM_GATEWAY_BATCH_INPUT_ROOTS": f'["{tmp / "in"}"]',
            # schemathesis sends many wrong keys on purpose: no throttling here (tested apart)
            "SPAM_GATEWAY_AUTH_FAILURES_PER_CLIENT": "off",
            # feedback on, into a private copy of the store (reports move no shared totals)
            "SPAM_GATEWAY_FEEDBACK_FEAST_REPO": str(sqlite_feast_copy(feast_repo, tmp / "feast")),
            "SPAM_GATEWAY_FEEDBACK_LOG_URL": str(tmp / "feedback-logs"),
            "SPAM_GATEWAY_FEEDBACK_LOG_SPOOL_DIR": str(tmp / "feedback-spool"),
            "SPAM_GATEWAY_FEEDBACK_QUOTA": "",
        },
        tmp / "gateway.log",
    ).start()
    # the feedback store opens off the event loop after start-up: wait until it has
    from tests.utils.gateway import wait_until

    wait_until(
        lambda: "feedback.ready" in gateway.log() or "feedback.store_unavailable" in gateway.log(),
        60,
        message="the gateway's feedback store did not open",
    )
    assert "feedback.ready" in gateway.log(), gateway.log()
    yield gateway
    gateway.stop()


def test_openapi_declares_bodies_errors_and_the_email_rule(real_gateway) -> None:
    doc = httpx.get(f"{real_gateway.url}/openapi.json", timeout=10).json()
    predict = doc["paths"]["/predict"]["post"]["responses"]
    assert predict["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PredictionOut"
    }
    for status in ("401", "403", "408", "413", "422", "429", "502", "503", "504"):
        assert predict[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorOut"
        }, status
    batch = doc["paths"]["/predict/batch"]["post"]["responses"]
    assert batch["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    email = doc["components"]["schemas"]["EmailIn"]
    assert [b["title"] for b in email["oneOf"]] == ["raw", "fields"]
    report = doc["components"]["schemas"]["FeedbackIn"]
    assert [b["title"] for b in report["oneOf"]] == ["reference", "raw", "fields"]


def _schemathesis(url: str, cwd: Path, *selection: str) -> subprocess.CompletedProcess:
    examples = os.environ.get("SPAM_SCHEMATHESIS_EXAMPLES", "25")
    exe = Path(sys.executable).parent / "schemathesis"
    return subprocess.run(
        [
            str(exe),
            "run",
            f"{url}/openapi.json",
            "-H",
            f"X-API-Key: {OPERATOR['X-API-Key']}",
            "--checks",
            "all",
            *selection,
            "-n",
            examples,
            "--no-color",
            "--seed",
            "11",
        ],
        capture_output=True,
        text=True,
        timeout=800,
        cwd=cwd,  # its .schemathesis/ cache stays out of the checkout
    )


def test_schemathesis_finds_no_failure(real_gateway, tmp_path: Path) -> None:
    done = _schemathesis(real_gateway.url, tmp_path, "--exclude-name", "POST /predict/batch")
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    # a schema-valid location outside the configured roots is refused (422 with the reason):
    # the roots are settings, not part of the static schema, so that one check is left out
    done = _schemathesis(
        real_gateway.url,
        tmp_path,
        "--include-name",
        "POST /predict/batch",
        "--exclude-checks",
        "positive_data_acceptance",
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
