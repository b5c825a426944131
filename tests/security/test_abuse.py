"""Rows 6-7 of issue 11: the key is checked from the headers before any body is read, a slow
body times out, failed authentication is throttled per client (429 + Retry-After, counted in
/metrics), and per-key quotas apply when configured."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.utils.gateway import OPERATOR, VIEWER

pytestmark = pytest.mark.timeout(120)

JSON = {"Content-Type": "application/json"}
EMAIL = b'{"email_id": "m", "subject": "hi", "body": "see you", "sender": "a@b.example"}'


def _raw_request(port: int, head: bytes, body_part: bytes, wait: float) -> tuple[bytes, float]:
    """Send the head and part of the body, then read what comes back within ``wait``."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head + body_part)
        data = b""
        try:
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
    return data, time.monotonic() - started


@pytest.fixture(scope="module")
def guarded(make_gateway):
    return make_gateway(
        TRANSFORMER_URL="http://127.0.0.1:9",
        BODY_TIMEOUT_S=1.0,
        AUTH_FAILURES_PER_CLIENT="5/minute",
        QUOTA_VIEWER="3/minute",
    )


def test_row6_no_key_is_refused_before_the_body_is_read(guarded) -> None:
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 9000000\r\n\r\n"
    )
    data, seconds = _raw_request(guarded.port, head, b'{"email_id": ', wait=5)
    assert data.startswith(b"HTTP/1.1 401"), data[:200]
    assert seconds < 2
    assert b'"code":"unauthenticated"' in data


def test_row6_a_slow_body_times_out_with_408(guarded) -> None:
    head = (
        b"POST /predict/batch-sync HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-API-Key: " + OPERATOR["X-API-Key"].encode() + b"\r\nContent-Length: 9000\r\n\r\n"
    )
    data, seconds = _raw_request(guarded.port, head, b'{"emails": [', wait=10)
    assert data.startswith(b"HTTP/1.1 408"), data[:300]
    assert b'"code":"request_timeout"' in data
    assert seconds < 5


def test_row7_failed_authentication_is_throttled_per_client(make_gateway) -> None:
    gw = make_gateway(TRANSFORMER_URL="http://127.0.0.1:9", AUTH_FAILURES_PER_CLIENT="5/minute")
    url = f"{gw.url}/predict"
    with httpx.Client(timeout=10) as client:
        statuses = [
            client.post(url, content=EMAIL, headers={"X-API-Key": f"guess-{i}"}).status_code
            for i in range(8)
        ]
        assert statuses == [401] * 5 + [429] * 3
        r = client.post(url, content=EMAIL, headers={"X-API-Key": "guess-x"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["code"] == "too_many_requests"
        # the right key from that client waits too: guessing goes no faster with it
        r = client.post(url, content=EMAIL, headers=VIEWER)
        assert r.status_code == 429
        metrics = client.get(f"{gw.url}/metrics").text
    assert "spam_gateway_auth_failures_total 5.0" in metrics
    assert 'spam_gateway_throttled_total{reason="auth"} 5.0' in metrics


def test_per_key_quota_when_configured(guarded) -> None:
    url = f"{guarded.url}/admin/config"
    with httpx.Client(timeout=10) as client:
        viewer = [
            client.post(f"{guarded.url}/predict", content=EMAIL, headers={**VIEWER, **JSON})
            for _ in range(4)
        ]
        # the transformer is down (503) for the first three; the fourth is over the quota
        assert [r.status_code for r in viewer] == [503, 503, 503, 429]
        assert viewer[-1].json()["error"]["code"] == "quota_exceeded"
        assert int(viewer[-1].headers["Retry-After"]) >= 1
        # the operator role has no quota by default
        assert all(client.get(url, headers=OPERATOR).status_code == 200 for _ in range(5))
