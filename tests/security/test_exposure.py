"""Row 11 of issue 11: unauthenticated /health and /ready say the status only (details with
the operator key); 503 bodies carry a stable code and the correlation id, no upstream address
or exception text."""

from __future__ import annotations

import httpx
import pytest

from tests.utils.gateway import OPERATOR, VIEWER

pytestmark = pytest.mark.timeout(120)

EMAIL = {"email_id": "e", "subject": "hello", "body": "see you", "sender": "a@b.example"}


@pytest.fixture(scope="module")
def down(make_gateway):
    """A gateway whose transformer address answers nothing (a closed port)."""
    return make_gateway(TRANSFORMER_URL="http://127.0.0.1:9", RETRY_AFTER_S=2)


def test_row11_health_and_ready_without_a_key_say_the_status_only(down) -> None:
    health = httpx.get(f"{down.url}/health", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "degraded"}
    ready = httpx.get(f"{down.url}/ready", timeout=10)
    assert ready.status_code == 503
    assert ready.json()["error"]["details"] is None
    for r in (health, ready):
        assert "127.0.0.1" not in r.text and "Error" not in r.text
    # a viewer key or a wrong key sees no more
    assert httpx.get(f"{down.url}/health", headers=VIEWER).json() == {"status": "degraded"}
    assert httpx.get(f"{down.url}/health", headers={"X-API-Key": "x"}).json() == {
        "status": "degraded"
    }


def test_row11_the_operator_key_sees_the_details(down) -> None:
    doc = httpx.get(f"{down.url}/health", headers=OPERATOR, timeout=10).json()
    assert {s["name"] for s in doc["services"]} >= {"transformer"} and doc["version"]
    ready = httpx.get(f"{down.url}/ready", headers=OPERATOR, timeout=10).json()
    assert ready["error"]["details"]["transformer"]["url"] == "http://127.0.0.1:9"


def test_row11_503_bodies_carry_a_code_and_the_correlation_id_only(down) -> None:
    r = httpx.post(
        f"{down.url}/predict",
        json=EMAIL,
        headers={**VIEWER, "X-Correlation-ID": "row-11"},
        timeout=10,
    )
    assert r.status_code == 503 and r.headers["Retry-After"] == "2"
    doc = r.json()
    assert doc["correlation_id"] == "row-11"
    assert doc["error"]["code"] == "upstream_unavailable"
    assert doc["error"]["details"] == {"reason": "connect"}
    assert "127.0.0.1" not in r.text and "Error" not in r.text
