"""Sender reputation from the Feast online store, through the real transformer.

* SQLite (the session's ``transformer``, ``feast_repo``): a known sender's four reputation
  columns equal what the train labels say (counted here, not through Feast); an unknown one
  gets the spec's defaults.
* Redis (a real ``redis-server`` per test, the train history materialized into it, an
  in-process transformer on that repository): parity with the in-process bundle reading the
  same Redis; then the store is stopped (answers go on with defaults or cached values,
  ``/health`` and ``/ready`` say ``degraded``, ``/ready`` stays 200) and started again (health
  is ``healthy`` again within the retry interval, with no request needed).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from spam_core.features.spec import REPUTATION_NAMES
from spam_core.message import parse_raw
from tests.utils.serving import (
    DEFAULT_REPUTATION,
    UNKNOWN_SENDER,
    InProcessTransformer,
    KnownSender,
    redis_feast_repo,
    transformer_env,
)

pytestmark = pytest.mark.timeout(240)

RETRY_AFTER_S = 0.5


def predict(url: str, emails: list[dict], environment: str = "production") -> dict:
    response = httpx.post(
        f"{url}/v1/predict", json={"environment": environment, "emails": emails}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def reputation_of(prediction: dict) -> dict[str, float]:
    return {name: prediction["features"][name] for name in REPUTATION_NAMES}


def assert_reputation(got: dict[str, float], want: dict[str, float]) -> None:
    assert list(got) == list(want)
    np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=1e-6, atol=1e-7)


def metric(text: str, name: str, **labels: str) -> float | None:
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name + ("{" + selector + "}" if selector else "")) + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


def reputation_status(url: str, path: str = "/health") -> tuple[int, dict]:
    response = httpx.get(f"{url}{path}", timeout=10)
    return response.status_code, response.json()["reputation"]


def wait_status(url: str, want: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        _, status = reputation_status(url)
        if status["status"] == want or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


# --------------------------------------------------------------------------- SQLite (default)


def test_known_sender_gets_its_history_and_an_unknown_one_the_defaults(
    transformer, known_sender: KnownSender
) -> None:
    assert known_sender.spam > 0  # far from the defaults, so a silent fallback shows
    for environment in ("staging", "production"):
        doc = predict(transformer.url, [known_sender.email(), UNKNOWN_SENDER], environment)
        known, unknown = doc["predictions"]
        assert_reputation(reputation_of(known), known_sender.expected)
        assert_reputation(reputation_of(unknown), DEFAULT_REPUTATION)
        # and alone (the single-e-mail path of the extractor)
        (single,) = predict(transformer.url, [known_sender.email()], environment)["predictions"]
        assert reputation_of(single) == reputation_of(known)
    assert reputation_status(transformer.url) == (
        200,
        {"status": "healthy", "error": None, "since": None},
    )
    code, ready = reputation_status(transformer.url, "/ready")
    assert code == 200 and ready["status"] == "healthy"
    text = httpx.get(f"{transformer.url}/metrics", timeout=10).text
    assert metric(text, "spam_transformer_reputation_store_up") == 1.0
    assert metric(text, "spam_transformer_reputation_lookups_total", outcome="miss") >= 1
    assert metric(text, "spam_transformer_reputation_lookups_total", outcome="hit") >= 1


def test_a_sender_known_only_by_its_domain(transformer, known_sender: KnownSender) -> None:
    """A new address at a known domain: sender defaults, the domain's own history."""
    email = {**known_sender.email("new-address"), "sender": f"x9q7z.new@{known_sender.domain}"}
    (prediction,) = predict(transformer.url, [email])["predictions"]
    got = reputation_of(prediction)
    want = known_sender.expected
    assert got["sender_message_count_log"] == 0.0 and got["sender_spam_rate"] == 0.5
    assert got["domain_message_count_log"] == pytest.approx(want["domain_message_count_log"])
    assert got["domain_spam_rate"] == pytest.approx(want["domain_spam_rate"])


# --------------------------------------------------------------------------- Redis


@pytest.fixture
def redis_repo(redis_server, dataset_dir: Path, tmp_path: Path) -> Path:
    """A Feast repository on the test's real redis-server, the train history materialized."""
    return redis_feast_repo(dataset_dir, tmp_path, redis_server.connection_string)


@pytest.fixture
def redis_transformer(
    redis_repo: Path, model_bundles: dict[str, Path], triton_server
) -> Iterator[InProcessTransformer]:
    """An in-process transformer on the Redis repository, without a cache (every e-mail asks
    the store), retrying a failed store after RETRY_AFTER_S."""
    env = transformer_env(
        model_bundles,
        triton_server,
        "grpc",
        redis_repo,
        reputation_cache_ttl_s=0,
        reputation_retry_after_s=RETRY_AFTER_S,
    )
    with InProcessTransformer(env) as server:
        yield server


def test_redis_store_parity_with_the_bundle_in_process(
    redis_transformer,
    redis_repo: Path,
    loaded_bundles,
    corpus_emails: list[dict],
    known_sender: KnownSender,
) -> None:
    from spam_core.reputation.online import OnlineReputation

    reputation = OnlineReputation.from_repo(redis_repo, cache_ttl_s=0)
    records = [parse_raw(e["raw"], e["email_id"]) for e in corpus_emails]
    stats = reputation.stats(records)
    assert (stats[:, 0] > 0).any() and (stats[:, 0] == 0).any()  # known and unknown senders
    for environment, bundle in loaded_bundles.items():
        predictions = []
        for start in range(0, len(corpus_emails), 40):
            batch = corpus_emails[start : start + 40]
            predictions += predict(redis_transformer.url, batch, environment)["predictions"]
        got = np.array([p["spam_probability"] for p in predictions])
        want = bundle.predict_records(records, reputation)
        assert np.max(np.abs(got - want)) <= 1e-6, environment
        features = np.array([[p["features"][n] for n in REPUTATION_NAMES] for p in predictions])
        matrix = bundle.extractor.transform_records(records, reputation)
        np.testing.assert_array_equal(features, matrix[:, -len(REPUTATION_NAMES) :])
    known, unknown = predict(redis_transformer.url, [known_sender.email(), UNKNOWN_SENDER])[
        "predictions"
    ]
    assert_reputation(reputation_of(known), known_sender.expected)
    assert_reputation(reputation_of(unknown), DEFAULT_REPUTATION)
    assert reputation_status(redis_transformer.url)[1]["status"] == "healthy"


def test_redis_down_scores_with_defaults_says_degraded_then_recovers(
    redis_transformer, redis_server, known_sender: KnownSender
) -> None:
    url = redis_transformer.url
    (before,) = predict(url, [known_sender.email()])["predictions"]
    assert_reputation(reputation_of(before), known_sender.expected)

    redis_server.stop()
    started = time.monotonic()
    (during,) = predict(url, [known_sender.email()])["predictions"]
    assert time.monotonic() - started < 2.0
    assert_reputation(reputation_of(during), DEFAULT_REPUTATION)  # no cache: the defaults
    # the content features are untouched, only the reputation fell back
    assert {k: v for k, v in during["features"].items() if k not in REPUTATION_NAMES} == {
        k: v for k, v in before["features"].items() if k not in REPUTATION_NAMES
    }
    code, health = reputation_status(url)
    assert code == 200
    assert health["status"] == "degraded"
    assert "Connection" in health["error"] or "connect" in health["error"], health
    assert health["since"] <= time.time()
    ready = httpx.get(f"{url}/ready", timeout=10)
    assert ready.status_code == 200, ready.text  # Triton is up: still ready
    assert ready.json()["ready"] is True
    assert ready.json()["reputation"]["status"] == "degraded"
    # requests inside the retry interval do not wait for the store again
    for _ in range(5):
        started = time.monotonic()
        predict(url, [known_sender.email()])
        assert time.monotonic() - started < 1.0
    text = httpx.get(f"{url}/metrics", timeout=10).text
    assert metric(text, "spam_transformer_reputation_store_up") == 0.0
    assert metric(text, "spam_transformer_reputation_lookups_total", outcome="error") >= 1
    assert metric(text, "spam_transformer_reputation_lookups_total", outcome="skipped") >= 1

    redis_server.start()  # same port, empty (no persistence)
    # no e-mail is sent: the transformer probes the store itself
    health = wait_status(url, "healthy", RETRY_AFTER_S * 4 + 2)
    assert health == {"status": "healthy", "error": None, "since": None}
    assert (
        metric(httpx.get(f"{url}/metrics", timeout=10).text, "spam_transformer_reputation_store_up")
        == 1.0
    )
    (after,) = predict(url, [known_sender.email()])["predictions"]
    # the restarted Redis holds nothing yet: an answer from the store, the defaults
    assert_reputation(reputation_of(after), DEFAULT_REPUTATION)


def test_redis_down_keeps_cached_senders_and_defaults_the_rest(
    redis_repo: Path,
    redis_server,
    model_bundles: dict[str, Path],
    triton_server,
    known_sender: KnownSender,
) -> None:
    env = transformer_env(
        model_bundles,
        triton_server,
        "grpc",
        redis_repo,
        reputation_cache_ttl_s=300,
        reputation_retry_after_s=RETRY_AFTER_S,
    )
    with InProcessTransformer(env) as server:
        (cached,) = predict(server.url, [known_sender.email()])["predictions"]
        assert_reputation(reputation_of(cached), known_sender.expected)
        redis_server.stop()
        newcomer = {**UNKNOWN_SENDER, "sender": f"someone@{known_sender.domain}x.example"}
        known, other = predict(server.url, [known_sender.email(), newcomer])["predictions"]
        assert reputation_of(known) == reputation_of(cached)  # from the cache
        assert_reputation(reputation_of(other), DEFAULT_REPUTATION)  # the store did not answer
        assert reputation_status(server.url)[1]["status"] == "degraded"
