"""Gateway fixtures (a pytest plugin, registered in ``tests/conftest.py``, so every suite —
gateway, security, ci, drift, local — uses the same ones): the real serving stack behind a real
gateway, and a real Azurite.

The bundles, the bundled Triton and the ``spam-transformer`` subprocess come from the shared
serving fixtures (``tests/utils/serving_fixtures.py``, nothing mocked): the gateway tests call the
real chain gateway → transformer (gRPC) → Triton (python backend, onnxruntime).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.utils.gateway import (
    AZURITE_BIN,
    MAX_BODY_BYTES,
    Azurite,
    GatewayServer,
    gateway_settings,
)


@pytest.fixture(scope="session")
def make_gateway(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., GatewayServer]]:
    """Start gateways with settings overrides; all are stopped at the end of the session."""
    started: list[GatewayServer] = []

    def make(**overrides: object) -> GatewayServer:
        tmp = tmp_path_factory.mktemp("gateway")
        server = GatewayServer(gateway_settings(tmp, **overrides)).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def gateway(make_gateway, transformer) -> GatewayServer:
    """The gateway in front of the real transformer (local-directory inference log)."""
    return make_gateway(
        TRANSFORMER_URL=transformer.url,
        MODEL_VERSION_STAGING="2",
        MODEL_VERSION_PRODUCTION="1",
        MAX_BODY_BYTES=MAX_BODY_BYTES,
        INFERENCE_LOG_FLUSH_INTERVAL_S=0.5,
    )


@pytest.fixture(scope="session")
def down_gateway(make_gateway) -> GatewayServer:
    """A gateway whose transformer is not running (nothing listens on its port)."""
    from tests.utils.gateway import free_port

    return make_gateway(TRANSFORMER_URL=f"http://127.0.0.1:{free_port()}", RETRY_AFTER_S=3)


@pytest.fixture
def azurite(tmp_path: Path) -> Iterator[Azurite]:
    if not AZURITE_BIN.is_file():
        pytest.skip(
            f"azurite-blob not installed at {AZURITE_BIN} (run ci/scripts/install-tools.sh)"
        )
    server = Azurite(tmp_path / "azurite", tmp_path / "azurite.log").start()
    yield server
    server.stop()
