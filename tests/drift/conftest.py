"""Drift fixtures: synthetic inference logs in the gateway's layout and a baseline."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.utils.inference_logs import log_table, make_baseline, write_baseline, write_log

T0 = datetime(2026, 12, 5, 10, tzinfo=UTC)
"""Synthetic logs: 10:00-11:00 normal traffic, 11:00-12:00 shifted (production, version 1)."""


@pytest.fixture(scope="session")
def baseline_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_baseline(
        tmp_path_factory.mktemp("baseline") / "drift_baseline.json", make_baseline()
    )


def make_logs(root: Path) -> Path:
    rng = np.random.default_rng(3)
    hour = timedelta(hours=1)
    write_log(root, log_table(3000, T0, hour, rng), "production")
    write_log(root, log_table(3000, T0 + hour, hour, rng, shift=0.5), "production")
    write_log(root, log_table(200, T0, hour, rng, model_version="9"), "staging")
    return root


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return make_logs(tmp_path / "logs")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, "SPAM_LOG_FORMAT": "json", **(env or {})}
    return subprocess.run(
        ["spam-drift", *args], capture_output=True, text=True, env=full_env, timeout=120
    )
