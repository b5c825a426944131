"""Rows 1-3 of issue 11: e-mails built to cost (encoded words, deep nesting, many parts) are
refused with a 422 naming the limit, in bounded time, without failing or stalling others."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest

from tests.utils.gateway import VIEWER

pytestmark = pytest.mark.timeout(300)

OK = {"email_id": "ok", "subject": "lunch", "body": "see you at noon", "sender": "a@b.example"}
ENCODED_WORDS = b"Subject: " + b"=?utf-8?q?a?= " * 350_000 + b"\n\nbody\n"  # 4.9 MB, row 1
NESTED = (
    b"".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n".encode() for i in range(600)
    )
    + b"Content-Type: text/plain\n\nx\n"
)  # row 2: RecursionError in the standard library's parser
MANY_PARTS = (
    b"Content-Type: multipart/mixed; boundary=z\n\n"
    + b"--z\nContent-Type: text/plain\n\nhello world\n" * 150_000
    + b"--z--\n"
)  # row 3: 150,000 parts


def _heavy_under_limits() -> str:
    part = b"--z\nContent-Type: text/html\n\n" + b"<p>hi <a href='http://x.example'>x</a></p>" * 250
    return (b"Content-Type: multipart/mixed; boundary=z\n\n" + part * 990 + b"\n--z--\n").decode()


def _predict(url: str, emails: list[dict], timeout: float = 60) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/predict", json={"environment": "production", "emails": emails}, timeout=timeout
    )


@pytest.mark.parametrize(
    ("raw", "limit"),
    [
        (ENCODED_WORDS, "MAX_HEADER_BYTES"),
        (NESTED, "MAX_MIME_DEPTH"),
        (MANY_PARTS, "MAX_MIME_PARTS"),
    ],
    ids=["row1-encoded-words", "row2-nesting", "row3-parts"],
)
def test_transformer_refuses_over_limit_naming_it(transformer, raw: bytes, limit: str) -> None:
    started = time.monotonic()
    r = _predict(transformer.url, [OK, {"email_id": "bad", "raw": raw.decode()}])
    assert time.monotonic() - started < 10
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert limit in error["message"]
    (detail,) = error["details"]
    assert detail["loc"] == ["emails", 1]
    assert detail["type"] == "limit_exceeded" and detail["limit"] == limit
    assert _predict(transformer.url, [OK]).status_code == 200  # the service is fine


def test_row2_one_bad_email_in_a_merged_call_fails_alone(gateway) -> None:
    """Through the gateway: concurrent /predict are merged into one upstream call; the nested
    one is refused (422) and every neighbour is scored (200)."""
    bad = {"email_id": "nested", "raw": NESTED.decode()}

    def one(i: int) -> int:
        body = bad if i == 7 else {**OK, "email_id": f"ok-{i}"}
        return httpx.post(
            f"{gateway.url}/predict", json=body, headers=VIEWER, timeout=60
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(one, range(48)))
    assert statuses[7] == 422
    assert statuses[:7] + statuses[8:] == [200] * 47


def test_row3_heavy_email_does_not_stall_the_others(transformer) -> None:
    """A valid heavy message (990 HTML parts, ~10 MB of text) is parsed in the worker pool;
    small requests meanwhile are still answered quickly."""
    heavy = {"email_id": "heavy", "raw": _heavy_under_limits()}
    started = time.monotonic()
    assert _predict(transformer.url, [heavy]).status_code == 200
    alone = time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        stop = time.monotonic() + max(3.0, 3 * alone)
        heavy_runs = [pool.submit(lambda: [_predict(transformer.url, [heavy]) for _ in range(3)])]
        small = []
        while time.monotonic() < stop and not all(f.done() for f in heavy_runs):
            t0 = time.monotonic()
            assert _predict(transformer.url, [OK]).status_code == 200
            small.append(time.monotonic() - t0)
        for f in heavy_runs:
            assert all(r.status_code == 200 for r in f.result())
    small.sort()
    # the heavy parse takes `alone` seconds; a small request waits far less than that
    assert small and small[len(small) // 2] < max(0.25, alone / 2), (alone, small)
