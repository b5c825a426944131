"""Triton failures: killed mid-traffic, hung, restarted — 503 + Retry-After, never a hang.

A Triton of its own (fixed ports, so a restart comes back where the transformers look) with a
gRPC and an HTTP transformer in front (in process, ``TRITON_TIMEOUT_S=1``).
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.utils.serving import InProcessTransformer, transformer_env, triton_on_fixed_ports

pytestmark = pytest.mark.timeout(180)

TIMEOUT_S = 1.0
EMAIL = {"email_id": "m", "subject": "hello", "body": "see you at 3pm", "sender": "a@b.example"}


@dataclass
class Stack:
    triton: object
    transformers: dict[str, InProcessTransformer]


@pytest.fixture(scope="module")
def stack(
    triton_dist,
    triton_repository: Path,
    model_bundles: dict[str, Path],
    feast_repo: Path,
    tmp_path_factory,
) -> Iterator[Stack]:
    triton = triton_on_fixed_ports(triton_repository, tmp_path_factory.mktemp("fault-triton"))
    settings = {"triton_timeout_s": TIMEOUT_S, "ready_timeout_s": 0.5, "retry_after_s": 1}
    transformers = {
        protocol: InProcessTransformer(
            transformer_env(model_bundles, triton, protocol, feast_repo, **settings)
        ).start()
        for protocol in ("grpc", "http")
    }
    try:
        yield Stack(triton, transformers)
    finally:
        for server in transformers.values():
            server.stop()
        triton.stop()


def predict(url: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/predict", json={"environment": "production", "emails": [EMAIL]}, timeout=30
    )


def wait_ready(url: str, expected: int, timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{url}/ready", timeout=10)
        if response.status_code == expected or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def assert_unavailable(response: httpx.Response, codes: set[str]) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] in codes, response.text


def _restart(stack: Stack) -> None:
    stack.triton.stop()  # reap, clean shared memory
    stack.triton.start()  # same ports


def test_triton_killed_mid_traffic_then_restarted(stack: Stack) -> None:
    urls = {p: t.url for p, t in stack.transformers.items()}
    for url in urls.values():
        assert wait_ready(url, 200, 10).status_code == 200
    before_kill = {p: predict(url).json()["predictions"][0] for p, url in urls.items()}

    results: dict[str, list[tuple[float, float, httpx.Response]]] = {p: [] for p in urls}
    stop = threading.Event()

    def traffic(protocol: str) -> None:
        with httpx.Client(timeout=30) as client:
            body = {"environment": "production", "emails": [EMAIL]}
            while not stop.is_set():
                started = time.monotonic()
                response = client.post(f"{urls[protocol]}/v1/predict", json=body)
                results[protocol].append((started, time.monotonic() - started, response))

    def answered_after(protocol: str, at: float) -> int:
        return sum(1 for t, _, _ in list(results[protocol]) if t > at)

    threads = [threading.Thread(target=traffic, args=(p,)) for p in urls for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.7)
    killed_at = time.monotonic()
    os.killpg(stack.triton.pid, signal.SIGKILL)  # the server and its python-backend stubs
    # traffic goes on until every protocol has answers to requests sent well after the kill
    # (on a loaded machine that can take more than a second); a hang never gets them: the
    # deadline is several times the Triton timeout the transformer answers within
    deadline = killed_at + 1.5 + 5 * TIMEOUT_S
    while time.monotonic() < deadline and not all(
        answered_after(p, killed_at + 0.5) >= 3 for p in urls
    ):
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join(30)

    try:
        for protocol, answers in results.items():
            before = [r for t, _, r in answers if t < killed_at - 0.05]
            after = [r for t, _, r in answers if t > killed_at + 0.5]
            assert before and all(r.status_code == 200 for r in before[:-2]), protocol
            assert after, f"{protocol}: no request completed after the kill (a hang)"
            for response in after:
                assert_unavailable(response, {"predictor_unavailable", "predictor_timeout"})
            for _, elapsed, response in answers:
                assert response.status_code in (200, 503), response.text
                assert elapsed < TIMEOUT_S + 1.5, f"{protocol}: a request took {elapsed:.1f} s"

            metrics = httpx.get(f"{urls[protocol]}/metrics").text
            errors = re.search(
                r'spam_transformer_triton_errors_total\{environment="production",'
                r'reason="predictor_(?:unavailable|timeout)"\} (\S+)',
                metrics,
            )
            assert errors and float(errors.group(1)) >= 1, protocol
            assert (
                'spam_transformer_requests_total{environment="production",status="503"}' in metrics
            )

            ready = wait_ready(urls[protocol], 503, 5)
            assert ready.status_code == 503, ready.text
            tracks = ready.json()["tracks"]
            assert not tracks["staging"]["ready"] and not tracks["production"]["ready"]
            assert (
                "unreachable" in tracks["production"]["detail"]
                or "Triton" in (tracks["production"]["detail"])
            )
    finally:
        _restart(stack)  # the next test starts from a live server whatever failed here
    for protocol, url in urls.items():
        ready = wait_ready(url, 200, 15)
        assert ready.status_code == 200, f"{protocol} did not recover: {ready.text}"
        response = predict(url)
        assert response.status_code == 200, response.text
        # the same answer as before the kill (the label itself is the model's business)
        assert response.json()["predictions"][0] == before_kill[protocol]


def test_a_hung_triton_times_out(stack: Stack) -> None:
    urls = {p: t.url for p, t in stack.transformers.items()}
    for url in urls.values():
        assert wait_ready(url, 200, 15).status_code == 200
    os.kill(stack.triton.pid, signal.SIGSTOP)  # accepts connections, never answers
    try:
        for protocol, url in urls.items():
            started = time.monotonic()
            response = predict(url)
            elapsed = time.monotonic() - started
            assert_unavailable(response, {"predictor_timeout"})
            assert TIMEOUT_S * 0.9 <= elapsed < TIMEOUT_S + 1.5, (protocol, elapsed)
            started = time.monotonic()
            ready = httpx.get(f"{url}/ready", timeout=10)
            assert ready.status_code == 503, ready.text
            assert time.monotonic() - started < 2.0
            assert "did not answer" in ready.json()["tracks"]["staging"]["detail"]
    finally:
        os.kill(stack.triton.pid, signal.SIGCONT)
    for protocol, url in urls.items():
        assert wait_ready(url, 200, 15).status_code == 200, protocol
        assert predict(url).status_code == 200
