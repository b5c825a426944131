"""Invalid requests: 4xx with ``{"error": {"code", "message", "details"}}``, never a bare error.

Run against the real entry point (``transformer``) and against an in-process transformer with
small limits (``MAX_BATCH=5``, ``MAX_REQUEST_BYTES=4096``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.serving import InProcessTransformer, transformer_env

pytestmark = pytest.mark.timeout(120)

OK = {"email_id": "m1", "subject": "hi", "body": "see you", "sender": "a@b.example"}


@pytest.fixture(scope="module")
def limited(
    model_bundles: dict[str, Path], triton_server, feast_repo: Path
) -> Iterator[InProcessTransformer]:
    env = transformer_env(
        model_bundles, triton_server, "grpc", feast_repo, max_batch=5, max_request_bytes=4096
    )
    with InProcessTransformer(env) as server:
        yield server


def post(url: str, content: bytes | str, path: str = "/v1/predict") -> httpx.Response:
    return httpx.post(
        f"{url}{path}", content=content, headers={"Content-Type": "application/json"}, timeout=30
    )


def error_of(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    doc = response.json()
    assert set(doc) == {"error"}
    assert set(doc["error"]) == {"code", "message", "details"}
    assert doc["error"]["code"] == code, doc
    assert doc["error"]["message"]
    return doc["error"]


def body(emails: list, environment: str = "production") -> str:
    import json

    return json.dumps({"environment": environment, "emails": emails})


@pytest.mark.parametrize(
    ("content", "loc", "message"),
    [
        ("{not json", [], "JSON"),
        ("[1, 2]", [], "object"),
        ('{"environment": "staging"}', ["emails"], "Field required"),
        (body([{"subject": "x", "body": "y", "sender": "z"}]), ["emails", 0, "email_id"], ""),
        (
            body([{"email_id": "a", "subject": "x", "body": "y"}]),
            ["emails", 0],
            "missing sender",
        ),
        (body([{"email_id": "a", "raw": "x", "subject": "s"}]), ["emails", 0], "not both"),
        (body([{**OK, "priority": "high"}]), ["emails", 0, "priority"], "Extra inputs"),
        (body([{**OK, "subject": 42}]), ["emails", 0, "subject"], "string"),
        (body([OK], environment=None), ["environment"], "string"),
    ],
    ids=[
        "malformed-json",
        "not-an-object",
        "no-emails",
        "no-email-id",
        "fields-incomplete",
        "raw-and-fields",
        "unknown-field",
        "wrong-type",
        "null-environment",
    ],
)
def test_schema_errors_are_422(transformer, content: str, loc: list, message: str) -> None:
    error = error_of(post(transformer.url, content), 422, "validation_error")
    details = error["details"]
    assert any(d["loc"] == loc for d in details), details
    assert any(message in d["msg"] for d in details), details


def test_batch_limits(transformer, limited) -> None:
    error = error_of(post(transformer.url, body([])), 422, "invalid_input")
    assert "1 to 100" in error["message"]
    too_many = [{**OK, "email_id": f"m{i}"} for i in range(101)]
    error = error_of(post(transformer.url, body(too_many)), 422, "invalid_input")
    assert "got 101" in error["message"]
    error_of(post(limited.url, body(too_many[:6])), 422, "invalid_input")
    assert post(limited.url, body(too_many[:5])).status_code == 200


def test_unknown_environment(transformer) -> None:
    error = error_of(post(transformer.url, body([OK], "canary")), 422, "unknown_environment")
    assert error["details"] == {"allowed": ["production", "staging"]}


def test_unparseable_email_names_its_position(transformer) -> None:
    nested = "".join(f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n" for i in range(30))
    batch = [OK, {"email_id": "nested", "raw": nested}]  # valid JSON, over MAX_MIME_DEPTH
    error = error_of(post(transformer.url, body(batch)), 422, "invalid_input")
    assert "'nested'" in error["message"]
    assert error["details"][0]["loc"] == ["emails", 1]
    # a raw of blanks only is refused by the wire schema already
    blank = [OK, {"email_id": "empty", "raw": "  \r\n "}]
    error = error_of(post(transformer.url, body(blank)), 422, "validation_error")
    assert error["details"][0]["loc"] == ["emails", 1, "raw"]


def test_oversized_body_is_413(limited) -> None:
    big = body([{**OK, "body": "x" * 5000}])
    error_of(post(limited.url, big), 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield big[:2000].encode()
        yield big[2000:].encode()

    response = httpx.post(f"{limited.url}/v1/predict", content=chunks(), timeout=30)
    error_of(response, 413, "payload_too_large")


def test_unknown_routes_and_methods_answer_json(transformer) -> None:
    error_of(httpx.get(f"{transformer.url}/v2/models"), 404, "not_found")
    error_of(httpx.get(f"{transformer.url}/v1/predict"), 405, "method_not_allowed")


def test_rejections_are_counted(limited) -> None:
    post(limited.url, body([OK], "canary"))
    post(limited.url, "{")
    text = httpx.get(f"{limited.url}/metrics").text
    counts = re.findall(
        r'spam_transformer_requests_total\{environment="unknown",status="422"\} (\S+)', text
    )
    assert counts and float(counts[0]) >= 2
