"""CORS on the real gateway: off by default (no CORS headers at all), and with an origin
allow-list, preflights and answers (errors included) carry exactly what a browser needs."""

from __future__ import annotations

import httpx
import pytest

from spam_gateway.app.main import CORS_REQUEST_HEADERS
from tests.utils.gateway import VIEWER

pytestmark = pytest.mark.timeout(120)

ALLOWED = "https://mail.example.com"
EMAIL = {"email_id": "cors", "subject": "hi", "body": "see you at 3pm", "sender": "a@b.example"}
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "x-api-key, x-environment, content-type",
}


@pytest.fixture(scope="module")
def cors_gateway(make_gateway, transformer):
    return make_gateway(TRANSFORMER_URL=transformer.url, CORS_ALLOW_ORIGINS=[ALLOWED])


def cors_headers(r: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k.startswith("access-control-")}


def test_off_by_default(gateway) -> None:
    r = httpx.options(
        gateway.url + "/predict", headers={"Origin": ALLOWED, **PREFLIGHT}, timeout=10
    )
    assert r.status_code == 405 and cors_headers(r) == {}
    r = httpx.post(
        gateway.url + "/predict", json=EMAIL, headers={**VIEWER, "Origin": ALLOWED}, timeout=30
    )
    assert r.status_code == 200 and cors_headers(r) == {}


def test_a_listed_origin_gets_its_preflight(cors_gateway) -> None:
    r = httpx.options(
        cors_gateway.url + "/predict/staging", headers={"Origin": ALLOWED, **PREFLIGHT}, timeout=10
    )
    assert r.status_code == 200, r.text
    h = cors_headers(r)
    assert h["access-control-allow-origin"] == ALLOWED
    assert "POST" in h["access-control-allow-methods"]
    allowed = {x.strip().lower() for x in h["access-control-allow-headers"].split(",")}
    assert {x.lower() for x in CORS_REQUEST_HEADERS} <= allowed
    assert h["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in h


def test_answers_and_errors_carry_the_origin(cors_gateway) -> None:
    r = httpx.post(
        cors_gateway.url + "/predict",
        json=EMAIL,
        headers={**VIEWER, "Origin": ALLOWED},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == ALLOWED
    exposed = r.headers["access-control-expose-headers"].lower()
    assert "x-correlation-id" in exposed and "retry-after" in exposed
    r = httpx.post(cors_gateway.url + "/predict", json=EMAIL, headers={"Origin": ALLOWED})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == ALLOWED


def test_another_origin_gets_nothing(cors_gateway) -> None:
    other = "https://evil.example"
    r = httpx.options(
        cors_gateway.url + "/predict", headers={"Origin": other, **PREFLIGHT}, timeout=10
    )
    assert r.status_code == 400
    assert "access-control-allow-origin" not in r.headers
    r = httpx.post(
        cors_gateway.url + "/predict", json=EMAIL, headers={**VIEWER, "Origin": other}, timeout=30
    )
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
