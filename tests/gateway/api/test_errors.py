"""Every error is JSON ``{"error": {"code", "message", "details"}, "correlation_id",
"timestamp"}`` with the right 4xx — malformed JSON, missing fields, oversized bodies."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from tests.utils.gateway import MAX_BODY_BYTES, VIEWER

JSON = {**VIEWER, "Content-Type": "application/json"}


def assert_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    doc = r.json()
    assert set(doc) == {"error", "correlation_id", "timestamp"}
    assert set(doc["error"]) == {"code", "message", "details"}
    assert doc["error"]["code"] == code
    assert doc["error"]["message"]
    assert doc["correlation_id"] and doc["correlation_id"] == r.headers["x-correlation-id"]
    assert datetime.fromisoformat(doc["timestamp"]).tzinfo is not None
    return doc


@pytest.mark.parametrize("body", [b"{", b'{"email_id": "x", "subject": }', b"\xff\xfe", b"[1, 2"])
def test_malformed_json_is_422(gateway, body) -> None:
    r = httpx.post(gateway.url + "/predict", content=body, headers=JSON, timeout=10)
    doc = assert_error(r, 422, "invalid_input")
    assert doc["error"]["message"] in ("malformed JSON body", "request validation failed")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "email_id"),
        ({"email_id": "x"}, "missing subject, body, sender"),
        ({"email_id": "x", "subject": "s", "body": "b"}, "missing sender"),
        ({"email_id": "x", "raw": "Subject: a\n\nb", "subject": "s"}, "not both"),
        ({"email_id": "", "raw": "x"}, "email_id"),
        ({"email_id": "x", "raw": ""}, "raw"),
        ({"email_id": "x", "raw": 5}, "raw"),
        ({"email_id": "x", "raw": "a", "colour": "red"}, "colour"),
        ([{"email_id": "x", "raw": "a"}], "body"),
    ],
)
def test_missing_or_wrong_fields_are_422(gateway, body, fragment) -> None:
    r = httpx.post(gateway.url + "/predict", json=body, headers=VIEWER, timeout=10)
    doc = assert_error(r, 422, "invalid_input")
    assert fragment in str(doc["error"]["details"])


def test_declared_oversized_body_is_413_without_reading_it(gateway) -> None:
    body = b'{"email_id": "x", "raw": "' + b"a" * MAX_BODY_BYTES + b'"}'
    r = httpx.post(gateway.url + "/predict", content=body, headers=JSON, timeout=10)
    doc = assert_error(r, 413, "payload_too_large")
    assert doc["error"]["details"] == {"limit_bytes": MAX_BODY_BYTES}


def test_chunked_oversized_body_is_413(gateway) -> None:
    def chunks():
        yield b'{"email_id": "x", "raw": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"a" * 65536
        yield b'"}'

    r = httpx.post(gateway.url + "/predict", content=chunks(), headers=JSON, timeout=10)
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "payload_too_large")


def test_a_body_just_under_the_limit_is_accepted(gateway) -> None:
    filler = "word " * ((MAX_BODY_BYTES - 400) // 5)
    body = {"email_id": "big", "subject": "s", "body": filler, "sender": "a@b.example"}
    r = httpx.post(gateway.url + "/predict", json=body, headers=VIEWER, timeout=30)
    assert r.status_code == 200, r.text


def test_unknown_route_and_method_are_json(gateway) -> None:
    assert_error(httpx.get(gateway.url + "/nope", timeout=10), 404, "not_found")
    r = httpx.get(gateway.url + "/predict", headers=VIEWER, timeout=10)
    assert_error(r, 405, "method_not_allowed")


def test_correlation_id_is_echoed_or_generated(gateway) -> None:
    headers = {**VIEWER, "X-Correlation-ID": "req-42.a:b"}
    r = httpx.post(gateway.url + "/predict", json={}, headers=headers, timeout=10)
    assert r.headers["x-correlation-id"] == "req-42.a:b"
    assert r.json()["correlation_id"] == "req-42.a:b"
    for bad in ("with space", "x" * 129, "über".encode("latin-1")):
        r = httpx.get(gateway.url + "/health", headers={"X-Correlation-ID": bad}, timeout=10)
        assert r.headers["x-correlation-id"] not in (bad, "", "über")
    ok = httpx.get(gateway.url + "/health", timeout=10)
    assert len(ok.headers["x-correlation-id"]) == 32
