"""POST /predict and /predict/batch-sync through the real chain (transformer → Triton).

The session's bundles give the staging track model version "2" (threshold 0.4) and production
"1" (threshold 0.5), so routing mistakes show in every answer.
"""

from __future__ import annotations

import math

import httpx
import pytest

from tests.utils import emails
from tests.utils.gateway import VIEWER

pytestmark = pytest.mark.timeout(120)

LOTTERY = {
    "email_id": "lottery",
    "subject": "CONGRATULATIONS!!! You WON $1,000,000",
    "body": "Claim your lottery prize NOW!!! Click http://192.168.10.1/claim and send your "
    "bank details. Act now, limited time offer, 100% free money $$$",
    "sender": "Lottery Board <winner83721@freemail.example>",
}
MEETING = {
    "email_id": "meeting",
    "subject": "Meeting moved to 3pm",
    "body": "Hi team,\nthe design review moves to 3pm in room 2. Agenda attached.\nAnn",
    "sender": "Ann Lee <ann.lee@example.org>",
    "date": "Tue, 03 Sep 2002 10:15:00 +0200",
}
KEYS = {
    "email_id",
    "prediction",
    "spam_probability",
    "confidence",
    "model_name",
    "model_version",
    "environment",
    "latency_ms",
}


def post(gateway, path: str, body, **headers: str) -> httpx.Response:
    return httpx.post(gateway.url + path, json=body, headers={**VIEWER, **headers}, timeout=60)


def test_predict_contract_and_labels(gateway) -> None:
    for email, label in ((LOTTERY, "spam"), (MEETING, "ham")):
        r = post(gateway, "/predict", email)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        doc = r.json()
        assert set(doc) == KEYS
        assert doc["email_id"] == email["email_id"]
        assert doc["prediction"] == label
        assert 0.0 <= doc["spam_probability"] <= 1.0
        assert doc["confidence"] in ("low", "medium", "high")
        assert (doc["model_name"], doc["environment"]) == ("spam-detector", "staging")
        assert doc["model_version"] == "2"
        assert doc["latency_ms"] > 0


def test_raw_and_fields_agree(gateway) -> None:
    raw = emails.simple(
        subject=MEETING["subject"],
        body=MEETING["body"],
        sender=MEETING["sender"],
        date=MEETING["date"],
    ).decode()
    by_fields = post(gateway, "/predict", MEETING).json()
    by_raw = post(gateway, "/predict", {"email_id": "meeting", "raw": raw}).json()
    assert by_raw["spam_probability"] == pytest.approx(by_fields["spam_probability"], abs=1e-6)


@pytest.mark.parametrize(
    ("header", "environment", "version"),
    [(None, "staging", "2"), ("staging", "staging", "2"), ("production", "production", "1"),
     ("Production", "production", "1")],
)  # fmt: skip
def test_x_environment_selects_the_track(gateway, header, environment, version) -> None:
    headers = {"X-Environment": header} if header else {}
    doc = post(gateway, "/predict", LOTTERY, **headers).json()
    assert (doc["environment"], doc["model_version"]) == (environment, version)


def test_tracks_are_different_models(gateway) -> None:
    staging = post(gateway, "/predict", MEETING, **{"X-Environment": "staging"}).json()
    production = post(gateway, "/predict", MEETING, **{"X-Environment": "production"}).json()
    assert staging["spam_probability"] != production["spam_probability"]


@pytest.mark.parametrize("value", ["dev", "", "prod", "staging,production"])
def test_unknown_environment_is_422(gateway, value) -> None:
    r = post(gateway, "/predict", LOTTERY, **{"X-Environment": value})
    assert r.status_code == 422
    doc = r.json()
    assert doc["error"]["code"] == "invalid_environment"
    assert doc["error"]["details"]["allowed"] == ["staging", "production"]


def batch(n: int) -> list[dict[str, str]]:
    return [
        {**(LOTTERY if i % 2 else MEETING), "email_id": f"b{i}", "subject": f"#{i} subject"}
        for i in range(n)
    ]


def test_batch_sync_of_100_answers_each_in_order(gateway) -> None:
    emails_ = batch(100)
    r = post(gateway, "/predict/batch-sync", {"emails": emails_}, **{"X-Environment": "production"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["total"], answer["succeeded"], answer["failed"]) == (100, 100, 0)
    assert answer["errors"] == [] and answer["environment"] == "production"
    docs = answer["predictions"]
    assert len(docs) == 100
    assert [d["email_id"] for d in docs] == [e["email_id"] for e in emails_]
    assert {d["environment"] for d in docs} == {"production"}
    assert all(set(d) == KEYS for d in docs)
    production = {"X-Environment": "production"}
    singles = {e["email_id"]: post(gateway, "/predict", e, **production) for e in emails_[:4]}
    for doc in docs[:4]:
        assert doc["spam_probability"] == pytest.approx(
            singles[doc["email_id"]].json()["spam_probability"], abs=1e-6
        )


@pytest.mark.parametrize("n", [0, 101])
def test_batch_sync_limits_are_422(gateway, n) -> None:
    r = post(gateway, "/predict/batch-sync", {"emails": batch(n)})
    assert r.status_code == 422
    doc = r.json()
    assert doc["error"]["code"] == "invalid_input"
    assert doc["error"]["details"][0]["loc"] == ["body", "emails"]


def test_corpus_messages_score(gateway, corpus_dir) -> None:
    from tests.utils.serving import corpus_messages

    messages = [{"email_id": i, "raw": raw} for i, raw in corpus_messages(corpus_dir, 10)]
    docs = post(gateway, "/predict/batch-sync", {"emails": messages}).json()["predictions"]
    spam = [d for d in docs if "spam" in d["email_id"].split("/")[0]]
    ham = [d for d in docs if "ham" in d["email_id"].split("/")[0]]
    assert sum(d["prediction"] == "spam" for d in spam) >= 8
    assert sum(d["prediction"] == "ham" for d in ham) >= 16


def test_concurrent_singles_are_merged_and_each_gets_its_own_answer(gateway) -> None:
    """Single predictions arriving together share transformer calls; answers stay per e-mail."""
    import asyncio

    emails_ = batch(40)

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=gateway.url, headers=VIEWER, timeout=60) as client:
            return await asyncio.gather(*(client.post("/predict", json=e) for e in emails_))

    before = gateway.app.state.metrics.upstream_batch.labels("staging")._sum.get()
    calls_before = upstream_calls(gateway)
    responses = asyncio.run(run())
    assert [r.json()["email_id"] for r in responses] == [e["email_id"] for e in emails_]
    sent = gateway.app.state.metrics.upstream_batch.labels("staging")._sum.get() - before
    assert sent == 40
    assert upstream_calls(gateway) - calls_before < 40


def upstream_calls(gateway) -> float:
    metric = gateway.app.state.metrics.upstream_batch
    return sum(s.value for s in metric.collect()[0].samples if s.name.endswith("_count"))


def test_explain_on_both_routes(gateway) -> None:
    r = post(gateway, "/predict?explain=true", LOTTERY)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert set(doc) == KEYS | {"explanation"}
    e = doc["explanation"]
    assert set(e) == {"margin", "bias", "top"} and e["top"]
    assert 1 / (1 + math.exp(-e["margin"])) == pytest.approx(doc["spam_probability"], abs=1e-5)
    assert set(e["top"][0]) == {"feature", "kind", "label", "value", "contribution"}
    r = post(gateway, "/predict/batch-sync?explain=true", {"emails": [LOTTERY, MEETING]})
    assert r.status_code == 200, r.text
    explained = r.json()["predictions"]
    assert [set(d) for d in explained] == [KEYS | {"explanation"}] * 2
    plain = post(gateway, "/predict/batch-sync", {"emails": [LOTTERY, MEETING]}).json()
    plain = plain["predictions"]
    assert [set(d) for d in plain] == [KEYS] * 2
    assert [d["spam_probability"] for d in plain] == [d["spam_probability"] for d in explained]
