"""Shadow scoring (``app/shadow.py``) through the real chain gateway → transformer → Triton.

The session's bundles serve staging v2 (threshold 0.4) and production v1 (threshold 0.5), so
the two scores of a shadow row come from different models. "Staging down" is a transformer of
its own whose staging predictor is a gRPC server that takes every call and never answers (a hung
Triton): every staging call hangs until a timeout, while production is served as usual.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
import pytest

from tests.utils.gateway import OPERATOR, VIEWER, GatewayServer, wait_until
from tests.utils.serving import TransformerProcess, transformer_env

pytestmark = pytest.mark.timeout(240)

PRODUCTION = {**VIEWER, "X-Environment": "production"}


def shadow_rows(gateway: GatewayServer):
    """The shadow log's rows once every sampled e-mail is settled and the log flushed."""
    from spam_core import shadow_log
    from spam_core.storage import open_location

    shadow = gateway.app.state.shadow
    wait_until(
        lambda: shadow.inflight == 0 and not shadow.stats()["pending"],
        30,
        message="shadow calls still running",
    )
    assert shadow.log.flush(30)
    location = open_location(gateway.settings.SHADOW_LOG_URL)
    return shadow_log.read_log(location.fs, location.root).to_pylist()


def metric(gateway: GatewayServer, name: str) -> float:
    text = httpx.get(gateway.url + "/metrics", timeout=10).text
    values = re.findall(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    assert values, f"{name} not in /metrics"
    return float(values[0])


def shadow_gateway(make_gateway, transformer_url: str, tmp: Path, **overrides) -> GatewayServer:
    return make_gateway(
        TRANSFORMER_URL=transformer_url,
        MODEL_VERSION_STAGING="2",
        MODEL_VERSION_PRODUCTION="1",
        INFERENCE_LOG_FLUSH_INTERVAL_S=0.5,
        SHADOW_ENABLED=True,
        SHADOW_LOG_URL=str(tmp / "shadow-logs"),
        SHADOW_LOG_SPOOL_DIR=tmp / "shadow-spool",
        **overrides,
    )


def test_rate_one_logs_both_scores_of_every_production_email(
    make_gateway, transformer, corpus_emails, tmp_path
) -> None:
    from spam_core.feedback import email_key
    from spam_core.scoring import record_from_input

    gateway = shadow_gateway(make_gateway, transformer.url, tmp_path, SHADOW_SAMPLE_RATE=1.0)
    singles, batch, staging_only = corpus_emails[:6], corpus_emails[6:11], corpus_emails[11:14]
    answers = {}
    for email in singles[:5]:
        r = httpx.post(gateway.url + "/predict", json=email, headers=PRODUCTION, timeout=60)
        assert r.status_code == 200, r.text
        answers[email["email_id"]] = (r.json(), "predict")
    r = httpx.post(gateway.url + "/predict/production", json=singles[5], headers=VIEWER, timeout=60)
    assert r.status_code == 200, r.text
    answers[singles[5]["email_id"]] = (r.json(), "predict")
    # batch-sync: its scored e-mails are shadowed; the invalid item is not
    r = httpx.post(
        gateway.url + "/predict/batch-sync",
        json={"emails": [*batch, {"email_id": "bad"}]},
        headers=PRODUCTION,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.json()["failed"] == 1
    for p in r.json()["predictions"][:-1]:
        answers[p["email_id"]] = (p, "batch-sync")
    # the staging track (the default) is never shadowed
    for email in staging_only:
        r = httpx.post(gateway.url + "/predict", json=email, headers=VIEWER, timeout=60)
        assert r.status_code == 200

    rows = {row["email_id"]: row for row in shadow_rows(gateway)}
    assert set(rows) == set(answers)
    by_id = {e["email_id"]: e for e in corpus_emails}
    agree = []
    for email_id, (answer, route) in answers.items():
        row = rows[email_id]
        assert row["route"] == route
        assert row["production_model_version"] == answer["model_version"] == "1"
        assert row["production_spam_probability"] == answer["spam_probability"]
        assert row["production_prediction"] == answer["prediction"]
        assert row["production_threshold"] == 0.5
        # the shadow score is what the staging track answers for the same e-mail
        staging = httpx.post(
            gateway.url + "/predict", json=by_id[email_id], headers=VIEWER, timeout=60
        ).json()
        assert row["shadow_model_version"] == staging["model_version"] == "2"
        assert row["shadow_spam_probability"] == pytest.approx(staging["spam_probability"])
        assert row["shadow_prediction"] == staging["prediction"]
        agree.append(staging["prediction"] == answer["prediction"])
        assert row["shadow_threshold"] == 0.4
        assert row["email_key"] == email_key(record_from_input(**by_id[email_id]))
        assert row["shadow_latency_ms"] > 0
    assert metric(gateway, "spam_gateway_shadow_sampled_total") == len(answers)
    assert metric(gateway, "spam_gateway_shadow_scored_total") == len(answers)
    # what promote reads of this log: v2 beside v1, agreement of the logged predictions
    from spam_trainer.shadow import shadow_summary

    summary = shadow_summary(
        gateway.settings.SHADOW_LOG_URL, None, "2", "1", feedback_url=str(tmp_path / "none")
    )
    assert (summary.rows, summary.labelled) == (len(answers), 0)
    assert summary.agreement == pytest.approx(sum(agree) / len(agree))
    assert metric(gateway, "spam_gateway_shadow_log_records_written_total") == len(answers)
    # every answer is in the inference log as before (the shadow writes no row there): the
    # production answers, the staging-only ones and the staging answers compared above
    gateway.inference_log.flush(30)
    written = gateway.inference_log.stats()["records_written"]
    assert written == 2 * len(answers) + len(staging_only)


def test_rate_zero_shadows_nothing_and_sampling_follows_the_email_id(
    make_gateway, transformer, corpus_emails, tmp_path
) -> None:
    off = shadow_gateway(make_gateway, transformer.url, tmp_path / "off", SHADOW_SAMPLE_RATE=0.0)
    half = shadow_gateway(make_gateway, transformer.url, tmp_path / "half", SHADOW_SAMPLE_RATE=0.5)
    emails = corpus_emails[:40]
    for gateway in (off, half):
        r = httpx.post(
            gateway.url + "/predict/batch-sync",
            json={"emails": emails},
            headers=PRODUCTION,
            timeout=60,
        )
        assert r.status_code == 200 and r.json()["succeeded"] == 40
    assert shadow_rows(off) == []
    assert metric(off, "spam_gateway_shadow_sampled_total") == 0
    first = {row["email_id"] for row in shadow_rows(half)}
    assert 0 < len(first) < 40
    # the same ids again, one by one: the same e-mails are sampled (a hash of the id)
    for email in emails:
        r = httpx.post(half.url + "/predict", json=email, headers=PRODUCTION, timeout=60)
        assert r.status_code == 200
    again = [row["email_id"] for row in shadow_rows(half)]
    assert sorted(again) == sorted([*first, *first])


# --------------------------------------------------------------------------- staging down


class _Hang(grpc.GenericRpcHandler):
    """Every call, whatever its method, waits until released (then fails)."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def service(self, handler_call_details):
        def hang(request, context):
            self.release.wait(60)
            context.abort(grpc.StatusCode.UNAVAILABLE, "released")

        return grpc.unary_unary_rpc_method_handler(hang)


@pytest.fixture(scope="module")
def hung_staging(
    model_bundles: dict[str, Path], triton_server, feast_repo: Path, tmp_path_factory
) -> Iterator[TransformerProcess]:
    """A transformer whose staging predictor takes gRPC calls and never answers them."""
    release = threading.Event()
    server = grpc.server(ThreadPoolExecutor(max_workers=64))
    server.add_generic_rpc_handlers((_Hang(release),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    env = transformer_env(model_bundles, triton_server, "grpc", feast_repo, triton_timeout_s=5.0)
    env["SPAM_TRANSFORMER_PREDICTOR_STAGING_URL"] = f"127.0.0.1:{port}"
    process = TransformerProcess(
        env, tmp_path_factory.mktemp("hung-staging") / "transformer.log"
    ).start()
    try:
        yield process
    finally:
        process.stop()
        release.set()
        server.stop(0)


def _latencies(gateway: GatewayServer, emails, client: httpx.Client) -> list[float]:
    out = []
    for email in emails:
        started = time.perf_counter()
        r = client.post(gateway.url + "/predict", json=email, headers=PRODUCTION)
        out.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
    return out


def test_staging_down_leaves_production_answers_and_latency_alone(
    make_gateway, hung_staging, corpus_emails, tmp_path
) -> None:
    plain = make_gateway(TRANSFORMER_URL=hung_staging.url)
    shadowed = shadow_gateway(
        make_gateway, hung_staging.url, tmp_path, SHADOW_SAMPLE_RATE=1.0, SHADOW_TIMEOUT_S=0.5
    )
    emails = corpus_emails[:30]
    with httpx.Client(timeout=30) as client:
        _latencies(plain, emails[:3], client)  # warm both
        _latencies(shadowed, emails[:3], client)
        base, shadow = [], []
        for i in range(0, len(emails), 5):  # interleaved: the machine's load hits both alike
            base += _latencies(plain, emails[i : i + 5], client)
            shadow += _latencies(shadowed, emails[i : i + 5], client)
    # every shadow call hangs for 0.5 s; had a request waited for one, its median would show it
    assert statistics.median(shadow) < statistics.median(base) + 0.1, (base, shadow)
    settled = shadowed.app.state.shadow
    wait_until(lambda: settled.inflight == 0 and not settled.stats()["pending"], 30)
    assert metric(shadowed, 'spam_gateway_shadow_errors_total{kind="timeout"}') >= 1
    sampled = metric(shadowed, "spam_gateway_shadow_sampled_total")
    assert sampled == 33
    assert (
        metric(shadowed, "spam_gateway_shadow_failed_total")
        + metric(shadowed, "spam_gateway_shadow_dropped_total")
        == sampled
    )
    assert metric(shadowed, "spam_gateway_shadow_scored_total") == 0
    assert shadow_rows(shadowed) == []
    # the staging track itself is down: the shadow's failures never reached a client
    r = httpx.post(shadowed.url + "/predict", json=emails[0], headers=VIEWER, timeout=30)
    assert r.status_code in (503, 504)


def test_the_bound_holds_under_a_burst(make_gateway, hung_staging, corpus_emails, tmp_path) -> None:
    gateway = shadow_gateway(
        make_gateway,
        hung_staging.url,
        tmp_path,
        SHADOW_SAMPLE_RATE=1.0,
        SHADOW_TIMEOUT_S=3.0,
        SHADOW_MAX_INFLIGHT=1,
        SHADOW_MAX_PENDING=5,
    )
    shadow = gateway.app.state.shadow
    seen = {"inflight": 0, "pending": 0}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen["inflight"] = max(seen["inflight"], shadow.inflight)
            seen["pending"] = max(seen["pending"], shadow.stats()["pending"])
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()

    async def burst() -> list[tuple[int, float]]:
        async with httpx.AsyncClient(timeout=30) as client:

            async def one(email) -> tuple[int, float]:
                started = time.perf_counter()
                r = await client.post(gateway.url + "/predict", json=email, headers=PRODUCTION)
                return r.status_code, time.perf_counter() - started

            return await asyncio.gather(*(one(e) for e in corpus_emails[:30]))

    try:
        answers = asyncio.run(burst())
    finally:
        stop.set()
        watcher.join()
    assert [status for status, _ in answers] == [200] * 30
    # the hung staging calls take 3 s each; no production answer waited for one
    assert max(seconds for _, seconds in answers) < 3.0
    assert seen["inflight"] <= 1 and seen["pending"] <= 5
    dropped = metric(gateway, "spam_gateway_shadow_dropped_total")
    assert dropped >= 30 - 1 - 5 - 5  # at most one call and 5 waiting, while the burst lasted
    wait_until(lambda: shadow.inflight == 0 and not shadow.stats()["pending"], 30)
    assert metric(gateway, "spam_gateway_shadow_failed_total") + dropped == 30
    assert metric(gateway, 'spam_gateway_shadow_errors_total{kind="timeout"}') >= 1
    # the operator sees the shadow's settings
    config = httpx.get(gateway.url + "/admin/config", headers=OPERATOR, timeout=10).json()
    assert (config["SHADOW_ENABLED"], config["SHADOW_MAX_INFLIGHT"]) == (True, 1)


def test_the_bytes_bound_holds_for_large_emails(make_gateway, hung_staging, tmp_path) -> None:
    """E-mails waiting for a call are bounded by their size too: with 1 MiB, of four 300 KB
    e-mails sampled while the one call hangs, three wait and the fourth is dropped."""
    gateway = shadow_gateway(
        make_gateway,
        hung_staging.url,
        tmp_path,
        SHADOW_SAMPLE_RATE=1.0,
        SHADOW_TIMEOUT_S=3.0,
        SHADOW_MAX_INFLIGHT=1,
        SHADOW_MAX_PENDING_MB=1,
    )
    shadow = gateway.app.state.shadow
    small = {"email_id": "s", "subject": "hi", "body": "see you", "sender": "a@b.example"}
    assert httpx.post(
        gateway.url + "/predict", json=small, headers=PRODUCTION, timeout=30
    ).is_success
    assert shadow.inflight == 1  # the call hangs for 3 s
    text = "lorem ipsum dolor sit amet " * 11_500  # ~300 KB
    large = [
        {"email_id": f"l{i}", "subject": f"report {i}", "body": text, "sender": "a@b.example"}
        for i in range(4)
    ]
    r = httpx.post(
        gateway.url + "/predict/batch-sync", json={"emails": large}, headers=PRODUCTION, timeout=60
    )
    assert r.status_code == 200 and r.json()["succeeded"] == 4
    assert (shadow.stats()["pending"], shadow.counts["dropped"]) == (3, 1)
    wait_until(lambda: shadow.inflight == 0 and not shadow.stats()["pending"], 30)
    assert metric(gateway, "spam_gateway_shadow_failed_total") == 4  # two calls timed out
    assert metric(gateway, "spam_gateway_shadow_dropped_total") == 1
