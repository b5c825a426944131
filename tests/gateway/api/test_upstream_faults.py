"""Upstream failures through the real chain: Triton killed → 503 + Retry-After, then
recovery; the transformer hung (SIGSTOP) → 504 within the upstream timeout, never a hang.

A Triton and a transformer of their own (fixed Triton ports, so a restart comes back where the
transformer looks), so the session's shared stack is never disturbed.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.utils.gateway import VIEWER, GatewayServer, wait_until
from tests.utils.serving import TransformerProcess, transformer_env, triton_on_fixed_ports

pytestmark = pytest.mark.timeout(180)

EMAIL = {"email_id": "f", "subject": "hello", "body": "see you at 3pm", "sender": "a@b.example"}
UPSTREAM_TIMEOUT_S = 1.0


@dataclass
class Stack:
    triton: object
    transformer: TransformerProcess
    gateway: GatewayServer


@pytest.fixture(scope="module")
def stack(
    triton_dist,
    triton_repository: Path,
    model_bundles: dict[str, Path],
    feast_repo: Path,
    make_gateway,
    tmp_path_factory,
) -> Iterator[Stack]:
    triton = triton_on_fixed_ports(triton_repository, tmp_path_factory.mktemp("gw-fault-triton"))
    env = transformer_env(
        model_bundles,
        triton,
        "grpc",
        feast_repo,
        triton_timeout_s=1.0,
        ready_timeout_s=0.5,
        retry_after_s=2,
    )
    transformer = TransformerProcess(
        env, tmp_path_factory.mktemp("gw-fault-transformer") / "transformer.log"
    ).start()
    gateway = make_gateway(
        TRANSFORMER_URL=transformer.url,
        UPSTREAM_TIMEOUT_S=UPSTREAM_TIMEOUT_S,
        HEALTH_TIMEOUT_S=0.5,
    )
    try:
        yield Stack(triton, transformer, gateway)
    finally:
        transformer.stop()
        triton.stop()


def predict(gateway: GatewayServer) -> httpx.Response:
    return httpx.post(gateway.url + "/predict", json=EMAIL, headers=VIEWER, timeout=30)


def test_triton_down_is_503_with_retry_after_then_recovers(stack: Stack) -> None:
    assert predict(stack.gateway).status_code == 200
    stack.triton.stop()
    try:
        started = time.monotonic()
        r = predict(stack.gateway)
        assert time.monotonic() - started < 5
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "2"  # the transformer's, passed on
        doc = r.json()
        assert doc["error"]["code"] == "upstream_unavailable"
        assert doc["error"]["details"]["status_code"] == 503
        ready = httpx.get(stack.gateway.url + "/ready", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["error"]["code"] == "not_ready"
    finally:
        stack.triton.start()
    wait_until(lambda: predict(stack.gateway).status_code == 200, 30, interval=0.2)
    assert httpx.get(stack.gateway.url + "/ready", timeout=10).status_code == 200


def test_hung_transformer_is_504_within_the_upstream_timeout(stack: Stack) -> None:
    assert predict(stack.gateway).status_code == 200
    pid = stack.transformer.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        r = predict(stack.gateway)
        elapsed = time.monotonic() - started
        assert r.status_code == 504, r.text
        assert r.json()["error"]["code"] == "upstream_timeout"
        assert UPSTREAM_TIMEOUT_S * 0.9 <= elapsed < UPSTREAM_TIMEOUT_S + 2
        health = httpx.get(stack.gateway.url + "/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "degraded"
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_until(lambda: predict(stack.gateway).status_code == 200, 15, interval=0.2)
    metrics = httpx.get(stack.gateway.url + "/metrics", timeout=10).text
    assert 'spam_gateway_upstream_errors_total{environment="staging",kind="timeout"}' in metrics
    assert 'spam_gateway_upstream_errors_total{environment="staging",kind="unavailable"}' in metrics
