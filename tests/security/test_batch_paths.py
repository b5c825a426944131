"""Rows 4-5 of issue 11: batch jobs read and write only under the configured locations (the
gateway refuses with 422 and the reason, before any job exists; the job refuses again), and
every pattern matches the whole value (no trailing newline slips through)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from spam_core.jobs import valid_job_id
from tests.utils.gateway import OPERATOR

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def confined(make_gateway, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("confined")
    gw = make_gateway(
        TRANSFORMER_URL="http://127.0.0.1:9",
        MODEL_VERSION_PRODUCTION="1",
        MODEL_VERSION_STAGING="1",
        BATCH_BACKEND="local",
        BATCH_STATUS_URL=str(tmp / "status"),
        BATCH_OUTPUT_URL=str(tmp / "out"),
        BATCH_INPUT_ROOTS=[str(tmp / "in"), "abfs://datasets/batch/input"],
        BATCH_LOG_DIR=str(tmp / "logs"),
    )
    gw.tmp = tmp
    return gw


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"input_path": "/etc/passwd"}, "outside the allowed locations"),
        ({"input_path": "file:///etc/shadow"}, "scheme 'file' is not allowed"),
        ({"input_path": "http://127.0.0.1:9/x"}, "scheme 'http' is not allowed"),
        ({"input_path": "abfs://elsewhere/x.parquet"}, "outside the allowed locations"),
        (
            {"input_path": "abfs://datasets/batch/input/x.parquet", "output_path": "/tmp/x"},
            "output_path '/tmp/x' is outside",
        ),
        # row 5: a trailing newline (re.match with $ accepted it)
        # (refused by the documented pattern of the body schema, then by the location rule)
        ({"input_path": "abfs://datasets/batch/input/x.parquet\n"}, "input_path"),
    ],
    ids=["passwd", "file-scheme", "http-url", "other-container", "output-outside", "newline"],
)
def test_row4_locations_outside_the_roots_are_422_with_the_reason(confined, body, reason):
    r = httpx.post(f"{confined.url}/predict/batch", json=body, headers=OPERATOR, timeout=30)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_input" and reason in r.text
    assert not (confined.tmp / "status").exists() or not list((confined.tmp / "status").iterdir())


def test_row5_job_ids_match_whole() -> None:
    assert valid_job_id("batch-20260101-000000-abcdef12")
    assert not valid_job_id("batch-20260101-000000-abcdef12\n")


def test_row4_the_job_itself_refuses_outside_its_roots(tmp_path: Path) -> None:
    """Defence in depth: ``spam-batch run`` checks the same rule before reading anything."""
    exe = Path(sys.executable).parent / "spam-batch"
    env = {
        **os.environ,
        "SPAM_BATCH_INPUT_ROOTS": f"{tmp_path / 'in'} abfs://datasets/batch/input",
        "SPAM_BATCH_OUTPUT_ROOTS": str(tmp_path / "out"),
        "SPAM_FEAST_REPO": str(tmp_path / "feast"),
    }
    for input_path, output_path, reason in (
        ("/etc/passwd", str(tmp_path / "out" / "p.parquet"), "input_path '/etc/passwd'"),
        (str(tmp_path / "in" / "x.parquet"), "/tmp/elsewhere.parquet", "output_path"),
    ):
        done = subprocess.run(
            [
                exe,
                "run",
                "--input",
                input_path,
                "--output",
                output_path,
                "--model",
                "m",
                "--status-dir",
                str(tmp_path / "status"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert reason in done.stderr and "outside the allowed locations" in done.stderr
    assert not (tmp_path / "status").exists()
