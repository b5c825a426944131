"""POST /predict/batch-sync through the real chain: one bad e-mail fails alone.

Items that are not valid e-mails (gateway validation) and e-mails the transformer refuses
(over a parsing limit: a 600-level MIME nesting, refused by the real parser) are answered in
``errors`` with their index; the others are scored as ``/predict`` scores them, in order, with
``null`` at the failed positions, and only they reach the inference log.
"""

from __future__ import annotations

import httpx
import pyarrow.dataset as ds
import pytest

from spam_gateway.app.scoring import MAX_REFUSALS
from tests.utils.gateway import OPERATOR, VIEWER

pytestmark = pytest.mark.timeout(180)

NESTED = (
    "".join(f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n" for i in range(600))
    + "Content-Type: text/plain\n\nx\n"
)  # over MAX_MIME_DEPTH: the transformer refuses it (422 naming the e-mail)
KEYS = {"predictions", "errors", "total", "succeeded", "failed", "environment", "latency_ms"}


def ok(i: int) -> dict[str, str]:
    return {
        "email_id": f"ok-{i}",
        "subject": f"Re: notes #{i}",
        "body": "Thanks, see you at the review on Thursday.",
        "sender": "Ann Lee <ann.lee@example.org>",
    }


def post(gateway, body, cid: str | None = None, **headers: str) -> httpx.Response:
    if cid:
        headers["X-Correlation-ID"] = cid
    return httpx.post(
        gateway.url + "/predict/batch-sync", json=body, headers={**VIEWER, **headers}, timeout=60
    )


def logged_ids(gateway, correlation_id: str) -> list[str]:
    r = httpx.post(gateway.url + "/admin/inference-log/flush", headers=OPERATOR, timeout=30)
    assert r.status_code == 200, r.text
    table = ds.dataset(gateway.settings.INFERENCE_LOG_URL, partitioning="hive").to_table(
        filter=ds.field("correlation_id") == correlation_id
    )
    return sorted(table.column("email_id").to_pylist())


def test_bad_emails_fail_alone_in_order_with_counts(gateway) -> None:
    emails = [
        ok(0),
        {"email_id": "no-sender", "subject": "hi", "body": "hello"},  # gateway validation
        42,  # not an object at all
        {"email_id": "nested", "raw": NESTED},  # the transformer refuses it
        {"email_id": "both", "raw": "Subject: x\n\ny", "subject": "x"},  # either/or rule
        ok(5),
    ]
    r = post(gateway, {"emails": emails}, cid="bs-mixed", **{"X-Environment": "production"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert set(doc) == KEYS
    assert (doc["total"], doc["succeeded"], doc["failed"]) == (6, 2, 4)
    assert doc["environment"] == "production" and doc["latency_ms"] > 0
    predictions = doc["predictions"]
    assert [p and p["email_id"] for p in predictions] == ["ok-0", None, None, None, None, "ok-5"]
    assert {p["model_version"] for p in predictions if p} == {"1"}  # production's model
    errors = {e["index"]: e for e in doc["errors"]}
    assert sorted(errors) == [1, 2, 3, 4] and [e["index"] for e in doc["errors"]] == [1, 2, 3, 4]
    assert {e["code"] for e in errors.values()} == {"invalid_input"}
    assert [errors[i]["email_id"] for i in (1, 2, 3, 4)] == ["no-sender", None, "nested", "both"]
    assert "missing sender" in errors[1]["message"]
    assert errors[2]["details"][0]["type"] == "model_type"
    assert "MAX_MIME_DEPTH" in errors[3]["message"]
    assert errors[3]["details"][0]["type"] == "limit_exceeded"
    assert errors[3]["details"][0]["loc"] == []
    assert "either raw" in errors[4]["message"]
    # the scored ones score as /predict scores them
    single = httpx.post(
        gateway.url + "/predict", json=ok(5), headers={**VIEWER, "X-Environment": "production"}
    ).json()
    assert predictions[5]["spam_probability"] == pytest.approx(single["spam_probability"], 1e-6)
    # only they are logged
    assert logged_ids(gateway, "bs-mixed") == ["ok-0", "ok-5"]
    metrics = httpx.get(gateway.url + "/metrics", timeout=10).text
    assert (
        'spam_gateway_batch_item_errors_total{environment="production",reason="refused"}' in metrics
    )


def test_many_refusals_go_one_by_one_and_still_answer_each(gateway) -> None:
    """More refused e-mails than MAX_REFUSALS: the rest are sent one by one."""
    n_bad = MAX_REFUSALS + 2
    emails = []
    for i in range(2 * n_bad):
        emails.append({"email_id": f"nested-{i}", "raw": NESTED} if i % 2 else ok(i))
    r = post(gateway, {"emails": emails}, cid="bs-many")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["succeeded"], doc["failed"]) == (n_bad, n_bad)
    assert [e["index"] for e in doc["errors"]] == list(range(1, 2 * n_bad, 2))
    assert all("MAX_MIME_DEPTH" in e["message"] for e in doc["errors"])
    assert [p["email_id"] if p else None for p in doc["predictions"]] == [
        None if i % 2 else f"ok-{i}" for i in range(2 * n_bad)
    ]
    assert logged_ids(gateway, "bs-many") == sorted(f"ok-{i}" for i in range(0, 2 * n_bad, 2))


def test_every_email_bad_is_still_an_answer(gateway) -> None:
    r = post(gateway, {"emails": [{"email_id": "x"}, {"email_id": "y", "raw": NESTED}]})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["predictions"] == [None, None]
    assert (doc["total"], doc["succeeded"], doc["failed"]) == (2, 0, 2)


def test_a_long_invalid_email_id_is_not_echoed(gateway) -> None:
    r = post(gateway, {"emails": [{"email_id": "x" * 300, "subject": "s", "body": "b"}]})
    (error,) = r.json()["errors"]
    assert error["email_id"] is None and error["index"] == 0


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"emails": "not a list"}',
        b'[{"email_id": "a", "raw": "x"}]',
        b'{"emails": [{"email_id": "a", "raw": "x"}], "model_stage": "Production"}',
        b'{"emails": []}',
    ],
    ids=["not-json", "emails-not-a-list", "not-an-object", "unknown-field", "empty"],
)
def test_a_malformed_body_still_fails_as_a_whole(gateway, body: bytes) -> None:
    r = httpx.post(
        gateway.url + "/predict/batch-sync",
        content=body,
        headers={**VIEWER, "Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_input"


def test_openapi_documents_the_batch_answer(gateway) -> None:
    spec = httpx.get(gateway.url + "/openapi.json", timeout=10).json()
    responses = spec["paths"]["/predict/batch-sync"]["post"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BatchSyncOut"
    }
    out = spec["components"]["schemas"]["BatchSyncOut"]
    assert set(out["required"]) == KEYS
    items = out["properties"]["predictions"]["items"]["anyOf"]
    assert {"$ref": "#/components/schemas/PredictionOut"} in items and {"type": "null"} in items
    error = spec["components"]["schemas"]["ItemError"]
    assert {"index", "email_id", "code", "message"} <= set(error["required"])
