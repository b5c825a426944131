"""Shared fixtures: the workspace corpus, an ingested dataset and fitted artifacts (session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spam_core.raylocal import workers_without_uv_run
from tests.utils.paths import SHARED_CORPUS

# before any test imports Ray: Ray Client reads the `uv run` hook's switch when Ray is imported
# (spam_core.raylocal; `make test` runs pytest under `uv run`)
workers_without_uv_run()

pytest_plugins = [
    "tests.utils.serving_fixtures",
    "tests.utils.toy_models",
    "tests.utils.gateway_fixtures",
    "tests.utils.drift_fixtures",
]


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The workspace copy of the SpamAssassin corpus (80% subset); read-only."""
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"corpus not found at {SHARED_CORPUS} (set SPAM_TEST_CORPUS)")
    return SHARED_CORPUS


@pytest.fixture(scope="session")
def corpus_raw(corpus_dir: Path) -> list[bytes]:
    """Every message file of the corpus archives (``cmds`` files left out), raw bytes."""
    import tarfile

    out = []
    for archive in sorted(corpus_dir.glob("*.tar.bz2")):
        with tarfile.open(archive) as tar:
            for member in tar:
                if member.isfile() and not member.name.endswith("cmds"):
                    out.append(tar.extractfile(member).read())
    return out


@pytest.fixture(scope="session")
def dataset_dir(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole shared corpus, ingested once per session."""
    from spam_core.ingest import ingest

    out = tmp_path_factory.mktemp("dataset")
    ingest(corpus_dir, out)
    return out


@pytest.fixture(scope="session")
def reputation_work(dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The training's reputation stage, run once: ``feast/`` (a SQLite Feast repository with the
    train split's history applied and materialized) and ``work/reputation/stats.parquet``
    (point-in-time statistics of every e-mail)."""
    from spam_trainer.reputation import reputation_stage

    root = tmp_path_factory.mktemp("reputation")
    reputation_stage(dataset_dir, root / "work", root / "feast")
    return root


@pytest.fixture(scope="session")
def feast_repo(reputation_work: Path) -> Path:
    """Feast repository (feature_store.yaml, SQLite online store) holding the history."""
    return reputation_work / "feast"


@pytest.fixture(scope="session")
def train_reputation(reputation_work: Path):
    """Point-in-time reputation stats of every dataset e-mail (``StatsByEmailId``)."""
    from spam_trainer.reputation import load_reputation

    return load_reputation(reputation_work / "work")


@pytest.fixture(scope="session")
def fitted(dataset_dir: Path, train_reputation):
    from spam_trainer.features import fit_features

    return fit_features(dataset_dir, train_reputation)


@pytest.fixture
def redis_server(tmp_path: Path):
    """A real redis-server on a free port (stopped after the test)."""
    from tests.utils.services import RedisServer

    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def extractor(fitted):
    from spam_core.features import FeatureExtractor

    return FeatureExtractor(fitted)


@pytest.fixture(scope="session")
def corpus_records(dataset_dir: Path):
    from spam_core.ingest import read_records

    return read_records(dataset_dir)
