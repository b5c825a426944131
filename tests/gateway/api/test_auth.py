"""The auth matrix: every route but health/ready/metrics/docs needs a key; roles matter."""

from __future__ import annotations

import httpx
import pytest

from tests.utils.gateway import OPERATOR, VIEWER

EMAIL = {"email_id": "auth", "subject": "hi", "body": "see you at 3pm", "sender": "a@b.example"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/predict", EMAIL),
        ("POST", "/predict/batch-sync", {"emails": [EMAIL]}),
        ("GET", "/admin/config", None),
    ],
)
@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "missing X-API-Key"), ({"X-API-Key": "nope"}, "unknown API key")],
)
def test_no_key_or_an_unknown_key_is_401(gateway, method, path, body, headers, message) -> None:
    r = httpx.request(method, gateway.url + path, json=body, headers=headers, timeout=10)
    assert r.status_code == 401, r.text
    doc = r.json()
    assert doc["error"]["code"] == "unauthenticated"
    assert message in doc["error"]["message"]
    assert doc["correlation_id"] == r.headers["x-correlation-id"]


def test_the_key_is_checked_before_the_body(gateway) -> None:
    r = httpx.post(gateway.url + "/predict", content=b"{not json", timeout=10)
    assert r.status_code == 401


def test_viewer_on_an_operator_route_is_403(gateway) -> None:
    r = httpx.get(gateway.url + "/admin/config", headers=VIEWER, timeout=10)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    assert r.json()["error"]["details"]["required"] == "operator"


def test_operator_may_use_admin_and_predict(gateway) -> None:
    r = httpx.get(gateway.url + "/admin/config", headers=OPERATOR, timeout=10)
    assert r.status_code == 200
    config = r.json()
    assert config["DEFAULT_ENVIRONMENT"] == "staging"
    assert "API_KEYS" not in config and "sha256" not in r.text
    r = httpx.post(gateway.url + "/predict", json=EMAIL, headers=OPERATOR, timeout=30)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics", "/docs", "/openapi.json"])
def test_probes_metrics_and_docs_need_no_key(gateway, path) -> None:
    assert httpx.get(gateway.url + path, timeout=10).status_code == 200


def test_openapi_documents_the_contract(gateway) -> None:
    spec = httpx.get(gateway.url + "/openapi.json", timeout=10).json()
    assert {"/predict", "/predict/batch-sync", "/health", "/ready", "/metrics"} <= set(
        spec["paths"]
    )
    predict = spec["paths"]["/predict"]["post"]
    assert predict["security"] == [{"APIKeyHeader": []}]
    assert {"401", "403", "413", "422", "503", "504"} <= set(predict["responses"])
    headers = {p["name"] for p in predict["parameters"] if p["in"] == "header"}
    assert "X-Environment" in headers
