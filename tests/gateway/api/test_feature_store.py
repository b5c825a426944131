"""The gateway's /health reports the transformer's feature store (sender reputation).

A real redis-server holds the Feast online store of a transformer of its own (in process, no
reputation cache, short retry interval), a gateway in front of it. Redis stopped: the gateway
still answers /predict (the transformer scores with the default reputation), /health is 200
with ``feature_store`` ``degraded`` and the overall status ``degraded``, /ready stays 200;
Redis back: ``healthy`` again, with no request needed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.utils.gateway import OPERATOR, VIEWER, GatewayServer, gateway_settings
from tests.utils.serving import InProcessTransformer, redis_feast_repo, transformer_env

pytestmark = pytest.mark.timeout(180)

RETRY_AFTER_S = 0.5
EMAIL = {"email_id": "fs", "subject": "hello", "body": "see you at 3pm", "sender": "a@b.example"}


@dataclass
class Stack:
    redis: object
    transformer: InProcessTransformer
    gateway: GatewayServer


@pytest.fixture
def stack(
    redis_server, dataset_dir: Path, model_bundles: dict[str, Path], triton_server, tmp_path: Path
) -> Iterator[Stack]:
    repo = redis_feast_repo(dataset_dir, tmp_path, redis_server.connection_string)
    env = transformer_env(
        model_bundles,
        triton_server,
        "grpc",
        repo,
        reputation_cache_ttl_s=0,
        reputation_retry_after_s=RETRY_AFTER_S,
    )
    with (
        InProcessTransformer(env) as transformer,
        GatewayServer(gateway_settings(tmp_path, TRANSFORMER_URL=transformer.url)) as gateway,
    ):
        yield Stack(redis_server, transformer, gateway)


def health(gateway: GatewayServer) -> tuple[str, dict[str, dict]]:
    response = httpx.get(gateway.url + "/health", headers=OPERATOR, timeout=10)
    assert response.status_code == 200, response.text  # never a reason to restart the gateway
    doc = response.json()
    return doc["status"], {s["name"]: s for s in doc["services"]}


def wait_health(gateway: GatewayServer, want: str, timeout: float) -> tuple[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        status, services = health(gateway)
        if status == want or time.monotonic() > deadline:
            return status, services
        time.sleep(0.05)


def test_feature_store_down_degrades_the_gateway_health_then_recovers(stack: Stack) -> None:
    status, services = health(stack.gateway)
    assert status == "healthy"
    assert services["feature_store"]["status"] == "ok"
    assert services["feature_store"]["detail"]["status"] == "healthy"

    stack.redis.stop()
    r = httpx.post(stack.gateway.url + "/predict", json=EMAIL, headers=VIEWER, timeout=30)
    assert r.status_code == 200, r.text  # scored with the default reputation
    status, services = health(stack.gateway)
    assert status == "degraded"
    assert services["transformer"]["status"] == "ok"
    store = services["feature_store"]
    assert store["status"] == "degraded"
    assert store["detail"]["status"] == "degraded"
    assert "connect" in store["detail"]["error"].lower(), store
    assert store["detail"]["since"] is not None
    ready = httpx.get(stack.gateway.url + "/ready", timeout=10)
    assert ready.status_code == 200, ready.text  # the transformer still serves

    stack.redis.start()
    status, services = wait_health(stack.gateway, "healthy", RETRY_AFTER_S * 4 + 2)
    assert status == "healthy", services
    assert services["feature_store"]["status"] == "ok"
