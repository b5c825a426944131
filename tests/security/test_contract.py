"""Rows 9-10 of issue 11: the same fault gets the same status and the JSON envelope on every
route: invalid UTF-8 in a body, and malformed HTTP (answered by the server, not the app),
against the real ``spam-gateway`` process."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.gateway import API_KEYS_JSON, OPERATOR, GatewayProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def process(tmp_path_factory) -> Iterator[GatewayProcess]:
    tmp: Path = tmp_path_factory.mktemp("contract")
    gateway = GatewayProcess(
        {
            "SPAM_GATEWAY_TRANSFORMER_URL": "http://127.0.0.1:9",
            "SPAM_GATEWAY_API_KEYS": API_KEYS_JSON,
            "SPAM_GATEWAY_INFERENCE_LOG_URL": str(tmp / "logs"),
            "SPAM_GATEWAY_INFERENCE_LOG_SPOOL_DIR": str(tmp / "spool"),
            "SPAM_GATEWAY_BATCH_BACKEND": "local",
            "SPAM_GATEWAY_MODEL_VERSION_STAGING": "1",
        },
        tmp / "gateway.log",
    ).start()
    yield gateway
    gateway.stop()


@pytest.mark.parametrize("path", ["/predict", "/predict/batch-sync", "/predict/batch"])
def test_row9_invalid_utf8_is_the_same_422_on_every_route(process, path: str) -> None:
    r = httpx.post(
        f"{process.url}{path}",
        content=b'{"email_id": "\xff\xfe"}',
        headers={**OPERATOR, "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 422, r.text
    doc = r.json()
    assert doc["error"]["code"] == "invalid_input" and doc["correlation_id"]


def test_row10_malformed_http_is_the_json_envelope(process) -> None:
    with socket.create_connection(("127.0.0.1", process.port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\nb\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), data
    assert b"content-type: application/json" in head.lower()
    import orjson

    doc = orjson.loads(body)
    assert doc["error"]["code"] == "bad_request" and doc["correlation_id"]
