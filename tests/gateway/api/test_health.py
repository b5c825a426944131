"""GET /health, /ready and /metrics with the transformer up, and with it down."""

from __future__ import annotations

import time

import httpx

from tests.utils.gateway import OPERATOR, VIEWER

EMAIL = {"email_id": "h", "subject": "hello", "body": "see you at 3pm", "sender": "a@b.example"}


def test_health_is_healthy_with_services(gateway) -> None:
    r = httpx.get(gateway.url + "/health", headers=OPERATOR, timeout=10)
    assert r.status_code == 200
    doc = r.json()
    assert doc["status"] == "healthy"
    assert doc["version"]
    services = {s["name"]: s for s in doc["services"]}
    assert services["transformer"]["status"] == "ok"
    assert services["inference_log"]["status"] == "ok"
    assert services["inference_log"]["detail"]["records_dropped"] == 0
    # the transformer's Feast online store (SQLite here) answers
    assert services["feature_store"]["status"] == "ok"
    assert services["feature_store"]["detail"] == {
        "status": "healthy",
        "error": None,
        "since": None,
    }


def test_ready_when_the_transformer_and_both_tracks_are(gateway) -> None:
    r = httpx.get(gateway.url + "/ready", headers=OPERATOR, timeout=10)
    assert r.status_code == 200
    tracks = r.json()["transformer"]["response"]["tracks"]
    assert tracks["staging"]["ready"] and tracks["production"]["ready"]


def test_metrics_count_requests_per_route_environment_and_version(gateway) -> None:
    for env in ("staging", "production"):
        headers = {**VIEWER, "X-Environment": env}
        r = httpx.post(gateway.url + "/predict", json=EMAIL, headers=headers, timeout=30)
        assert r.status_code == 200
    text = httpx.get(gateway.url + "/metrics", timeout=10).text
    assert (
        'spam_gateway_requests_total{environment="production",method="POST",model_version="1",'
        'route="/predict",status="200"}'
    ) in text
    assert 'spam_gateway_request_duration_seconds_bucket{environment="staging"' in text
    assert "spam_gateway_upstream_duration_seconds_count" in text
    assert 'spam_gateway_predictions_total{environment="production",model_version="1"' in text
    for name in ("records_written", "records_spooled", "write_failures", "records_in_spool"):
        assert f"spam_gateway_inference_log_{name}" in text


def test_transformer_down_is_503_with_retry_after_quickly(down_gateway) -> None:
    started = time.monotonic()
    r = httpx.post(down_gateway.url + "/predict", json=EMAIL, headers=VIEWER, timeout=10)
    assert time.monotonic() - started < 2.0
    assert r.status_code == 503
    assert r.headers["retry-after"] == "3"
    doc = r.json()
    assert doc["error"]["code"] == "upstream_unavailable"
    assert doc["correlation_id"] == r.headers["x-correlation-id"]
    batch = httpx.post(
        down_gateway.url + "/predict/batch-sync", json={"emails": [EMAIL]}, headers=VIEWER
    )
    assert batch.status_code == 503 and batch.headers["retry-after"] == "3"
    metrics = httpx.get(down_gateway.url + "/metrics", timeout=10).text
    assert 'spam_gateway_upstream_errors_total{environment="staging",kind="connect"}' in metrics


def test_transformer_down_health_is_degraded_and_not_ready(down_gateway) -> None:
    health = httpx.get(down_gateway.url + "/health", headers=OPERATOR, timeout=10)
    assert health.status_code == 200  # liveness must not restart the gateway for this
    doc = health.json()
    assert doc["status"] == "degraded"
    services = {s["name"]: s["status"] for s in doc["services"]}
    assert services["transformer"] == "down"
    assert "feature_store" not in services  # unknown, not claimed either way
    ready = httpx.get(down_gateway.url + "/ready", timeout=10)
    assert ready.status_code == 503
    assert ready.headers["retry-after"] == "3"
    assert ready.json()["error"]["code"] == "not_ready"
