"""The /v1/predict contract through the real stack: transformer → bundled Triton → real models.

``transformer`` is the real ``spam-transformer`` entry point (subprocess, gRPC to Triton);
``transformer_http`` the same app in process with HTTP to Triton. Parity tests run on both.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import numpy as np
import pytest

from spam_core.features import N_TFIDF, NAMED_FEATURES
from spam_core.features.spec import FEATURE_SET_VERSION
from spam_core.message import parse_fields, parse_raw
from spam_core.scoring import confidence
from tests.utils import emails
from tests.utils.serving import TRACKS, TRITON_MODELS

pytestmark = pytest.mark.timeout(180)

MEETING = {
    "subject": "Meeting moved to 3pm",
    "body": "Hi team,\nthe design review moves to 3pm in room 2. Agenda attached.\nAnn",
    "sender": "Ann Lee <ann.lee@example.org>",
    "date": "Tue, 03 Sep 2002 10:15:00 +0200",
}
LOTTERY = {
    "subject": "CONGRATULATIONS!!! You WON $1,000,000",
    "body": "Claim your lottery prize NOW!!! Click http://192.168.10.1/claim and send your "
    "bank details. Act now, limited time offer, 100% free money $$$",
    "sender": "Lottery Board <winner83721@freemail.example>",
}


@pytest.fixture(params=["grpc", "http"])
def any_transformer(request: pytest.FixtureRequest):
    return request.getfixturevalue("transformer" if request.param == "grpc" else "transformer_http")


def predict(url: str, environment: str, batch: list[dict], **headers: str) -> dict:
    response = httpx.post(
        f"{url}/v1/predict",
        json={"environment": environment, "emails": batch},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def probabilities(doc: dict) -> np.ndarray:
    return np.array([p["spam_probability"] for p in doc["predictions"]])


def test_fields_and_raw_give_the_same_prediction(transformer) -> None:
    raw = emails.simple(**MEETING).decode()
    batch = [{"email_id": "fields", **MEETING}, {"email_id": "raw", "raw": raw}]
    by_fields, by_raw = predict(transformer.url, "production", batch)["predictions"]
    assert by_fields["spam_probability"] == by_raw["spam_probability"]
    assert by_fields["features"] == by_raw["features"]
    assert by_fields["prediction"] == by_raw["prediction"]
    # and one by one (the single-e-mail path) gives the same again
    (single,) = predict(transformer.url, "production", batch[1:])["predictions"]
    assert single["spam_probability"] == pytest.approx(by_raw["spam_probability"], abs=1e-6)


def test_a_lottery_scam_is_spam_and_a_meeting_note_is_ham(transformer) -> None:
    batch = [{"email_id": "scam", **LOTTERY}, {"email_id": "note", **MEETING}]
    for environment in TRACKS:
        scam, note = predict(transformer.url, environment, batch)["predictions"]
        assert (scam["prediction"], note["prediction"]) == ("spam", "ham"), (scam, note)


def test_a_batch_answers_each_email_in_order(transformer, corpus_emails: list[dict]) -> None:
    batch = corpus_emails[::3][:37]
    doc = predict(transformer.url, "production", batch)
    assert [p["email_id"] for p in doc["predictions"]] == [e["email_id"] for e in batch]
    singles = [predict(transformer.url, "production", [e])["predictions"][0] for e in batch[:10]]
    np.testing.assert_allclose(
        probabilities(doc)[:10], [s["spam_probability"] for s in singles], rtol=0, atol=1e-6
    )
    # a full batch of MAX_BATCH (100) is one request
    full = (corpus_emails * 2)[:100]
    assert len(predict(transformer.url, "staging", full)["predictions"]) == 100


@pytest.mark.parametrize("environment", TRACKS)
def test_parity_with_the_bundle_in_process(
    any_transformer,
    loaded_bundles,
    online_reputation,
    corpus_emails: list[dict],
    environment: str,
) -> None:
    """The transformer (features + reputation from the Feast online store + Triton) and
    ModelBundle.predict_records (the same features, an OnlineReputation on the same repository,
    onnxruntime in this process) agree to 1e-6 on real corpus e-mails."""
    bundle = loaded_bundles[environment]
    got, labels, confidences = [], [], []
    for start in range(0, len(corpus_emails), 40):
        doc = predict(any_transformer.url, environment, corpus_emails[start : start + 40])
        got.extend(probabilities(doc))
        labels.extend(p["prediction"] for p in doc["predictions"])
        confidences.extend(p["confidence"] for p in doc["predictions"])
        assert doc["threshold"] == bundle.threshold
    records = [parse_raw(e["raw"], e["email_id"]) for e in corpus_emails]
    want = bundle.predict_records(records, online_reputation)
    assert len(got) == len(want) == len(corpus_emails)
    assert np.max(np.abs(np.array(got) - want)) <= 1e-6
    assert labels == ["spam" if p >= bundle.threshold else "ham" for p in got]
    assert confidences == [confidence(p, bundle.threshold) for p in got]
    assert 0 < labels.count("spam") < len(labels)  # real traffic: both classes


def test_tracks_route_to_their_own_model_and_threshold(
    transformer, triton_server, corpus_emails: list[dict], model_bundles: dict[str, Path]
) -> None:
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(triton_server.http_address)

    def counts() -> dict[str, tuple[int, int]]:
        """(requests, rows) Triton has answered, per track's model."""
        out = {}
        for track in TRACKS:
            (stats,) = client.get_inference_statistics(TRITON_MODELS[track])["model_stats"]
            out[track] = (stats["inference_stats"]["success"]["count"], stats["inference_count"])
        return out

    batch = corpus_emails[:30]
    before = counts()
    staging = predict(transformer.url, "staging", batch)
    after_staging = counts()
    production = predict(transformer.url, "production", batch)
    after_production = counts()
    client.close()
    # ONE Triton request of 30 rows per transformer request, on the track's own model only
    delta = after_staging["staging"][0] - before["staging"][0]
    assert (delta, after_staging["staging"][1] - before["staging"][1]) == (1, 30)
    assert after_staging["production"] == before["production"]
    delta = after_production["production"][0] - after_staging["production"][0]
    assert (delta, after_production["production"][1] - after_staging["production"][1]) == (1, 30)
    assert after_production["staging"] == after_staging["staging"]

    assert (staging["model_version"], production["model_version"]) == ("2", "1")
    assert (staging["threshold"], production["threshold"]) == (0.4, 0.5)
    assert staging["model_name"] == production["model_name"] == "spam-detector"
    assert staging["environment"] == "staging"
    assert production["environment"] == "production"
    assert not np.allclose(probabilities(staging), probabilities(production))
    assert staging["latency_ms"] > 0


def test_named_features_are_reported_by_name(
    transformer, loaded_bundles, online_reputation
) -> None:
    doc = predict(transformer.url, "staging", [{"email_id": "scam", **LOTTERY}])
    (prediction,) = doc["predictions"]
    assert list(prediction["features"]) == list(NAMED_FEATURES)
    record = parse_fields(email_id="scam", **LOTTERY)
    vector = loaded_bundles["staging"].extractor.transform_record(record, online_reputation)
    np.testing.assert_allclose(
        list(prediction["features"].values()), vector[N_TFIDF:], rtol=0, atol=1e-6
    )
    assert prediction["features"]["url_ip_host"] == 1.0
    assert prediction["features"]["date_missing"] == 1.0


def test_health_ready_metrics_and_openapi(transformer) -> None:
    url = transformer.url
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "alive"
    assert health["tracks"] == {"staging": True, "production": True}

    ready = httpx.get(f"{url}/ready")
    assert ready.status_code == 200, ready.text
    tracks = ready.json()["tracks"]
    assert tracks["staging"]["ready"] and tracks["production"]["ready"]
    assert tracks["staging"]["triton_model"] == "spam-detector-staging"
    assert tracks["production"]["model_version"] == "1"
    assert tracks["production"]["protocol"] == "grpc"
    # what /models of the gateway reports: the bundle's threshold and feature set, when built
    # and when loaded here
    assert (tracks["staging"]["threshold"], tracks["production"]["threshold"]) == (0.4, 0.5)
    assert tracks["staging"]["feature_set"] == FEATURE_SET_VERSION
    assert tracks["staging"]["trained_at"] <= tracks["staging"]["loaded_at"]

    predict(url, "production", [{"email_id": "m", **MEETING}], **{"X-Request-ID": "abc-123"})
    metrics = httpx.get(f"{url}/metrics")
    assert metrics.status_code == 200
    text = metrics.text
    assert 'spam_transformer_requests_total{environment="production",status="200"}' in text
    assert (
        'spam_transformer_triton_latency_seconds_count{environment="production",protocol="grpc"}'
        in text
    )
    assert 'spam_transformer_emails_total{environment="production",prediction="ham"}' in text
    assert 'spam_transformer_model_info{environment="staging",model_name="spam-detector"' in text

    openapi = httpx.get(f"{url}/openapi.json").json()
    body = openapi["paths"]["/v1/predict"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PredictRequest"
    }
    schemas = openapi["components"]["schemas"]
    assert {"PredictRequest", "EmailIn", "PredictResponse", "ErrorResponse"} <= set(schemas)


def test_sigterm_stops_the_entry_point_cleanly(
    model_bundles, triton_server, feast_repo, tmp_path
) -> None:
    from tests.utils.serving import TransformerProcess, transformer_env

    process = TransformerProcess(
        transformer_env(model_bundles, triton_server, "grpc", feast_repo), tmp_path / "t.log"
    ).start()
    predict(process.url, "staging", [{"email_id": "m", **MEETING}])
    # uvicorn finishes in-flight requests, runs the lifespan shutdown (Triton clients closed),
    # then re-raises the signal, so the exit status says "terminated by SIGTERM"
    assert process.stop() in (0, -signal.SIGTERM), process.log()
    assert "transformer stopped" in (tmp_path / "t.log").read_text()


def test_explain_adds_contributions_that_add_up_to_the_score(transformer) -> None:
    batch = [{"email_id": "scam", **LOTTERY}, {"email_id": "note", **MEETING}]
    plain = predict(transformer.url, "production", batch)
    assert all("explanation" not in p for p in plain["predictions"])
    response = httpx.post(
        f"{transformer.url}/v1/predict",
        json={"environment": "production", "emails": batch, "explain": True},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    for p, q in zip(response.json()["predictions"], plain["predictions"], strict=True):
        assert p["spam_probability"] == q["spam_probability"]
        e = p["explanation"]
        # the explained margin is the log-odds of the probability Triton's ONNX model gave
        assert 1 / (1 + np.exp(-e["margin"])) == pytest.approx(p["spam_probability"], abs=1e-5)
        assert 1 <= len(e["top"]) <= 10
        sizes = [abs(t["contribution"]) for t in e["top"]]
        assert sizes == sorted(sizes, reverse=True)
        assert {t["kind"] for t in e["top"]} <= {"term", "content", "reputation"}
    scam_top = response.json()["predictions"][0]["explanation"]["top"]
    assert sum(t["contribution"] for t in scam_top) > 0  # what makes the scam spam


def _heavy_raw(parts: int = 900, part_chars: int = 9_000) -> str:
    """A valid message at the size limits: hundreds of text parts (offloaded to the pool)."""
    boundary = "b0undary"
    chunk = ("Lorem ipsum dolor sit amet offer click money meeting " * 200)[:part_chars]
    body = "".join(
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{chunk}\r\n"
        for _ in range(parts)
    )
    return (
        "From: Bulk <bulk@example.org>\r\nSubject: heavy\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n{body}--{boundary}--\r\n'
    )


def test_a_busy_transformer_stops_on_sigterm_within_its_grace_period(
    model_bundles, triton_server, feast_repo, tmp_path
) -> None:
    """Clients keep the worker pool parsing heavy e-mails; SIGTERM still stops the process
    within ``GRACEFUL_SHUTDOWN_S`` (the chart's terminationGracePeriodSeconds is above it)."""
    import threading
    import time

    from tests.utils.serving import TransformerProcess, transformer_env

    grace = 2.0  # 24 clients keep more queued work than this in the pool
    process = TransformerProcess(
        transformer_env(
            model_bundles, triton_server, "grpc", feast_repo, graceful_shutdown_s=grace
        ),
        tmp_path / "t.log",
    ).start()
    raw = _heavy_raw()
    body = {"environment": "staging", "emails": [{"email_id": "heavy", "raw": raw}]}
    started = threading.Event()
    stop = threading.Event()
    answers: list[int] = []

    def client() -> None:
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                started.set()
                try:
                    answers.append(http.post(f"{process.url}/v1/predict", json=body).status_code)
                except httpx.HTTPError:
                    return  # the server went away: what SIGTERM is for

    # one heavy request alone takes this long: the load below keeps the pool busy for longer
    t0 = time.monotonic()
    assert httpx.post(f"{process.url}/v1/predict", json=body, timeout=60).status_code == 200
    one = time.monotonic() - t0
    clients = [threading.Thread(target=client, daemon=True) for _ in range(24)]
    for t in clients:
        t.start()
    started.wait(10)
    time.sleep(max(1.0, 2 * one))  # requests queued and in flight in the pool
    assert process.process is not None and process.process.poll() is None
    t0 = time.monotonic()
    status = process.stop(timeout=grace + 10)
    took = time.monotonic() - t0
    stop.set()
    for t in clients:
        t.join(10)
    # stopped by the signal (not killed after the harness's timeout), within the grace period
    # plus one in-flight parse
    assert status in (0, -signal.SIGTERM), process.log()
    assert took <= grace + one + 2.0, (took, one, process.log())
    assert set(answers) <= {200, 503}, answers
    assert "transformer stopped" in (tmp_path / "t.log").read_text()
