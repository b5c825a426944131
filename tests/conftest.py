"""Shared fixtures: the workspace corpus, an ingested dataset and fitted artifacts (session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.serving_fixtures"]

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPUS = Path(
    os.environ.get("SPAM_TEST_CORPUS", REPO.parent / "shared" / "data" / "spamassassin")
)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The workspace copy of the SpamAssassin corpus (80% subset); read-only."""
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"corpus not found at {SHARED_CORPUS} (set SPAM_TEST_CORPUS)")
    return SHARED_CORPUS


@pytest.fixture(scope="session")
def dataset_dir(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole shared corpus, ingested once per session."""
    from spam_core.ingest import ingest

    out = tmp_path_factory.mktemp("dataset")
    ingest(corpus_dir, out)
    return out


@pytest.fixture(scope="session")
def fitted(dataset_dir: Path):
    from spam_trainer.features import fit_features

    return fit_features(dataset_dir)


@pytest.fixture(scope="session")
def extractor(fitted):
    from spam_core.features import FeatureExtractor

    return FeatureExtractor(fitted)


@pytest.fixture(scope="session")
def corpus_records(dataset_dir: Path):
    from spam_core.ingest import read_records

    return read_records(dataset_dir)
