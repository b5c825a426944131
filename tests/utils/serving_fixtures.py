"""Serving fixtures (a pytest plugin loaded by tests/conftest.py): two real model bundles, a
real Triton serving both, and transformers in front. Session-scoped and defined once, so the
transformer and gateway suites share one stack:

* ``model_bundles``   — ``{"staging": Path, "production": Path}``: real bundles (build_bundles)
  trained with the point-in-time reputation of ``train_reputation``; the transformers read the
  online reputation from ``feast_repo`` (SQLite), both from tests/conftest.py
* ``online_reputation`` — an ``OnlineReputation`` on that same ``feast_repo``: the in-process
  reference's reputation source, so it sees what the transformers see
* ``triton_repository`` / ``triton_server`` — the bundled tritonserver (python backend) serving
  ``spam-detector-staging`` and ``spam-detector-production`` side by side
* ``transformer``      — the real ``spam-transformer`` entry point (subprocess, gRPC to Triton)
* ``transformer_http`` — the same app in process (uvicorn thread, HTTP to Triton)

Nothing is mocked; without the bundled tritonserver the Triton-backed tests are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.serving import (
    InProcessTransformer,
    TransformerProcess,
    build_bundles,
    bundled_triton_or_skip,
    corpus_messages,
    transformer_env,
    write_triton_repository,
)


@pytest.fixture(scope="session")
def model_bundles(
    dataset_dir: Path, train_reputation, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    return build_bundles(dataset_dir, tmp_path_factory.mktemp("bundles"), train_reputation)


@pytest.fixture(scope="session")
def loaded_bundles(model_bundles: dict[str, Path]):
    """``{track: spam_core.bundle.ModelBundle}``: the in-process reference (onnxruntime)."""
    from spam_core.bundle import ModelBundle

    return {track: ModelBundle.load(path) for track, path in model_bundles.items()}


@pytest.fixture(scope="session")
def online_reputation(feast_repo: Path):
    """The transformer's reputation source, in this process (same repository, same defaults)."""
    from spam_core.reputation.online import OnlineReputation

    return OnlineReputation.from_repo(feast_repo)


@pytest.fixture(scope="session")
def known_sender(dataset_dir: Path):
    """The train split's top spam sender and its expected reputation (stack.known_sender)."""
    from tests.utils.serving import known_sender as find

    return find(dataset_dir)


@pytest.fixture(scope="session")
def triton_repository(
    model_bundles: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return write_triton_repository(model_bundles, tmp_path_factory.mktemp("triton-repo"))


@pytest.fixture(scope="session")
def triton_dist():
    return bundled_triton_or_skip()


@pytest.fixture(scope="session")
def triton_server(
    triton_dist, triton_repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator:
    from spam_local.tritonserver import LocalTritonServer

    with LocalTritonServer(
        [triton_repository], log_dir=tmp_path_factory.mktemp("triton-log"), startup_timeout=90
    ) as server:
        yield server


@pytest.fixture(scope="session")
def transformer(
    model_bundles: dict[str, Path],
    triton_server,
    feast_repo: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TransformerProcess]:
    """The real entry point, as a subprocess, talking gRPC to Triton (reputation: SQLite)."""
    env = transformer_env(model_bundles, triton_server, "grpc", feast_repo)
    log = tmp_path_factory.mktemp("transformer") / "transformer.log"
    process = TransformerProcess(env, log).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def transformer_http(
    model_bundles: dict[str, Path], triton_server, feast_repo: Path
) -> Iterator[InProcessTransformer]:
    """The same app in this process (uvicorn in a thread), talking HTTP to Triton."""
    server = InProcessTransformer(
        transformer_env(model_bundles, triton_server, "http", feast_repo)
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def corpus_emails(corpus_dir: Path) -> list[dict[str, str]]:
    """Real corpus messages as API e-mails (``raw`` form): spam, easy ham, hard ham."""
    return [{"email_id": i, "raw": raw} for i, raw in corpus_messages(corpus_dir, 40)]
