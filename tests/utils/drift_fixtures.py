"""Drift fixtures (a pytest plugin, registered in ``tests/conftest.py``): synthetic inference
logs in the gateway's layout and a baseline, the served test bundles' baselines, corpus
streams; plus the helpers the drift tests import (``T0``, ``make_logs``, ``run_cli``)."""

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


# --------------------------------------------------------------------------- real gateway logs
# The baselines below belong to the bundles the shared serving stack serves.


@pytest.fixture(scope="session")
def bundle_baselines(
    model_bundles: dict[str, Path], dataset_dir: Path, train_reputation, reputation_work: Path
) -> dict[str, Path]:
    """``{model version: drift_baseline.json}`` of the served test bundles, built as training
    builds it (train-split content features; the validation e-mails' reputation as serving
    sees it, end-of-history totals; scores of held-out e-mails: the test split)."""
    from spam_core import artifacts
    from spam_core.bundle import ModelBundle
    from spam_core.drift import build_baseline
    from spam_core.features.spec import REPUTATION_NAMES
    from spam_trainer.reputation import serving_reputation
    from spam_trainer.train import build_matrices

    out = {}
    for bundle_dir in model_bundles.values():
        bundle = ModelBundle.load(bundle_dir)
        features = artifacts.load(bundle_dir / "features.json")
        data = build_matrices(dataset_dir, features, train_reputation)
        serving = serving_reputation(reputation_work / "work", data.validation.ids)
        baseline = build_baseline(
            data.train.x,
            features.feature_names,
            labels=data.train.y,
            scores=bundle.predict_matrix(data.test.x),
            score_split="test",
            threshold=bundle.threshold,
            feature_set=bundle.meta.feature_set,
            features_fingerprint=features.fingerprint,
            created_at=datetime.now(UTC),
            columns=dict(zip(REPUTATION_NAMES, serving.T, strict=True)),
        )
        out[bundle.version] = write_baseline(
            bundle_dir.parent / f"baseline-v{bundle.version}.json", baseline
        )
    return out


@pytest.fixture(scope="session")
def corpus_by_label(corpus_dir: Path) -> dict[str, list[str]]:
    """Corpus messages as text: ``spam`` (every spam message) and ``unseen`` (every message of
    the test split, which no test bundle was trained on: the traffic a model meets; once per
    content, as the dataset holds them: two archives of the corpus share their messages)."""
    import hashlib
    import tarfile

    from spam_core.ingest.dataset import split_for

    out: dict[str, list[str]] = {"spam": [], "unseen": []}
    seen: set[str] = set()
    for archive in sorted(corpus_dir.glob("*.tar.bz2")):
        with tarfile.open(archive) as tar:
            for member in tar:
                if member.isfile() and not member.name.endswith("cmds"):
                    data = tar.extractfile(member).read()
                    text = data.decode("latin-1")
                    if "spam" in archive.name:
                        out["spam"].append(text)
                    digest = hashlib.sha256(data).hexdigest()
                    if split_for(digest) == "test" and digest not in seen:
                        seen.add(digest)
                        out["unseen"].append(text)
    return out


def drift_processes(home: Path) -> list[int]:
    """Pids of ``spam-drift`` processes started for the platform at ``home``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"spam-drift" in cmd and str(home).encode() in cmd:
                found.append(int(proc.name))
    return found
